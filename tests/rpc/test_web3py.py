"""web3.py 8 against a real ``kura dev`` node: deployment, both transaction
types, receipts, blocks, logs, filters, calls, gas estimates and fee data.

One node serves the whole module. The ``scenario`` fixture deploys Probe and
sends one transaction of each kind, and most tests only read what it produced.
Tests that send their own transactions use their own sender accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import rlp
from eth_abi import encode
from eth_bloom import BloomFilter
from eth_typing import BlockNumber, HexStr
from eth_utils import keccak, to_checksum_address
from trie import HexaryTrie
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt, Wei
from web3.utils.address import get_create_address

from tests.rpc.helpers import (
    DEV_ACCOUNT_COUNT,
    DEV_CHAIN_ID,
    call,
    call_error,
    dev_account,
    load_artifact,
    next_base_fee,
    nonce_of,
    post_json,
    sign_dynamic_fee,
    sign_legacy,
    wait_for_receipt,
    web3_client,
)
from tests.support.process import NodeProcess

INITIAL_COUNT = 7
DEPOSIT_WEI = 1_234
TRANSFER_WEI = 10**15
TRANSFER_RECIPIENT = to_checksum_address("0x" + "5a" * 20)
UNUSED_ADDRESS = to_checksum_address("0x" + "77" * 20)
CALL_GAS = 300_000

DEPLOYER = dev_account(0)
LEGACY_SENDER = dev_account(1)
DEPOSITOR = dev_account(2)
PAYER = dev_account(3)
ESTIMATOR = dev_account(4)
FILTER_SENDER = dev_account(5)
PENDING_SENDER = dev_account(6)

INCREMENTED_TOPIC = "0x" + keccak(text="Incremented(address,uint256,uint256)").hex()
DEPOSITED_TOPIC = "0x" + keccak(text="Deposited(address,uint256)").hex()
STEP_TOO_LARGE_SELECTOR = keccak(text="StepTooLarge(uint256,uint256)")[:4]
ERROR_STRING_SELECTOR = keccak(text="Error(string)")[:4]


def address_topic(address: str) -> str:
    return "0x" + bytes.fromhex(address[2:]).rjust(32, b"\0").hex()


def uint_topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


@dataclass
class Scenario:
    w3: Web3
    url: str
    probe: Contract
    deploy: TxReceipt
    increment: TxReceipt
    legacy_increment: TxReceipt
    deposit: TxReceipt
    increment_via_call: TxReceipt
    transfer: TxReceipt
    #: Every signed transaction the scenario sent, by hash.
    raw_transactions: dict[str, HexStr]

    @property
    def receipts(self) -> list[TxReceipt]:
        mined = [
            self.deploy,
            self.increment,
            self.legacy_increment,
            self.deposit,
            self.increment_via_call,
            self.transfer,
        ]
        return sorted(mined, key=lambda r: (r["blockNumber"], r["transactionIndex"]))

    @property
    def first_block(self) -> int:
        return self.receipts[0]["blockNumber"]

    @property
    def last_block(self) -> int:
        return self.receipts[-1]["blockNumber"]

    def raw_logs(self) -> list[dict[str, Any]]:
        """Every log of the scenario as eth_getTransactionReceipt returns it."""
        logs = []
        for receipt in self.receipts:
            logs.extend(call(self.url, "eth_getTransactionReceipt", [receipt["transactionHash"].to_0x_hex()])["logs"])
        return logs


@pytest.fixture(scope="module")
def scenario(shared_node: NodeProcess) -> Scenario:
    """Deploy Probe and send one transaction of each kind; return the receipts."""
    w3 = web3_client(shared_node.url)
    artifact = load_artifact("Probe")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deploy_nonce = w3.eth.get_transaction_count(DEPLOYER.address)
    probe_address = get_create_address(DEPLOYER.address, deploy_nonce)
    probe = w3.eth.contract(address=probe_address, abi=artifact["abi"])

    def calldata(function: Any) -> str:
        return function._encode_transaction_data()

    # Sent back to back so they share one or two blocks. The calls to Probe
    # follow its deployment, so their gas is set, not estimated.
    raw = {
        "deploy": sign_dynamic_fee(
            DEPLOYER, deploy_nonce, to=None, data=factory.constructor(INITIAL_COUNT).data_in_transaction, gas=1_000_000
        ),
        "increment": sign_dynamic_fee(
            DEPLOYER, deploy_nonce + 1, to=probe_address, data=calldata(probe.functions.increment(3)), gas=CALL_GAS
        ),
        "legacy_increment": sign_legacy(
            LEGACY_SENDER,
            w3.eth.get_transaction_count(LEGACY_SENDER.address),
            to=probe_address,
            data=calldata(probe.functions.increment(5)),
            gas=CALL_GAS,
        ),
        "deposit": sign_dynamic_fee(
            DEPOSITOR,
            w3.eth.get_transaction_count(DEPOSITOR.address),
            to=probe_address,
            value=DEPOSIT_WEI,
            data=calldata(probe.functions.deposit()),
            gas=CALL_GAS,
        ),
        "increment_via_call": sign_dynamic_fee(
            DEPOSITOR,
            w3.eth.get_transaction_count(DEPOSITOR.address) + 1,
            to=probe_address,
            data=calldata(probe.functions.incrementViaCall(1)),
            gas=CALL_GAS,
        ),
        "transfer": sign_dynamic_fee(
            PAYER, w3.eth.get_transaction_count(PAYER.address), to=TRANSFER_RECIPIENT, value=TRANSFER_WEI
        ),
    }
    hashes = {name: w3.eth.send_raw_transaction(tx) for name, tx in raw.items()}
    receipts = {
        name: w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.1) for name, h in hashes.items()
    }
    raw_by_hash = {hashes[name].to_0x_hex(): tx for name, tx in raw.items()}
    return Scenario(w3=w3, url=shared_node.url, probe=probe, raw_transactions=raw_by_hash, **receipts)


# Receipts


def test_deploy_receipt_has_contract_address(scenario: Scenario) -> None:
    receipt = scenario.deploy
    assert receipt["status"] == 1
    assert receipt["contractAddress"] == scenario.probe.address
    assert receipt["to"] is None


def test_deployed_code_matches_artifact(scenario: Scenario) -> None:
    code = scenario.w3.eth.get_code(scenario.probe.address)
    assert code.to_0x_hex() == load_artifact("Probe")["deployedBytecode"]


def test_code_absent_before_deployment(scenario: Scenario) -> None:
    before = scenario.deploy["blockNumber"] - 1
    assert scenario.w3.eth.get_code(scenario.probe.address, before) == b""
    assert scenario.w3.eth.get_code(DEPLOYER.address) == b""


def test_dynamic_fee_receipt_fields(scenario: Scenario) -> None:
    receipt = scenario.increment
    block = scenario.w3.eth.get_block(receipt["blockNumber"])
    transaction = scenario.w3.eth.get_transaction(receipt["transactionHash"])

    assert receipt["status"] == 1
    assert receipt["type"] == 2
    assert receipt["from"] == DEPLOYER.address
    assert receipt["to"] == scenario.probe.address
    assert receipt["contractAddress"] is None
    assert 21_000 < receipt["gasUsed"] < CALL_GAS
    expected_price = min(transaction["maxFeePerGas"], block["baseFeePerGas"] + transaction["maxPriorityFeePerGas"])
    assert receipt["effectiveGasPrice"] == expected_price


def test_legacy_transaction_is_eip155(scenario: Scenario) -> None:
    receipt = scenario.legacy_increment
    transaction = scenario.w3.eth.get_transaction(receipt["transactionHash"])

    assert receipt["status"] == 1
    assert receipt["type"] == 0
    assert transaction["type"] == 0
    assert transaction["v"] in (DEV_CHAIN_ID * 2 + 35, DEV_CHAIN_ID * 2 + 36)
    assert receipt["effectiveGasPrice"] == transaction["gasPrice"]


def test_cumulative_gas_adds_up(scenario: Scenario) -> None:
    for number in range(scenario.first_block, scenario.last_block + 1):
        receipts = scenario.w3.eth.get_block_receipts(number)
        total = 0
        for receipt in receipts:
            total += receipt["gasUsed"]
            assert receipt["cumulativeGasUsed"] == total, f"block {number} tx {receipt['transactionIndex']}"
        assert scenario.w3.eth.get_block(number)["gasUsed"] == total


def test_transfer_charges_value_and_fee(scenario: Scenario) -> None:
    receipt = scenario.transfer
    number = receipt["blockNumber"]
    before = scenario.w3.eth.get_balance(PAYER.address, number - 1)
    after = scenario.w3.eth.get_balance(PAYER.address, number)

    assert receipt["gasUsed"] == 21_000
    assert before - after == TRANSFER_WEI + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert scenario.w3.eth.get_balance(TRANSFER_RECIPIENT, number) == TRANSFER_WEI


def test_validator_earns_only_tips(scenario: Scenario) -> None:
    """The base fee is burnt, so the coinbase gets only gasUsed * (effectiveGasPrice - baseFee)."""
    number = scenario.transfer["blockNumber"]
    block = scenario.w3.eth.get_block(number)
    tips = sum(
        r["gasUsed"] * (r["effectiveGasPrice"] - block["baseFeePerGas"])
        for r in scenario.w3.eth.get_block_receipts(number)
    )

    earned = scenario.w3.eth.get_balance(block["miner"], number) - scenario.w3.eth.get_balance(
        block["miner"], number - 1
    )
    assert earned == tips


def test_receipt_events_decode(scenario: Scenario) -> None:
    incremented = scenario.probe.events.Incremented().process_receipt(scenario.increment)
    deposited = scenario.probe.events.Deposited().process_receipt(scenario.deposit)

    assert len(incremented) == 1
    assert incremented[0]["args"]["caller"] == DEPLOYER.address
    assert incremented[0]["args"]["step"] == 3
    assert len(deposited) == 1
    assert deposited[0]["args"]["sender"] == DEPOSITOR.address
    assert deposited[0]["args"]["amount"] == DEPOSIT_WEI


def test_event_totals_follow_mining_order(scenario: Scenario) -> None:
    expected = INITIAL_COUNT
    for receipt in scenario.receipts:
        for event in scenario.probe.events.Incremented().process_receipt(receipt, errors=DISCARD):
            expected += event["args"]["step"]
            assert event["args"]["total"] == expected
    assert scenario.probe.functions.count().call(block_identifier=scenario.last_block) == expected


def test_self_call_event_names_contract(scenario: Scenario) -> None:
    events = scenario.probe.events.Incremented().process_receipt(scenario.increment_via_call)
    assert [event["args"]["caller"] for event in events] == [scenario.probe.address]


def test_logs_bloom_matches_logs(scenario: Scenario) -> None:
    for number in range(scenario.first_block, scenario.last_block + 1):
        block_bloom = BloomFilter()
        for receipt in call(scenario.url, "eth_getBlockReceipts", [hex(number)]):
            bloom = BloomFilter()
            for log in receipt["logs"]:
                bloom.add(bytes.fromhex(log["address"][2:]))
                for topic in log["topics"]:
                    bloom.add(bytes.fromhex(topic[2:]))
            assert receipt["logsBloom"] == "0x" + int(bloom).to_bytes(256, "big").hex(), receipt["transactionHash"]
            block_bloom |= bloom
        block = call(scenario.url, "eth_getBlockByNumber", [hex(number), False])
        assert block["logsBloom"] == "0x" + int(block_bloom).to_bytes(256, "big").hex(), f"block {number}"


def _trie_root(items: list[bytes]) -> str:
    trie = HexaryTrie({})
    for index, item in enumerate(items):
        trie[rlp.encode(index)] = item
    return "0x" + trie.root_hash.hex()


def _encode_receipt(receipt: dict[str, Any]) -> bytes:
    """A receipt as the receipts trie stores it (EIP-2718: type byte, then RLP)."""
    logs = [
        [
            bytes.fromhex(log["address"][2:]),
            [bytes.fromhex(t[2:]) for t in log["topics"]],
            bytes.fromhex(log["data"][2:]),
        ]
        for log in receipt["logs"]
    ]
    body = rlp.encode(
        [
            int(receipt["status"], 16),
            int(receipt["cumulativeGasUsed"], 16),
            bytes.fromhex(receipt["logsBloom"][2:]),
            logs,
        ]
    )
    type_id = int(receipt["type"], 16)
    return body if type_id == 0 else bytes([type_id]) + body


def test_block_roots_match_contents(scenario: Scenario) -> None:
    """transactionsRoot and receiptsRoot recomputed from the signed transactions and the receipts."""
    for number in range(scenario.first_block, scenario.last_block + 1):
        block = call(scenario.url, "eth_getBlockByNumber", [hex(number), False])
        raw = [bytes.fromhex(scenario.raw_transactions[tx_hash][2:]) for tx_hash in block["transactions"]]
        receipts = call(scenario.url, "eth_getBlockReceipts", [hex(number)])

        assert block["transactionsRoot"] == _trie_root(raw), f"block {number}"
        assert block["receiptsRoot"] == _trie_root([_encode_receipt(r) for r in receipts]), f"block {number}"


# Blocks and transactions


def test_block_by_number_and_hash_agree(scenario: Scenario) -> None:
    number = scenario.increment["blockNumber"]
    by_number = scenario.w3.eth.get_block(number)
    by_hash = scenario.w3.eth.get_block(by_number["hash"])

    assert by_number == by_hash
    assert by_number["hash"] == scenario.increment["blockHash"]
    assert scenario.increment["transactionHash"] in by_number["transactions"]
    assert by_number["parentHash"] == scenario.w3.eth.get_block(number - 1)["hash"]


def test_block_with_full_transactions(scenario: Scenario) -> None:
    receipt = scenario.legacy_increment
    block = scenario.w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    transaction: Any = block["transactions"][receipt["transactionIndex"]]

    assert transaction["hash"] == receipt["transactionHash"]
    assert transaction["from"] == LEGACY_SENDER.address
    assert transaction["blockHash"] == block["hash"]
    assert transaction["blockNumber"] == block["number"]


def test_earliest_block_is_genesis(scenario: Scenario) -> None:
    genesis = scenario.w3.eth.get_block("earliest")
    assert genesis["number"] == 0
    assert genesis["parentHash"] == b"\0" * 32
    assert genesis == scenario.w3.eth.get_block(0)


def test_safe_and_finalized_are_head(scenario: Scenario) -> None:
    """Every committed block is final under BFT, so safe and finalized are the head."""
    status, responses = _batch(
        scenario.url,
        [("eth_getBlockByNumber", [tag, False]) for tag in ("latest", "safe", "finalized", "latest")],
    )
    numbers = [int(response["result"]["number"], 16) for response in responses]
    assert numbers[0] <= numbers[1] <= numbers[3]
    assert numbers[0] <= numbers[2] <= numbers[3]


def test_pending_block_not_behind_latest(scenario: Scenario) -> None:
    latest = scenario.w3.eth.get_block("latest")["number"]
    pending = scenario.w3.eth.get_block("pending")
    assert pending is not None
    assert pending["number"] >= latest


def test_unknown_block_is_none(scenario: Scenario) -> None:
    assert call(scenario.url, "eth_getBlockByHash", ["0x" + "12" * 32, False]) is None
    assert call(scenario.url, "eth_getBlockByNumber", [hex(scenario.last_block + 10_000), False]) is None


def test_transaction_lookups_agree(scenario: Scenario) -> None:
    receipt = scenario.deposit
    by_hash = scenario.w3.eth.get_transaction(receipt["transactionHash"])
    by_block_hash = scenario.w3.eth.get_transaction_by_block(receipt["blockHash"], receipt["transactionIndex"])
    by_block_number = scenario.w3.eth.get_transaction_by_block(receipt["blockNumber"], receipt["transactionIndex"])

    assert by_hash == by_block_hash
    assert by_hash == by_block_number
    assert by_hash["value"] == DEPOSIT_WEI
    assert by_hash["to"] == scenario.probe.address
    assert by_hash["blockNumber"] == receipt["blockNumber"]


def test_transaction_count_by_block(scenario: Scenario) -> None:
    receipt = scenario.transfer
    block = scenario.w3.eth.get_block(receipt["blockNumber"])
    assert scenario.w3.eth.get_block_transaction_count(receipt["blockNumber"]) == len(block["transactions"])
    assert scenario.w3.eth.get_block_transaction_count(receipt["blockHash"]) == len(block["transactions"])


def test_index_past_last_transaction_is_none(scenario: Scenario) -> None:
    block = scenario.w3.eth.get_block(scenario.last_block)
    index = hex(len(block["transactions"]))
    assert call(scenario.url, "eth_getTransactionByBlockNumberAndIndex", [hex(scenario.last_block), index]) is None


@pytest.mark.parametrize("selector", ["number", "hash", "tag"])
def test_block_receipts_match_single_receipts(scenario: Scenario, selector: str) -> None:
    receipt = scenario.increment
    number = receipt["blockNumber"]
    block_id: Any = {"number": hex(number), "hash": receipt["blockHash"].to_0x_hex(), "tag": "earliest"}[selector]
    block_receipts = call(scenario.url, "eth_getBlockReceipts", [block_id])

    if selector == "tag":
        assert block_receipts == []
        return
    singles = [
        call(scenario.url, "eth_getTransactionReceipt", [tx_hash.to_0x_hex()])
        for tx_hash in scenario.w3.eth.get_block(number)["transactions"]
        if isinstance(tx_hash, bytes)
    ]
    assert block_receipts == singles


# State reads and EIP-1898 block parameters


def test_storage_slots_hold_count_and_owner(scenario: Scenario) -> None:
    probe = scenario.probe.address
    block = scenario.last_block
    count = scenario.probe.functions.count().call(block_identifier=block)
    slot0 = call(scenario.url, "eth_getStorageAt", [probe, "0x" + "00" * 32, hex(block)])
    slot1 = call(scenario.url, "eth_getStorageAt", [probe, "0x" + "00" * 31 + "01", hex(block)])

    assert int(slot0, 16) == count
    assert slot1 == address_topic(DEPLOYER.address).lower()


def test_storage_slot_as_quantity(scenario: Scenario) -> None:
    """web3.py sends the slot as a quantity ("0x0"), and geth accepts odd-length hex for it."""
    value = scenario.w3.eth.get_storage_at(scenario.probe.address, 0, scenario.last_block)
    assert int.from_bytes(value, "big") == scenario.probe.functions.count().call(block_identifier=scenario.last_block)


def _block_parameters(scenario: Scenario, number: int) -> dict[str, Any]:
    block_hash = scenario.w3.eth.get_block(number)["hash"].to_0x_hex()
    return {
        "number": hex(number),
        "blockNumber object": {"blockNumber": hex(number)},
        "blockHash object": {"blockHash": block_hash},
        "canonical blockHash object": {"blockHash": block_hash, "requireCanonical": True},
    }


@pytest.mark.parametrize("form", ["number", "blockNumber object", "blockHash object", "canonical blockHash object"])
def test_eip1898_block_parameter(scenario: Scenario, form: str) -> None:
    number = scenario.deploy["blockNumber"]
    block = _block_parameters(scenario, number)[form]
    count_call = {"to": scenario.probe.address, "data": scenario.probe.functions.count()._encode_transaction_data()}
    expected_balance = scenario.w3.eth.get_balance(DEPLOYER.address, number)

    assert int(call(scenario.url, "eth_getBalance", [DEPLOYER.address, block]), 16) == expected_balance
    assert int(call(scenario.url, "eth_getTransactionCount", [DEPLOYER.address, block]), 16) == nonce_of(
        scenario.url, DEPLOYER.address, hex(number)
    )
    assert (
        call(scenario.url, "eth_getCode", [scenario.probe.address, block]) == load_artifact("Probe")["deployedBytecode"]
    )
    assert int(call(scenario.url, "eth_call", [count_call, block]), 16) == scenario.probe.functions.count().call(
        block_identifier=number
    )


def test_unknown_block_hash_object_is_error(scenario: Scenario) -> None:
    error = call_error(scenario.url, "eth_getBalance", [DEPLOYER.address, {"blockHash": "0x" + "34" * 32}])
    assert error["code"] in (-32000, -32001)
    assert "not found" in error["message"]


def test_historical_call_sees_old_state(scenario: Scenario) -> None:
    data = scenario.probe.functions.scaledCount(2)._encode_transaction_data()
    before_deploy = hex(scenario.deploy["blockNumber"] - 1)
    at_last = hex(scenario.last_block)

    assert call(scenario.url, "eth_call", [{"to": scenario.probe.address, "data": data}, before_deploy]) == "0x"
    scaled = int(call(scenario.url, "eth_call", [{"to": scenario.probe.address, "data": data}, at_last]), 16)
    assert scaled == 2 * scenario.probe.functions.count().call(block_identifier=scenario.last_block)


# Calls, reverts and gas estimates


def test_view_call(scenario: Scenario) -> None:
    assert scenario.probe.functions.MAX_STEP().call() == 100
    assert scenario.probe.functions.owner().call() == DEPLOYER.address
    assert scenario.probe.functions.deposits(DEPOSITOR.address).call() == DEPOSIT_WEI


def test_call_revert_reason_string(scenario: Scenario) -> None:
    with pytest.raises(ContractLogicError) as raised:
        scenario.probe.functions.increment(0).call({"from": ESTIMATOR.address})
    assert raised.value.message == "execution reverted: Probe: step is zero"


def test_call_revert_raw_error(scenario: Scenario) -> None:
    data = scenario.probe.functions.increment(0)._encode_transaction_data()
    error = call_error(
        scenario.url, "eth_call", [{"from": ESTIMATOR.address, "to": scenario.probe.address, "data": data}]
    )

    assert error["code"] == 3
    assert error["message"] == "execution reverted: Probe: step is zero"
    assert error["data"] == "0x" + (ERROR_STRING_SELECTOR + encode(["string"], ["Probe: step is zero"])).hex()


def test_call_custom_error_data(scenario: Scenario) -> None:
    expected = "0x" + (STEP_TOO_LARGE_SELECTOR + encode(["uint256", "uint256"], [1_000, 100])).hex()
    with pytest.raises(ContractCustomError) as raised:
        scenario.probe.functions.increment(1_000).call({"from": ESTIMATOR.address})
    assert raised.value.data == expected

    data = scenario.probe.functions.increment(1_000)._encode_transaction_data()
    error = call_error(scenario.url, "eth_call", [{"to": scenario.probe.address, "data": data}])
    assert error["code"] == 3
    assert error["message"] == "execution reverted"
    assert error["data"] == expected


def test_estimate_gas_revert_reason(scenario: Scenario) -> None:
    data = scenario.probe.functions.increment(0)._encode_transaction_data()
    error = call_error(
        scenario.url, "eth_estimateGas", [{"from": ESTIMATOR.address, "to": scenario.probe.address, "data": data}]
    )

    assert error["code"] == 3
    assert error["message"] == "execution reverted: Probe: step is zero"
    assert error["data"] == "0x" + (ERROR_STRING_SELECTOR + encode(["string"], ["Probe: step is zero"])).hex()


def test_estimate_gas_custom_error(scenario: Scenario) -> None:
    with pytest.raises(ContractCustomError) as raised:
        scenario.probe.functions.increment(101).estimate_gas({"from": ESTIMATOR.address})
    assert raised.value.data == "0x" + (STEP_TOO_LARGE_SELECTOR + encode(["uint256", "uint256"], [101, 100])).hex()


def test_estimate_gas_for_transfer(scenario: Scenario) -> None:
    assert scenario.w3.eth.estimate_gas({"from": ESTIMATOR.address, "to": UNUSED_ADDRESS, "value": Wei(1)}) == 21_000


def test_estimates_are_enough_and_tight(scenario: Scenario) -> None:
    """Send each call with exactly its estimate: it must succeed and use most of it.

    churnViaCall needs a limit above its gas used, because a call forwards only
    63/64 of the remaining gas (EIP-150). An estimate of the gas used alone
    would run out of gas.
    """
    w3 = scenario.w3
    probe = scenario.probe
    # The three calls write different storage slots, so estimating all of them
    # on the head state, before any is mined, matches the state each runs on.
    calls = {
        "increment": probe.functions.increment(4),
        "churnViaCall": probe.functions.churnViaCall(200),
        "deposit": probe.functions.deposit(),
    }
    nonce = w3.eth.get_transaction_count(ESTIMATOR.address)
    estimates = {}
    hashes = {}
    for offset, (name, function) in enumerate(calls.items()):
        value = Wei(5 if name == "deposit" else 0)
        estimates[name] = function.estimate_gas({"from": ESTIMATOR.address, "value": value})
        raw = sign_dynamic_fee(
            ESTIMATOR,
            nonce + offset,
            to=probe.address,
            value=value,
            data=function._encode_transaction_data(),
            gas=estimates[name],
        )
        hashes[name] = w3.eth.send_raw_transaction(raw)

    receipts = {
        name: w3.eth.wait_for_transaction_receipt(h, timeout=30, poll_latency=0.1) for name, h in hashes.items()
    }
    for name, receipt in receipts.items():
        assert receipt["status"] == 1, f"{name} failed with gas {estimates[name]}"
        assert receipt["gasUsed"] <= estimates[name], name
        assert estimates[name] <= receipt["gasUsed"] * 1.1, (
            f"{name}: estimate {estimates[name]}, used {receipt['gasUsed']}"
        )
    assert estimates["churnViaCall"] > receipts["churnViaCall"]["gasUsed"]


def test_deployment_estimate_is_enough(scenario: Scenario) -> None:
    w3 = scenario.w3
    artifact = load_artifact("Probe")
    data = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"]).constructor(1).data_in_transaction
    estimate = w3.eth.estimate_gas({"from": ESTIMATOR.address, "data": data})
    nonce = w3.eth.get_transaction_count(ESTIMATOR.address)

    tx_hash = w3.eth.send_raw_transaction(sign_dynamic_fee(ESTIMATOR, nonce, to=None, data=data, gas=estimate))
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)

    assert receipt["status"] == 1
    assert receipt["contractAddress"] == get_create_address(ESTIMATOR.address, nonce)
    assert w3.eth.get_code(receipt["contractAddress"]).to_0x_hex() == artifact["deployedBytecode"]
    assert estimate <= receipt["gasUsed"] * 1.1, f"estimate {estimate}, used {receipt['gasUsed']}"


def test_call_with_too_little_gas_fails(scenario: Scenario) -> None:
    data = scenario.probe.functions.churn(200)._encode_transaction_data()
    error = call_error(scenario.url, "eth_call", [{"to": scenario.probe.address, "data": data, "gas": hex(30_000)}])
    assert error["code"] == -32000
    assert "out of gas" in error["message"]


# Logs and filters


def _log_key(log: dict[str, Any]) -> tuple[str, str]:
    return (log["transactionHash"], log["logIndex"])


LOG_QUERIES: dict[str, tuple[dict[str, Any], Any]] = {
    # name: (filter fields besides the block range, predicate over (address, topics))
    "address": ({"address": "PROBE"}, lambda a, t: True),
    "address list": ({"address": ["PROBE", UNUSED_ADDRESS]}, lambda a, t: True),
    "other address": ({"address": UNUSED_ADDRESS}, lambda a, t: False),
    "topic0": ({"topics": [INCREMENTED_TOPIC]}, lambda a, t: t[0] == INCREMENTED_TOPIC),
    "topic0 OR": (
        {"topics": [[INCREMENTED_TOPIC, DEPOSITED_TOPIC]]},
        lambda a, t: t[0] in (INCREMENTED_TOPIC, DEPOSITED_TOPIC),
    ),
    "topic0 and caller": (
        {"topics": [INCREMENTED_TOPIC, address_topic(DEPLOYER.address).lower()]},
        lambda a, t: t[0] == INCREMENTED_TOPIC and t[1] == address_topic(DEPLOYER.address).lower(),
    ),
    "null then OR": (
        {"topics": [None, [address_topic(DEPLOYER.address).lower(), address_topic(LEGACY_SENDER.address).lower()]]},
        lambda a, t: (
            len(t) > 1
            and t[1] in (address_topic(DEPLOYER.address).lower(), address_topic(LEGACY_SENDER.address).lower())
        ),
    ),
    "null in the middle": (
        {"topics": [INCREMENTED_TOPIC, None, uint_topic(INITIAL_COUNT + 3)]},
        lambda a, t: t[0] == INCREMENTED_TOPIC and t[2] == uint_topic(INITIAL_COUNT + 3),
    ),
    "depositor": (
        {"topics": [DEPOSITED_TOPIC, address_topic(DEPOSITOR.address).lower()]},
        lambda a, t: t[0] == DEPOSITED_TOPIC and t[1] == address_topic(DEPOSITOR.address).lower(),
    ),
    "too many positions": (
        {"topics": [INCREMENTED_TOPIC, None, None, None]},
        lambda a, t: False,
    ),
}


@pytest.mark.parametrize("name", list(LOG_QUERIES))
def test_get_logs_filters(scenario: Scenario, name: str) -> None:
    fields, predicate = LOG_QUERIES[name]
    query: dict[str, Any] = {"fromBlock": hex(scenario.first_block), "toBlock": hex(scenario.last_block)}
    for key, value in fields.items():
        if value == "PROBE":
            value = scenario.probe.address
        elif isinstance(value, list):
            value = [scenario.probe.address if item == "PROBE" else item for item in value]
        query[key] = value

    logs = call(scenario.url, "eth_getLogs", [query])
    expected = [log for log in scenario.raw_logs() if predicate(log["address"], log["topics"])]

    assert sorted(map(_log_key, logs)) == sorted(map(_log_key, expected))
    assert logs == sorted(logs, key=lambda log: (int(log["blockNumber"], 16), int(log["logIndex"], 16)))


def test_get_logs_match_receipt_logs(scenario: Scenario) -> None:
    query = {
        "fromBlock": hex(scenario.first_block),
        "toBlock": hex(scenario.last_block),
        "address": scenario.probe.address,
    }
    assert call(scenario.url, "eth_getLogs", [query]) == scenario.raw_logs()


def test_get_logs_by_block_hash(scenario: Scenario) -> None:
    receipt = scenario.increment
    logs = call(scenario.url, "eth_getLogs", [{"blockHash": receipt["blockHash"].to_0x_hex()}])
    in_block = [log for log in scenario.raw_logs() if log["blockHash"] == receipt["blockHash"].to_0x_hex()]

    assert logs == in_block
    assert logs


def test_get_logs_decode_with_web3(scenario: Scenario) -> None:
    logs = scenario.w3.eth.get_logs(
        {"fromBlock": scenario.first_block, "toBlock": scenario.last_block, "topics": [DEPOSITED_TOPIC]}
    )
    events = [scenario.probe.events.Deposited().process_log(log) for log in logs]
    assert [(e["args"]["sender"], e["args"]["amount"]) for e in events] == [(DEPOSITOR.address, DEPOSIT_WEI)]


def _send_increment(scenario: Scenario, step: int) -> dict[str, Any]:
    data = scenario.probe.functions.increment(step)._encode_transaction_data()
    raw = sign_dynamic_fee(
        FILTER_SENDER, nonce_of(scenario.url, FILTER_SENDER.address), to=scenario.probe.address, data=data, gas=CALL_GAS
    )
    return wait_for_receipt(scenario.url, call(scenario.url, "eth_sendRawTransaction", [raw]))


def test_filters_report_new_logs_and_blocks(scenario: Scenario) -> None:
    url = scenario.url
    log_filter = call(url, "eth_newFilter", [{"address": scenario.probe.address, "topics": [INCREMENTED_TOPIC]}])
    block_filter = call(url, "eth_newBlockFilter")

    receipt = _send_increment(scenario, 2)
    log_changes = call(url, "eth_getFilterChanges", [log_filter])
    block_changes = call(url, "eth_getFilterChanges", [block_filter])

    assert [log["transactionHash"] for log in log_changes] == [receipt["transactionHash"]]
    assert log_changes == receipt["logs"]
    assert receipt["blockHash"] in block_changes
    assert call(url, "eth_getFilterChanges", [log_filter]) == []
    assert call(url, "eth_getFilterLogs", [log_filter])[-1] == receipt["logs"][0]

    assert call(url, "eth_uninstallFilter", [log_filter]) is True
    assert call(url, "eth_uninstallFilter", [log_filter]) is False
    assert call(url, "eth_uninstallFilter", [block_filter]) is True
    error = call_error(url, "eth_getFilterChanges", [log_filter])
    assert error["message"] == "filter not found"


def test_new_filter_skips_logs_before_install(scenario: Scenario) -> None:
    """geth's eth_getFilterChanges reports only logs of blocks imported after the filter was installed."""
    earlier = _send_increment(scenario, 1)
    log_filter = call(scenario.url, "eth_newFilter", [{"address": scenario.probe.address}])
    changes = call(scenario.url, "eth_getFilterChanges", [log_filter])
    assert earlier["transactionHash"] not in [log["transactionHash"] for log in changes]


def test_filter_logs_for_fixed_range(scenario: Scenario) -> None:
    query = {"fromBlock": hex(scenario.first_block), "toBlock": hex(scenario.last_block), "topics": [INCREMENTED_TOPIC]}
    log_filter = call(scenario.url, "eth_newFilter", [query])
    assert call(scenario.url, "eth_getFilterLogs", [log_filter]) == call(scenario.url, "eth_getLogs", [query])


def test_web3_filter_objects(scenario: Scenario) -> None:
    event_filter = scenario.w3.eth.filter(
        {"address": scenario.probe.address, "fromBlock": scenario.first_block, "toBlock": scenario.last_block}
    )
    entries = event_filter.get_all_entries()
    assert len(entries) == len(scenario.raw_logs())
    assert event_filter.filter_id is not None
    assert scenario.w3.eth.uninstall_filter(event_filter.filter_id) is True


# Nonces and the pool


def test_pending_nonce_counts_pooled_transactions(scenario: Scenario) -> None:
    """Send and read both nonces in one batch, and retry if a block lands in between."""
    for _ in range(5):
        latest = nonce_of(scenario.url, PENDING_SENDER.address)
        raw = sign_dynamic_fee(PENDING_SENDER, latest, to=UNUSED_ADDRESS, value=1)
        _, responses = _batch(
            scenario.url,
            [
                ("eth_sendRawTransaction", [raw]),
                ("eth_getTransactionCount", [PENDING_SENDER.address, "pending"]),
                ("eth_getTransactionCount", [PENDING_SENDER.address, "latest"]),
            ],
        )
        sent, pending, latest_after = (response.get("result", "") for response in responses)
        assert sent is not None, responses[0]
        wait_for_receipt(scenario.url, sent)
        if int(latest_after, 16) == latest:
            assert int(pending, 16) == latest + 1
            return
    pytest.fail("every attempt was mined before the nonces were read")


def test_pending_transaction_lookup(scenario: Scenario) -> None:
    """A queued transaction (nonce gap) is returned by hash with no block yet."""
    nonce = nonce_of(scenario.url, PENDING_SENDER.address)
    raw = sign_dynamic_fee(PENDING_SENDER, nonce + 1, to=UNUSED_ADDRESS, value=2)
    tx_hash = call(scenario.url, "eth_sendRawTransaction", [raw])
    pooled = call(scenario.url, "eth_getTransactionByHash", [tx_hash])

    assert pooled["hash"] == tx_hash
    assert pooled["blockNumber"] is None
    assert pooled["blockHash"] is None
    assert call(scenario.url, "eth_getTransactionReceipt", [tx_hash]) is None

    # Fill the gap so the module leaves no queued transaction behind.
    wait_for_receipt(
        scenario.url,
        call(
            scenario.url,
            "eth_sendRawTransaction",
            [sign_dynamic_fee(PENDING_SENDER, nonce, to=UNUSED_ADDRESS, value=2)],
        ),
    )
    assert wait_for_receipt(scenario.url, tx_hash)["status"] == "0x1"


# Fees


def test_fee_history_matches_blocks(scenario: Scenario) -> None:
    newest = scenario.last_block
    count = newest - scenario.first_block + 2
    percentiles = [0.0, 50.0, 100.0]
    history = scenario.w3.eth.fee_history(count, BlockNumber(newest), percentiles)
    blocks = [scenario.w3.eth.get_block(n) for n in range(newest - count + 1, newest + 1)]

    assert history["oldestBlock"] == blocks[0]["number"]
    assert history["baseFeePerGas"][:-1] == [block["baseFeePerGas"] for block in blocks]
    assert history["baseFeePerGas"][-1] == next_base_fee(
        blocks[-1]["gasLimit"], blocks[-1]["gasUsed"], blocks[-1]["baseFeePerGas"]
    )
    assert history["gasUsedRatio"] == [block["gasUsed"] / block["gasLimit"] for block in blocks]
    assert history["reward"] == [_expected_rewards(scenario.w3, block, percentiles) for block in blocks]


def _expected_rewards(w3: Web3, block: Any, percentiles: list[float]) -> list[int]:
    """Tips at gas-weighted percentiles, as geth's eth_feeHistory computes them."""
    receipts = w3.eth.get_block_receipts(block["number"])
    if not receipts:
        return [0] * len(percentiles)
    entries = sorted((r["effectiveGasPrice"] - block["baseFeePerGas"], r["gasUsed"]) for r in receipts)
    rewards = []
    index = 0
    cumulative = entries[0][1]
    for percentile in percentiles:
        threshold = block["gasUsed"] * percentile / 100
        while cumulative < threshold and index < len(entries) - 1:
            index += 1
            cumulative += entries[index][1]
        rewards.append(entries[index][0])
    return rewards


def test_fee_history_without_percentiles(scenario: Scenario) -> None:
    history = call(scenario.url, "eth_feeHistory", ["0x2", "latest"])
    assert "reward" not in history
    assert len(history["baseFeePerGas"]) == 3
    assert len(history["gasUsedRatio"]) == 2


def test_gas_price_is_next_base_fee_plus_tip(scenario: Scenario) -> None:
    for _ in range(5):
        _, responses = _batch(
            scenario.url,
            [
                ("eth_getBlockByNumber", ["latest", False]),
                ("eth_gasPrice", []),
                ("eth_maxPriorityFeePerGas", []),
                ("eth_getBlockByNumber", ["latest", False]),
            ],
        )
        head, gas_price, tip, head_again = (response["result"] for response in responses)
        if head["hash"] != head_again["hash"]:
            continue
        base = next_base_fee(int(head["gasLimit"], 16), int(head["gasUsed"], 16), int(head["baseFeePerGas"], 16))
        assert int(gas_price, 16) == base + int(tip, 16)
        return
    pytest.fail("a block landed during every attempt")


def test_max_priority_fee_within_paid_tips(scenario: Scenario) -> None:
    tip = scenario.w3.eth.max_priority_fee
    head = scenario.w3.eth.block_number
    paid: list[int] = []
    for number in range(max(0, head - 19), head + 1):
        block = scenario.w3.eth.get_block(number)
        paid.extend(r["effectiveGasPrice"] - block["baseFeePerGas"] for r in scenario.w3.eth.get_block_receipts(number))
    assert tip >= 1
    assert tip <= max(paid, default=1)


def test_base_fee_positive(scenario: Scenario) -> None:
    assert scenario.w3.eth.get_block("latest")["baseFeePerGas"] > 0


# Other namespaces


def test_web3_sha3(scenario: Scenario) -> None:
    assert call(scenario.url, "web3_sha3", ["0x68656c6c6f"]) == "0x" + keccak(b"hello").hex()
    assert call(scenario.url, "web3_sha3", ["0x"]) == "0x" + keccak(b"").hex()


def test_net_version_and_chain_id(scenario: Scenario) -> None:
    assert scenario.w3.net.version == str(DEV_CHAIN_ID)
    assert scenario.w3.eth.chain_id == DEV_CHAIN_ID


def test_not_syncing(scenario: Scenario) -> None:
    assert scenario.w3.eth.syncing is False


def test_accounts_are_dev_accounts(scenario: Scenario) -> None:
    assert scenario.w3.eth.accounts == [dev_account(i).address for i in range(DEV_ACCOUNT_COUNT)]


def test_client_version_names_kura(scenario: Scenario) -> None:
    assert scenario.w3.client_version.startswith("Kura/")


def _batch(url: str, calls: list[tuple[str, list[Any]]]) -> tuple[int, list[dict[str, Any]]]:
    payload = [
        {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
        for index, (method, params) in enumerate(calls)
    ]
    status, responses = post_json(url, payload)
    assert status == 200
    assert isinstance(responses, list)
    return status, sorted(responses, key=lambda response: response["id"])

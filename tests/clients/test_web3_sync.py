"""web3.py's synchronous client over HTTP, as an exchange's hot wallet uses it: connect, read the
chain id, deploy a contract, transfer ether, wait for receipts, decode events and handle reverts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from tests.rpc.helpers import DEV_CHAIN_ID, GWEI, dev_account, load_artifact, web3_client
from tests.support.process import NodeProcess

INITIAL_COUNT = 7
#: Dev accounts this module sends from, one per test that sends.
DEPLOYER, SENDER, INCREMENTER, REVERTER = 0, 1, 2, 3


def send(w3: Web3, account: LocalAccount, fields: dict[str, Any]) -> TxReceipt:
    """Sign ``fields`` as an EIP-1559 transaction from ``account``, send it and wait for its receipt."""
    transaction = {
        "chainId": DEV_CHAIN_ID,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "maxFeePerGas": 10 * GWEI,
        "maxPriorityFeePerGas": GWEI,
        **fields,
    }
    if "gas" not in transaction:
        transaction["gas"] = w3.eth.estimate_gas({**transaction, "from": account.address})
    signed = account.sign_transaction(transaction)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.2)


@pytest.fixture(scope="module")
def w3(shared_node: NodeProcess) -> Iterator[Web3]:
    yield web3_client(shared_node.url)


@pytest.fixture(scope="module")
def deployment(w3: Web3) -> tuple[Contract, TxReceipt]:
    artifact = load_artifact("Probe")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deployer = dev_account(DEPLOYER)
    data = factory.constructor(INITIAL_COUNT).build_transaction({"from": deployer.address, "gas": 2_000_000})["data"]
    receipt = send(w3, deployer, {"data": data, "gas": 2_000_000})
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]), receipt


def test_connects_to_dev_chain(w3: Web3) -> None:
    assert w3.is_connected()
    assert w3.eth.chain_id == DEV_CHAIN_ID
    assert w3.eth.block_number >= 0


def test_deployment(w3: Web3, deployment: tuple[Contract, TxReceipt]) -> None:
    probe, receipt = deployment
    assert receipt["status"] == 1
    assert receipt["contractAddress"] == probe.address
    assert w3.eth.get_code(probe.address).to_0x_hex() == load_artifact("Probe")["deployedBytecode"]
    assert probe.functions.count().call() == INITIAL_COUNT


def test_ether_transfer(w3: Web3) -> None:
    sender = dev_account(SENDER)
    deposit_address = w3.eth.account.create().address
    value = 12_345 * GWEI
    balance_before = w3.eth.get_balance(sender.address)

    receipt = send(w3, sender, {"to": deposit_address, "value": value, "gas": 21_000})

    assert receipt["status"] == 1
    assert w3.eth.get_balance(deposit_address) == value
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(sender.address, receipt["blockNumber"]) == balance_before - value - fee
    transaction = w3.eth.get_transaction(receipt["transactionHash"])
    assert transaction["to"] == deposit_address
    assert transaction["value"] == value


def test_event_decoded(w3: Web3, deployment: tuple[Contract, TxReceipt]) -> None:
    probe, deploy_receipt = deployment
    account = dev_account(INCREMENTER)
    data = probe.functions.increment(3)._encode_transaction_data()
    receipt = send(w3, account, {"to": probe.address, "data": data})

    (event,) = probe.events.Incremented().process_receipt(receipt)
    assert event["event"] == "Incremented"
    assert event["args"]["caller"] == account.address
    assert event["args"]["step"] == 3
    assert event["args"]["total"] == probe.functions.count().call(block_identifier=receipt["blockNumber"])

    logs = probe.events.Incremented().get_logs(
        from_block=deploy_receipt["blockNumber"], argument_filters={"caller": account.address}
    )
    assert [log["transactionHash"] for log in logs] == [receipt["transactionHash"]]


def test_revert_reason(deployment: tuple[Contract, TxReceipt]) -> None:
    probe, _receipt = deployment
    with pytest.raises(ContractLogicError) as reverted:
        probe.functions.increment(0).call()
    assert reverted.value.message == "execution reverted: Probe: step is zero"


def test_custom_error(deployment: tuple[Contract, TxReceipt]) -> None:
    probe, _receipt = deployment
    with pytest.raises(ContractCustomError) as reverted:
        probe.functions.increment(1_000).call()
    selector = Web3.keccak(text="StepTooLarge(uint256,uint256)")[:4].to_0x_hex()
    assert isinstance(reverted.value.data, str)
    assert reverted.value.data.startswith(selector)
    assert int(reverted.value.data[10:74], 16) == 1_000


def test_reverted_transaction_receipt(w3: Web3, deployment: tuple[Contract, TxReceipt]) -> None:
    probe, _receipt = deployment
    account = dev_account(REVERTER)
    data = probe.functions.increment(0)._encode_transaction_data()
    # An explicit gas limit skips estimation, which would raise before sending.
    receipt = send(w3, account, {"to": probe.address, "data": data, "gas": 100_000})
    assert receipt["status"] == 0
    assert receipt["logs"] == []

"""The untimed setup: token deployment, sender funding, pre-signed transfers and the final balance check."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from kura_bench.rpc import BenchError, RpcClient

TOKEN_ARTEFACT = Path(__file__).resolve().parents[1] / "BenchToken.json"
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: Dev account that deploys the token and so owns its whole supply.
DEPLOYER_INDEX = 0
#: Dev accounts that fund the bench senders with ETH.
ETH_FUNDER_INDEXES = tuple(range(1, 11))

TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
BALANCE_OF_SELECTOR = bytes.fromhex("70a08231")
TOTAL_SUPPLY_SELECTOR = bytes.fromhex("18160ddd")

#: Token units each sender receives; each transfer moves 1 to 7 units.
TOKENS_PER_SENDER = 10**21
ETH_PER_SENDER = 10**18
#: Gas limit of one transfer. A transfer to a fresh recipient uses about 51,500
#: gas (OpenZeppelin 5.4). kura adds a transaction to a block only while its
#: gas limit fits in the gas left, so this limit also caps transfers per block.
TRANSFER_GAS = 60_000
DEPLOY_GAS = 3_000_000
FUNDING_TOKEN_GAS = 100_000
PRIORITY_FEE = 10**9
#: Setup sends at most this many transactions per sender before waiting for
#: them, to stay under kura's pool limit of 256 transactions per sender.
MAX_TXS_PER_SENDER_PER_WAVE = 200
SETUP_BATCH = 100
SETUP_TIMEOUT_S = 180.0


@dataclass
class SignedTx:
    sender: bytes
    nonce: int
    raw: str
    hash: str


@dataclass
class Workload:
    """The pre-signed transfers and the token balances they must leave behind."""

    token: bytes
    supply: int
    senders: list[bytes]
    recipients: list[bytes]
    transfers: list[SignedTx]
    expected_balances: dict[bytes, int]


def dev_keys(count: int) -> list[bytes]:
    """Private keys of the first ``count`` accounts of the public dev mnemonic (kura dev and Hardhat share it)."""
    Account.enable_unaudited_hdwallet_features()
    return [
        bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key) for index in range(count)
    ]


def bench_key(index: int) -> bytes:
    """Deterministic private key of bench sender ``index``; public, so fund it only on a bench node."""
    return keccak(f"kura-bench-sender-{index}".encode())


def recipient_address(index: int) -> bytes:
    return keccak(f"kura-bench-recipient-{index}".encode())[12:]


def unused_address(index: int) -> bytes:
    """An address that never owns tokens in the benchmark."""
    return keccak(f"kura-bench-unused-{index}".encode())[12:]


def address_of(key: bytes) -> bytes:
    return bytes.fromhex(Account.from_key(key).address[2:])


def word(value: int | bytes) -> bytes:
    """Encode an unsigned integer or a left-padded address as one 32-byte ABI word."""
    if isinstance(value, bytes):
        return value.rjust(32, b"\0")
    return value.to_bytes(32, "big")


def transfer_data(to: bytes, amount: int) -> bytes:
    return TRANSFER_SELECTOR + word(to) + word(amount)


def balance_of_data(holder: bytes) -> str:
    return "0x" + (BALANCE_OF_SELECTOR + word(holder)).hex()


def sign(
    key: bytes, chain_id: int, nonce: int, to: bytes | None, data: bytes, *, gas: int, value: int = 0, max_fee: int
) -> SignedTx:
    """Sign an EIP-1559 transaction; ``to=None`` deploys a contract."""
    transaction: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": PRIORITY_FEE,
        "value": value,
        "data": data,
    }
    if to is not None:
        transaction["to"] = to_checksum_address(to)
    signed = Account.sign_transaction(transaction, key)
    return SignedTx(address_of(key), nonce, "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex())


def send_and_confirm(client: RpcClient, transactions: list[SignedTx], what: str) -> list[dict[str, Any]]:
    """Send ``transactions`` in waves under the pool's per-sender limit; return their receipts in order.

    Raises BenchError when a transaction is rejected, reverts or is not
    mined within SETUP_TIMEOUT_S.
    """
    by_sender: dict[bytes, list[SignedTx]] = defaultdict(list)
    for transaction in transactions:
        by_sender[transaction.sender].append(transaction)
    waves: list[list[SignedTx]] = []
    for queue in by_sender.values():
        for wave_index, start in enumerate(range(0, len(queue), MAX_TXS_PER_SENDER_PER_WAVE)):
            while len(waves) <= wave_index:
                waves.append([])
            waves[wave_index].extend(queue[start : start + MAX_TXS_PER_SENDER_PER_WAVE])

    receipts: dict[str, dict[str, Any]] = {}
    for wave in waves:
        for start in range(0, len(wave), SETUP_BATCH):
            chunk = wave[start : start + SETUP_BATCH]
            results = client.batch_results([("eth_sendRawTransaction", [tx.raw]) for tx in chunk])
            for tx, result in zip(chunk, results, strict=True):
                if result.lower() != tx.hash:
                    raise BenchError(f"{what}: node returned hash {result} for transaction {tx.hash}")
        receipts.update(_wait_for_receipts(client, [tx.hash for tx in wave], what))
    return [receipts[tx.hash] for tx in transactions]


def _wait_for_receipts(client: RpcClient, hashes: list[str], what: str) -> dict[str, dict[str, Any]]:
    receipts = {}
    waiting = hashes
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while waiting:
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: {len(waiting)} transactions not mined within {SETUP_TIMEOUT_S:.0f}s")
        time.sleep(0.25)
        still_waiting = []
        for start in range(0, len(waiting), SETUP_BATCH):
            chunk = waiting[start : start + SETUP_BATCH]
            found = client.batch_results([("eth_getTransactionReceipt", [tx_hash]) for tx_hash in chunk])
            for tx_hash, receipt in zip(chunk, found, strict=True):
                if receipt is None:
                    still_waiting.append(tx_hash)
                elif int(receipt["status"], 16) != 1:
                    raise BenchError(f"{what}: transaction {tx_hash} failed with status {receipt['status']}")
                else:
                    receipts[tx_hash] = receipt
        waiting = still_waiting
    return receipts


def max_fee_for(client: RpcClient) -> int:
    """Return a fee cap that stays above the base fee through the whole run (+12.5% per full block)."""
    base_fee = int(client.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    return max(100 * 10**9, 50 * base_fee)


def pending_nonce(client: RpcClient, address: bytes) -> int:
    return int(client.call("eth_getTransactionCount", ["0x" + address.hex(), "pending"]), 16)


def prepare_workload(client: RpcClient, n: int, sender_count: int, recipient_count: int) -> Workload:
    """Deploy the token, fund ``sender_count`` senders and pre-sign ``n`` transfers (nothing sent yet)."""
    chain_id = int(client.call("eth_chainId"), 16)
    max_fee = max_fee_for(client)
    keys = dev_keys(max(ETH_FUNDER_INDEXES) + 1)
    deployer_key = keys[DEPLOYER_INDEX]
    deployer = address_of(deployer_key)
    supply = sender_count * TOKENS_PER_SENDER

    # Deploy the token; its constructor mints the whole supply to the deployer.
    artefact = json.loads(TOKEN_ARTEFACT.read_text())
    init_code = bytes.fromhex(artefact["bytecode"][2:]) + word(supply)
    deploy = sign(
        deployer_key, chain_id, pending_nonce(client, deployer), None, init_code, gas=DEPLOY_GAS, max_fee=max_fee
    )
    (receipt,) = send_and_confirm(client, [deploy], "token deployment")
    token = bytes.fromhex(receipt["contractAddress"][2:])

    # Fund every sender with ETH for gas and with tokens to transfer.
    sender_keys = [bench_key(i) for i in range(sender_count)]
    senders = [address_of(key) for key in sender_keys]
    nonces = {index: pending_nonce(client, address_of(keys[index])) for index in (DEPLOYER_INDEX, *ETH_FUNDER_INDEXES)}
    funding: list[SignedTx] = []
    for i, sender in enumerate(senders):
        funder = ETH_FUNDER_INDEXES[i % len(ETH_FUNDER_INDEXES)]
        funding.append(
            sign(keys[funder], chain_id, nonces[funder], sender, b"", gas=21_000, value=ETH_PER_SENDER, max_fee=max_fee)
        )
        nonces[funder] += 1
        data = transfer_data(sender, TOKENS_PER_SENDER)
        funding.append(
            sign(deployer_key, chain_id, nonces[DEPLOYER_INDEX], token, data, gas=FUNDING_TOKEN_GAS, max_fee=max_fee)
        )
        nonces[DEPLOYER_INDEX] += 1
    send_and_confirm(client, funding, "sender funding")

    # Pre-sign the transfers. Transfer j comes from sender j % S with nonce
    # j // S, so consecutive transfers (and so each batch) come from different
    # senders and each sender's nonces are sent in order.
    recipients = [recipient_address(i) for i in range(recipient_count)]
    expected = {sender: TOKENS_PER_SENDER for sender in senders}
    expected.update({recipient: 0 for recipient in recipients})
    expected[deployer] = 0
    transfers: list[SignedTx] = []
    for j in range(n):
        sender_index, nonce = j % sender_count, j // sender_count
        recipient = recipients[j % recipient_count]
        amount = 1 + j % 7
        data = transfer_data(recipient, amount)
        transfers.append(
            sign(sender_keys[sender_index], chain_id, nonce, token, data, gas=TRANSFER_GAS, max_fee=max_fee)
        )
        expected[senders[sender_index]] -= amount
        expected[recipient] += amount
    return Workload(token, supply, senders, recipients, transfers, expected)


def verify_balances(client: RpcClient, workload: Workload) -> list[str]:
    """Compare every holder's final token balance and the total supply with the expected ones.

    Returns one message per mismatch; an empty list means all balances are right.
    """
    token = "0x" + workload.token.hex()
    problems = []
    if sum(workload.expected_balances.values()) != workload.supply:
        problems.append("expected balances do not sum to the supply (a bug in the benchmark)")
    holders = list(workload.expected_balances)
    for start in range(0, len(holders), SETUP_BATCH):
        chunk = holders[start : start + SETUP_BATCH]
        calls = [("eth_call", [{"to": token, "data": balance_of_data(holder)}, "latest"]) for holder in chunk]
        for holder, raw in zip(chunk, client.batch_results(calls), strict=True):
            got, expected = int(raw, 16), workload.expected_balances[holder]
            if got != expected:
                problems.append(f"balance of 0x{holder.hex()} is {got}, expected {expected}")
    supply = int(client.call("eth_call", [{"to": token, "data": "0x" + TOTAL_SUPPLY_SELECTOR.hex()}, "latest"]), 16)
    if supply != workload.supply:
        problems.append(f"totalSupply is {supply}, expected {workload.supply}")
    return problems

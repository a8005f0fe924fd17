"""Writing a shelter commitment to the ShelterAnchor contract, and proving it without a live node.

Choice: a contract rather than bare calldata to a fixed address. The
contract accepts commitments only from anchorers its owner named, keeps one
commitment per shelter id (write-once), and can be read with ``eth_call``.
A restore with no node left checks the proof stored in the sealed manifest:
the headers from the snapshot block to the anchor block carry a quorum of
validator seals, the anchor transaction is in the anchor block's
transaction trie, it calls ``anchor(id, commitment)`` on the configured
contract, and its sender is an anchorer in the restored state itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rlp
from eth.db.trie import _make_trie_root_and_nodes
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from node.chain.header import KuraHeader
from node.coin.artifacts import load_artifact
from node.consensus.seals import verify_seals
from node.consensus.validators import ValidatorTracker
from node.errors import BlockValidationError
from node.shelter import errors
from node.shelter.errors import ShelterError, ShelterRejected
from node.shelter.manifest import AnchorRecord, Manifest, anchor_id

logger = logging.getLogger(__name__)

ANCHOR_SELECTOR = keccak(b"anchor(bytes32,bytes32)")[:4]
COMMITMENT_OF_SELECTOR = keccak(b"commitmentOf(bytes32)")[:4]
#: Storage slot of ``isAnchorer`` in ShelterAnchor (after ``owner`` in slot 0).
IS_ANCHORER_SLOT = 1
ANCHOR_GAS = 100_000
RECEIPT_TIMEOUT = 60.0


def anchor_calldata(shelter_id: bytes, commitment: bytes) -> bytes:
    return ANCHOR_SELECTOR + anchor_id(shelter_id) + commitment


def is_anchorer_slot(address: bytes) -> int:
    return int.from_bytes(keccak(address.rjust(32, b"\x00") + IS_ANCHORER_SLOT.to_bytes(32, "big")), "big")


def header_from_rpc(block: dict[str, Any]) -> KuraHeader:
    """Rebuild a sealed header from an ``eth_getBlockBy*`` result and check its hash."""

    def number(key: str) -> Any:
        return int(block[key], 16)

    def data(key: str) -> Any:
        return bytes.fromhex(block[key][2:])

    header = KuraHeader(
        parent_hash=data("parentHash"),
        uncles_hash=data("sha3Uncles"),
        coinbase=data("miner"),
        state_root=data("stateRoot"),
        transaction_root=data("transactionsRoot"),
        receipt_root=data("receiptsRoot"),
        bloom=number("logsBloom"),
        difficulty=number("difficulty"),
        block_number=number("number"),
        gas_limit=number("gasLimit"),
        gas_used=number("gasUsed"),
        timestamp=number("timestamp"),
        extra_data=data("extraData"),
        mix_hash=data("mixHash"),
        nonce=data("nonce"),
        base_fee_per_gas=number("baseFeePerGas"),
        withdrawals_root=data("withdrawalsRoot"),
        blob_gas_used=number("blobGasUsed"),
        excess_blob_gas=number("excessBlobGas"),
        parent_beacon_block_root=data("parentBeaconBlockRoot"),
        requests_hash=data("requestsHash"),
    )
    if "0x" + header.hash.hex() != block["hash"]:
        raise ShelterError(f"block {block['number']}: the rebuilt header hashes to 0x{header.hash.hex()}, not {block['hash']}")
    return header


def transaction_from_rpc(tx: dict[str, Any]) -> bytes:
    """Consensus encoding of a transaction from its JSON-RPC form (types 0, 1 and 2)."""

    def number(key: str) -> int:
        return int(tx[key], 16)

    to: Any = bytes.fromhex(tx["to"][2:]) if tx.get("to") else b""
    data = bytes.fromhex(tx["input"][2:])
    kind = number("type")
    access_list: Any = [
        (bytes.fromhex(item["address"][2:]), [int(key, 16) for key in item["storageKeys"]])
        for item in tx.get("accessList", [])
    ]
    common = (number("nonce"),)
    if kind == 0:
        built = PragueTransactionBuilder.new_transaction(
            *common, number("gasPrice"), number("gas"), to, number("value"), data, number("v"), number("r"), number("s")
        )
    elif kind == 1:
        built = PragueTransactionBuilder.new_access_list_transaction(
            number("chainId"), *common, number("gasPrice"), number("gas"), to, number("value"), data,
            access_list, number("yParity"), number("r"), number("s"),
        )  # fmt: skip
    elif kind == 2:
        built = PragueTransactionBuilder.new_dynamic_fee_transaction(
            number("chainId"), *common, number("maxPriorityFeePerGas"), number("maxFeePerGas"), number("gas"), to,
            number("value"), data, access_list, number("yParity"), number("r"), number("s"),
        )  # fmt: skip
    else:
        # NOTE: an anchor block with a blob or set-code transaction cannot be proven; the next shelter retries.
        raise ShelterError(f"transaction {tx['hash']} has type {kind}, which the anchor proof cannot re-encode")
    encoded = built.encode()
    if "0x" + keccak(encoded).hex() != tx["hash"]:
        raise ShelterError(f"transaction {tx['hash']}: the re-encoded form hashes differently")
    return encoded


@dataclass
class AnchorSettings:
    address: bytes
    rpc_url: str
    private_key: bytes


class AnchorClient:
    """Sends anchor transactions and reads blocks over JSON-RPC (web3.py)."""

    def __init__(self, rpc_url: str) -> None:
        from web3 import HTTPProvider, Web3

        self.rpc_url = rpc_url
        self.web3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))

    def call(self, method: str, params: list[Any]) -> Any:
        response = self.web3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise ShelterError(f"{method} failed on {self.rpc_url}: {response['error']}")
        return response["result"]

    def send(self, private_key: bytes, to: bytes | None, data: bytes, gas: int) -> dict[str, Any]:
        """Sign and send a type-2 transaction; wait for its receipt; ShelterError if it reverted."""
        from eth_account import Account

        account = Account.from_key(private_key)
        base_fee = int(self.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
        transaction: dict[str, Any] = {
            "chainId": int(self.call("eth_chainId", []), 16),
            "nonce": int(self.call("eth_getTransactionCount", [account.address, "pending"]), 16),
            "gas": gas,
            "maxFeePerGas": 2 * base_fee + 1,
            "maxPriorityFeePerGas": 1,
            "value": 0,
            "data": data,
            "type": 2,
        }
        if to is not None:
            transaction["to"] = to_checksum_address(to)
        signed = account.sign_transaction(transaction)
        tx_hash = self.call("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
        deadline = time.monotonic() + RECEIPT_TIMEOUT
        while time.monotonic() < deadline:
            receipt = self.call("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                if receipt["status"] != "0x1":
                    raise ShelterError(f"transaction {tx_hash} reverted in block {int(receipt['blockNumber'], 16)}")
                return receipt
            time.sleep(0.2)
        raise ShelterError(f"transaction {tx_hash} was not included within {RECEIPT_TIMEOUT:.0f} s")

    def deploy_anchor(self, private_key: bytes, anchorers: list[bytes]) -> bytes:
        """Deploy ShelterAnchor naming ``anchorers``; return its address."""
        from eth_abi import encode

        artefact = load_artifact("ShelterAnchor")
        code = artefact.bytecode + encode(["address[]"], [["0x" + a.hex() for a in anchorers]])
        receipt = self.send(private_key, None, code, 1_500_000)
        return bytes.fromhex(receipt["contractAddress"][2:])

    def anchored_commitment(self, address: bytes, shelter_id: bytes) -> bytes:
        """The commitment the contract holds for ``shelter_id``; 32 zero bytes when none."""
        data = COMMITMENT_OF_SELECTOR + anchor_id(shelter_id)
        result = self.call("eth_call", [{"to": "0x" + address.hex(), "data": "0x" + data.hex()}, "latest"])
        return bytes.fromhex(result[2:]).rjust(32, b"\x00")[-32:]

    def anchor(self, settings: AnchorSettings, manifest: Manifest) -> AnchorRecord:
        """Anchor ``manifest``'s commitment and collect the proof for the sealed manifest."""
        receipt = self.send(
            settings.private_key, settings.address, anchor_calldata(manifest.shelter_id, manifest.commitment()), ANCHOR_GAS
        )
        block_number = int(receipt["blockNumber"], 16)
        headers = [
            rlp.encode(header_from_rpc(self.call("eth_getBlockByNumber", [hex(number), False])))
            for number in range(manifest.height + 1, block_number + 1)
        ]
        block = self.call("eth_getBlockByNumber", [hex(block_number), True])
        transactions = [transaction_from_rpc(tx) for tx in block["transactions"]]
        index = int(receipt["transactionIndex"], 16)
        logger.info(
            "shelter anchored shelter=%s block=%d tx=%s", manifest.shelter_id_hex, block_number, receipt["transactionHash"]
        )
        return AnchorRecord(
            address=settings.address,
            block_number=block_number,
            tx_hash=bytes.fromhex(receipt["transactionHash"][2:]),
            index=index,
            headers=headers,
            transactions=transactions,
        )


def verify_anchor_proof(
    manifest: Manifest,
    expected_address: bytes,
    snapshot_header: KuraHeader,
    tracker: ValidatorTracker,
    read_storage: Callable[[bytes, int], int],
    known: dict[bytes, KuraHeader] | None = None,
) -> None:
    """Check the manifest's anchor proof against a restored chain; ShelterRejected naming the rule.

    ``tracker`` is the restored chain's validator tracker and ``read_storage``
    reads a storage slot in the restored state at the snapshot height.
    """
    anchor = manifest.anchor
    if anchor is None:
        raise ShelterRejected(errors.ANCHOR_MISSING, f"shelter {manifest.shelter_id_hex} was never anchored on chain")
    if anchor.address != expected_address:
        raise ShelterRejected(
            errors.ANCHOR_MISMATCH,
            "the manifest names another anchor contract than the configuration",
            got="0x" + anchor.address.hex(),
            expected="0x" + expected_address.hex(),
        )

    # The headers continue the restored chain and carry valid seals.
    # The tracker reads proof headers through ``known``, which the caller's header lookup consults.
    known = {} if known is None else known
    known[snapshot_header.hash] = snapshot_header
    parent = snapshot_header
    headers = [rlp.decode(raw, sedes=KuraHeader) for raw in anchor.headers]
    if not headers or headers[-1].block_number != anchor.block_number:
        raise ShelterRejected(errors.ANCHOR_PROOF_INVALID, "the anchor proof does not reach the anchor block")
    for header in headers:
        if header.parent_hash != parent.hash:
            raise ShelterRejected(
                errors.ANCHOR_PROOF_INVALID, f"anchor proof block {header.block_number} does not follow its predecessor"
            )
        try:
            verify_seals(header, tracker.next_validators(parent))
        except BlockValidationError as error:
            raise ShelterRejected(errors.ANCHOR_PROOF_INVALID, f"anchor proof: {error.message}") from None
        known[header.hash] = header
        tracker.snapshot(header)
        parent = header

    # The anchor transaction is in the anchor block and fixes this manifest's commitment.
    root, _nodes = _make_trie_root_and_nodes(tuple(anchor.transactions))
    if root != parent.transaction_root or not 0 <= anchor.index < len(anchor.transactions):
        raise ShelterRejected(errors.ANCHOR_PROOF_INVALID, "the anchor transactions do not match the anchor block")
    transaction = PragueTransactionBuilder.decode(anchor.transactions[anchor.index])
    if transaction.to != expected_address:
        raise ShelterRejected(errors.ANCHOR_PROOF_INVALID, "the anchor transaction calls another contract")
    expected_data = anchor_calldata(manifest.shelter_id, manifest.commitment())
    if transaction.data[:36] != expected_data[:36]:
        raise ShelterRejected(errors.ANCHOR_PROOF_INVALID, "the anchor transaction anchors another shelter id")
    if transaction.data != expected_data:
        raise ShelterRejected(
            errors.ANCHOR_MISMATCH,
            "the manifest does not match the commitment anchored on chain",
            got="0x" + manifest.commitment().hex(),
            expected="0x" + bytes(transaction.data[36:68]).hex(),
        )
    if read_storage(expected_address, is_anchorer_slot(transaction.sender)) != 1:
        raise ShelterRejected(
            errors.ANCHOR_PROOF_INVALID,
            f"the anchor transaction's sender 0x{transaction.sender.hex()} is not an anchorer at the snapshot height",
        )

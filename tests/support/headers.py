"""Rebuilding a KuraHeader from a JSON-RPC block, to check seals as a client would."""

from __future__ import annotations

from typing import Any

from node.chain.header import KuraHeader


def _int(value: str) -> int:
    return int(value, 16)


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def header_from_rpc(block: dict[str, Any]) -> KuraHeader:
    header = KuraHeader(
        parent_hash=_bytes(block["parentHash"]),
        uncles_hash=_bytes(block["sha3Uncles"]),
        coinbase=_bytes(block["miner"]),
        state_root=_bytes(block["stateRoot"]),
        transaction_root=_bytes(block["transactionsRoot"]),
        receipt_root=_bytes(block["receiptsRoot"]),
        bloom=_int(block["logsBloom"]),
        difficulty=_int(block["difficulty"]),
        block_number=_int(block["number"]),
        gas_limit=_int(block["gasLimit"]),
        gas_used=_int(block["gasUsed"]),
        timestamp=_int(block["timestamp"]),
        extra_data=_bytes(block["extraData"]),
        mix_hash=_bytes(block["mixHash"]),
        nonce=_bytes(block["nonce"]),
        base_fee_per_gas=_int(block["baseFeePerGas"]),
        withdrawals_root=_bytes(block["withdrawalsRoot"]),
        blob_gas_used=_int(block["blobGasUsed"]),
        excess_blob_gas=_int(block["excessBlobGas"]),
        parent_beacon_block_root=_bytes(block["parentBeaconBlockRoot"]),
        requests_hash=_bytes(block["requestsHash"]),
    )
    if "0x" + header.hash.hex() != block["hash"]:
        raise ValueError(
            f"block {block['number']}: rebuilt header hashes to 0x{header.hash.hex()}, not {block['hash']}"
        )
    return header

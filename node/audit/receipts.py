"""Comparing a block's receipts, as stored or served, with the receipts its re-execution produced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth.abc import ReceiptAPI
from eth.vm.forks.prague.receipts import PragueReceiptBuilder
from eth_hash.auto import keccak

from node.errors import BlockValidationError

STORED_RECEIPT_RULE = "stored receipt mismatch"


@dataclass(frozen=True)
class ReceiptFields:
    """The consensus fields of a receipt (EIP-658 status, cumulative gas, bloom, logs)."""

    status: int
    cumulative_gas_used: int
    bloom: int
    #: (address, topics, data) per log.
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]


def fields_of_receipt(receipt: ReceiptAPI) -> ReceiptFields:
    return ReceiptFields(
        status=1 if receipt.state_root == b"\x01" else 0,
        cumulative_gas_used=receipt.gas_used,
        bloom=receipt.bloom,
        logs=tuple((bytes(log.address), tuple(log.topics), bytes(log.data)) for log in receipt.logs),
    )


def fields_of_json(receipt: dict[str, Any]) -> ReceiptFields:
    """Read a JSON-RPC receipt object; missing or malformed fields compare as unequal zeros."""

    def number(name: str) -> int:
        value = receipt.get(name)
        return int(value, 16) if isinstance(value, str) and value.startswith("0x") else -1

    logs = tuple(
        (
            bytes.fromhex(str(log.get("address", "0x"))[2:]),
            tuple(int(topic, 16) for topic in log.get("topics", [])),
            bytes.fromhex(str(log.get("data", "0x"))[2:]),
        )
        for log in receipt.get("logs", [])
    )
    return ReceiptFields(
        status=number("status"),
        cumulative_gas_used=number("cumulativeGasUsed"),
        bloom=number("logsBloom"),
        logs=logs,
    )


def compare_stored_receipts(number: int, stored_rlp: bytes, executed: Sequence[ReceiptAPI]) -> None:
    """Compare receipts as a data directory stores them with the executed ones.

    Equal bytes pass at once; otherwise the stored receipts are decoded, so the error names
    the first transaction and field that differ.
    """
    expected_rlp = rlp.encode([receipt.encode() for receipt in executed])
    if stored_rlp == expected_rlp:
        return
    try:
        stored = [fields_of_receipt(PragueReceiptBuilder.decode(item)) for item in rlp.decode(stored_rlp)]
    except Exception as error:  # rlp and py-evm raise several unrelated types
        raise BlockValidationError("stored receipts undecodable", number=number, detail=str(error)) from None
    compare_receipts(number, stored, executed)
    raise BlockValidationError(
        STORED_RECEIPT_RULE,
        number=number,
        got=f"0x{keccak(stored_rlp).hex()}",
        expected=f"0x{keccak(expected_rlp).hex()}",
        detail="field=encoding (the decoded fields match; keccak of the encodings shown)",
    )


def compare_receipts(number: int, claimed: Sequence[ReceiptFields], executed: Sequence[ReceiptAPI]) -> None:
    """Raise BlockValidationError naming the first transaction and field whose receipt differs."""
    if len(claimed) != len(executed):
        raise BlockValidationError(
            STORED_RECEIPT_RULE, number=number, got=len(claimed), expected=len(executed), detail="field=count"
        )
    for index, (stored, receipt) in enumerate(zip(claimed, executed, strict=True)):
        expected = fields_of_receipt(receipt)
        for name in ("status", "cumulative_gas_used", "bloom", "logs"):
            got_value, expected_value = getattr(stored, name), getattr(expected, name)
            if got_value != expected_value:
                if name == "bloom":
                    got_value, expected_value = hex(got_value), hex(expected_value)
                elif name == "logs":
                    got_value, expected_value = _show_logs(got_value), _show_logs(expected_value)
                raise BlockValidationError(
                    STORED_RECEIPT_RULE,
                    number=number,
                    got=got_value,
                    expected=expected_value,
                    detail=f"tx_index={index} field={name}",
                )


def _show_logs(logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]) -> list[str]:
    return [f"0x{address.hex()} topics={len(topics)} data=0x{data.hex()[:64]}" for address, topics, data in logs]

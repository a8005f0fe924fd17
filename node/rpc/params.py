"""Parsing JSON-RPC parameters into typed values, with geth's error wording."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eth_typing import Address, Hash32

from node.errors import InvalidParams

BLOCK_TAGS = ("latest", "pending", "earliest", "safe", "finalized")
_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")


def quantity(value: Any, name: str = "quantity") -> int:
    """Parse a hex QUANTITY (``0x1a``) into an int."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise InvalidParams(f"invalid argument {name}: hex string without 0x prefix: {value!r}")
    digits = value[2:]
    if not digits:
        raise InvalidParams(f'invalid argument {name}: hex string "0x" is empty')
    if len(digits) > 64:
        raise InvalidParams(f"invalid argument {name}: hex number > 256 bits")
    # int(..., 16) alone would accept signs, underscores and spaces.
    if not _HEX_DIGITS.fullmatch(digits):
        raise InvalidParams(f"invalid argument {name}: invalid hex string {value!r}")
    return int(digits, 16)


def block_number(value: Any, name: str = "block number") -> int:
    """Parse a block number QUANTITY of at most 64 bits, as geth's ``hexutil.Uint64``."""
    number = quantity(value, name)
    if number >= 1 << 64:
        raise InvalidParams(f"invalid argument {name}: hex number > 64 bits")
    return number


def storage_slot(value: Any, name: str = "slot") -> int:
    """Parse a storage slot: hex of up to 32 bytes, odd length allowed and ``0x`` meaning 0, as geth reads it."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise InvalidParams(f"invalid argument {name}: hex string without 0x prefix")
    digits = value[2:]
    if len(digits) > 64 or (digits and not _HEX_DIGITS.fullmatch(digits)):
        raise InvalidParams(f"invalid argument {name}: storage slot must be at most 32 bytes of hex")
    return int(digits, 16) if digits else 0


def data(value: Any, name: str = "data") -> bytes:
    """Hex DATA (``0x...``, even length) as bytes."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise InvalidParams(f"invalid argument {name}: hex string without 0x prefix")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise InvalidParams(f"invalid argument {name}: invalid hex string") from None


def fixed(value: Any, length: int, name: str) -> bytes:
    raw = data(value, name)
    if len(raw) != length:
        raise InvalidParams(f"invalid argument {name}: hex string has length {len(raw) * 2}, want {length * 2}")
    return raw


def address(value: Any, name: str = "address") -> Address:
    return Address(fixed(value, 20, name))


def hash32(value: Any, name: str = "hash") -> Hash32:
    return Hash32(fixed(value, 32, name))


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParams(f"invalid argument {name}: expected true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class BlockRef:
    """A block named by tag, number or hash (EIP-1898)."""

    tag: str | None = None
    number: int | None = None
    block_hash: bytes | None = None
    require_canonical: bool = False


def block_ref(value: Any, name: str = "block") -> BlockRef:
    if value is None:
        return BlockRef(tag="latest")
    if isinstance(value, str):
        if value in BLOCK_TAGS:
            return BlockRef(tag=value)
        if len(value) == 66:
            return BlockRef(block_hash=hash32(value, name))
        return BlockRef(number=block_number(value, name))
    if isinstance(value, dict):
        if "blockHash" in value and "blockNumber" in value:
            raise InvalidParams(
                f"invalid argument {name}: cannot specify both blockHash and blockNumber, choose one or the other"
            )
        if "blockHash" in value:
            canonical = value.get("requireCanonical", False)
            return BlockRef(
                block_hash=hash32(value["blockHash"], name), require_canonical=boolean(canonical, "requireCanonical")
            )
        if "blockNumber" in value:
            return block_ref(value["blockNumber"], name)
    raise InvalidParams(f"invalid argument {name}: expected a block number, tag or hash, got {value!r}")


def expect(params: list[Any], minimum: int, maximum: int) -> list[Any]:
    """Check the argument count; pad optional arguments with None."""
    if len(params) < minimum:
        raise InvalidParams(f"missing value for required argument {len(params)}")
    if len(params) > maximum:
        raise InvalidParams(f"too many arguments, want at most {maximum}")
    return list(params) + [None] * (maximum - len(params))

"""ABI coding for the coin contracts: call data, return values, event logs and revert data.

Works offline from the artefact ABIs with eth-abi, so the same code serves the in-process test
chain, the node's own RPC layer and command-line tools.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_abi.grammar import ABIType, BasicType, TupleType, parse
from eth_utils import (
    abi_to_signature,
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    get_abi_input_names,
    get_abi_input_types,
    get_abi_output_types,
    keccak,
    to_checksum_address,
)

from node.coin.artifacts import GOLD_COIN, MINT_AUTHORITY, TEST_CONTRACT_AUTHORITY, load_artifact
from node.coin.errors import AbiLookupError

#: One entry of a contract's JSON ABI. Typed as Any because eth-utils annotates its helpers with
#: its own TypedDicts, which JSON loaded at run time cannot be checked against.
AbiItem = Any

#: Selector of Solidity's ``Error(string)``, raised by ``require(cond, "message")``.
ERROR_STRING_SELECTOR = keccak(text="Error(string)")[:4]
#: Selector of Solidity's ``Panic(uint256)``, raised on assertion failure, overflow and the like.
PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]


@dataclass(frozen=True)
class DecodedError:
    """Revert data decoded against known ABIs.

    ``name`` is the custom error's name, ``Error`` or ``Panic`` for Solidity's built-in errors,
    or ``UnknownError`` when no ABI matches, in which case ``args`` contains the raw revert data.
    """

    name: str
    args: tuple[Any, ...]

    def __str__(self) -> str:
        return f"{self.name}({', '.join(repr(arg) for arg in self.args)})"


@dataclass(frozen=True)
class DecodedEvent:
    """Event log decoded against a contract ABI; ``args`` maps parameter names to values."""

    name: str
    address: bytes
    args: dict[str, Any]


class ContractInterface:
    """Encoder and decoder for one contract's ABI.

    Functions are looked up by name, because the coin contracts overload none.
    """

    def __init__(self, abi: Sequence[AbiItem]) -> None:
        self.abi: tuple[AbiItem, ...] = tuple(abi)
        self._functions = {item["name"]: item for item in self.abi if item["type"] == "function"}
        self._events_by_topic = {
            event_abi_to_log_topic(item): item
            for item in self.abi
            if item["type"] == "event" and not item.get("anonymous", False)
        }
        self._errors_by_selector = {
            function_abi_to_4byte_selector(item): item for item in self.abi if item["type"] == "error"
        }
        self._constructor = next((item for item in self.abi if item["type"] == "constructor"), None)

    @classmethod
    def from_artifact(cls, name: str) -> ContractInterface:
        return cls(load_artifact(name).abi)

    def function_abi(self, function: str) -> AbiItem:
        try:
            return self._functions[function]
        except KeyError:
            raise AbiLookupError(f"function {function!r} is not in the contract ABI") from None

    def encode_call(self, function: str, *args: Any) -> bytes:
        """Encode call data: the 4-byte selector followed by the ABI-encoded arguments.

        Struct arguments are passed as tuples in field order.
        """
        item = self.function_abi(function)
        return function_abi_to_4byte_selector(item) + abi_encode(get_abi_input_types(item), args)

    def encode_constructor_args(self, *args: Any) -> bytes:
        """Encode constructor arguments, to be appended to the creation code."""
        if self._constructor is None:
            if args:
                raise AbiLookupError("the contract has no constructor, so it takes no arguments")
            return b""
        return abi_encode(get_abi_input_types(self._constructor), args)

    def decode_output(self, function: str, data: bytes) -> Any:
        """Decode a call's return data; a single return value comes back unwrapped, and addresses
        come back checksummed."""
        values = _decode(get_abi_output_types(self.function_abi(function)), data)
        return values[0] if len(values) == 1 else values

    def decode_log(self, address: bytes, topics: Sequence[bytes], data: bytes) -> DecodedEvent | None:
        """Decode a log emitted by this contract; return None for an event not in the ABI."""
        if not topics:
            return None
        item = self._events_by_topic.get(bytes(topics[0]))
        if item is None:
            return None

        indexed = [param for param in item["inputs"] if param["indexed"]]
        plain = [param for param in item["inputs"] if not param["indexed"]]
        args: dict[str, Any] = {}
        # Indexed parameters of dynamic type are stored as their keccak hash, so they stay raw.
        for param, topic in zip(indexed, topics[1:], strict=True):
            if _is_dynamic(param["type"]):
                args[param["name"]] = bytes(topic)
            else:
                args[param["name"]] = _decode([_abi_type(param)], bytes(topic))[0]
        plain_values = _decode([_abi_type(param) for param in plain], data)
        args.update(zip((param["name"] for param in plain), plain_values, strict=True))
        return DecodedEvent(name=item["name"], address=bytes(address), args=args)

    def event_topic(self, event: str) -> bytes:
        """Return an event's topic 0: keccak256 of its signature."""
        for topic, item in self._events_by_topic.items():
            if item["name"] == event:
                return topic
        raise AbiLookupError(f"event {event!r} is not in the contract ABI")

    def decode_error(self, data: bytes) -> DecodedError | None:
        """Decode revert data as one of this contract's custom errors; None if none matches."""
        item = self._errors_by_selector.get(bytes(data[:4]))
        if item is None:
            return None
        try:
            values = _decode(get_abi_input_types(item), bytes(data[4:]))
        except DecodingError:
            return None
        return DecodedError(name=item["name"], args=tuple(values))

    def error_signatures(self) -> list[str]:
        """Return the custom error signatures, e.g. ``ReserveExceeded(uint256,uint256)``."""
        return sorted(abi_to_signature(item) for item in self._errors_by_selector.values())

    def argument_names(self, function: str) -> list[str]:
        return [str(name) for name in get_abi_input_names(self.function_abi(function))]


def _is_dynamic(abi_type: str) -> bool:
    return abi_type in ("string", "bytes") or abi_type.endswith("[]") or abi_type == "tuple"


def _abi_type(param: AbiItem) -> str:
    """Return the canonical type string of one ABI parameter, expanding tuples."""
    wrapper: AbiItem = {"type": "function", "name": "_", "inputs": [param]}
    return get_abi_input_types(wrapper)[0]


def _checksum_addresses(abi_type: ABIType, value: Any) -> Any:
    """Return ``value`` with every address in it checksummed, as web3 returns them."""
    if abi_type.is_array:
        return [_checksum_addresses(abi_type.item_type, item) for item in value]
    if isinstance(abi_type, TupleType):
        return tuple(
            _checksum_addresses(component, item) for component, item in zip(abi_type.components, value, strict=True)
        )
    if isinstance(abi_type, BasicType) and abi_type.base == "address":
        return to_checksum_address(value)
    return value


def _decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """ABI-decode ``data`` as ``types``, with checksummed addresses."""
    values = abi_decode(list(types), data)
    return tuple(_checksum_addresses(parse(abi_type), value) for abi_type, value in zip(types, values, strict=True))


def decode_revert(data: bytes, interfaces: Iterable[ContractInterface]) -> DecodedError:
    """Decode revert data: Solidity's ``Error(string)`` and ``Panic(uint256)``, else a custom error
    of the first interface whose ABI has its selector, else ``UnknownError`` with the raw data."""
    data = bytes(data)
    if data[:4] == ERROR_STRING_SELECTOR:
        return DecodedError(name="Error", args=tuple(abi_decode(["string"], data[4:])))
    if data[:4] == PANIC_SELECTOR:
        return DecodedError(name="Panic", args=tuple(abi_decode(["uint256"], data[4:])))
    for interface in interfaces:
        decoded = interface.decode_error(data)
        if decoded is not None:
            return decoded
    return DecodedError(name="UnknownError", args=(data,))


@functools.cache
def gold_coin_interface() -> ContractInterface:
    return ContractInterface.from_artifact(GOLD_COIN)


@functools.cache
def mint_authority_interface() -> ContractInterface:
    return ContractInterface.from_artifact(MINT_AUTHORITY)


@functools.cache
def contract_authority_mock_interface() -> ContractInterface:
    """Interface of the test-only ERC-1271 wallet in ``contracts/test``."""
    return ContractInterface.from_artifact(TEST_CONTRACT_AUTHORITY)


def decode_coin_revert(data: bytes) -> DecodedError:
    """Decode revert data from any coin contract. GoldCoin's errors pass unchanged through
    MintAuthority, so a mint rejected by the token decodes to the token's error."""
    return decode_revert(data, (mint_authority_interface(), gold_coin_interface()))

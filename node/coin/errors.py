"""Errors raised by :mod:`node.coin`."""

from __future__ import annotations

from typing import Any

from node.errors import KuraError


class CoinError(KuraError):
    """Base of the errors raised by the gold coin helpers."""


class ArtifactNotFound(CoinError, FileNotFoundError):
    """A compiled contract artefact is missing from ``contracts/build``."""


class AbiLookupError(CoinError, LookupError):
    """A function, event or error name is not in the contract's ABI."""


class PredeployFailed(CoinError):
    """A contract constructor reverted or produced no code while building genesis predeploys."""


class InvalidAmount(CoinError, ValueError):
    """An amount in grams could not be parsed.

    ``reason`` is one of ``format``, ``negative``, ``precision``, ``zero`` and ``too_large``.
    Callers can word the message in the user's language from it. ``value`` is the text as given.
    """

    _MESSAGES = {
        "format": "amount {value!r} is not a plain decimal number of grams such as 12.5",
        "negative": "amount {value!r} is negative; amounts must be zero or more grams",
        "precision": "amount {value!r} has more than 18 decimal places; the smallest unit is 0.000000000000000001 g",
        "zero": "amount {value!r} is zero; give a positive number of grams",
        "too_large": "amount {value!r} is too large for a uint256 in base units",
    }

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(self._MESSAGES[reason].format(value=value))
        self.value = value
        self.reason = reason


class NodeUnreachable(CoinError, ConnectionError):
    """The JSON-RPC endpoint at ``url`` did not respond; ``detail`` names the transport error."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"cannot reach the node at {url}: {detail}")
        self.url = url
        self.detail = detail


class RpcFailed(CoinError):
    """The node returned a JSON-RPC error other than a revert."""

    def __init__(self, method: str, rpc_code: int | None, rpc_message: str) -> None:
        super().__init__(f"{method} failed: {rpc_message} (code {rpc_code})")
        self.method = method
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message


class ContractReverted(CoinError):
    """A contract call reverted; ``error`` is the decoded revert data, ``revert_data`` the raw bytes.

    ``transaction_hash`` is set when a mined transaction failed, and None when a call or gas
    estimate reverted before anything was sent.
    """

    def __init__(self, function: str, error: Any, revert_data: bytes, transaction_hash: bytes | None = None) -> None:
        super().__init__(f"{function} reverted with {error}")
        self.function = function
        self.error = error
        self.revert_data = revert_data
        self.transaction_hash = transaction_hash


class TransactionTimeout(CoinError, TimeoutError):
    """A sent transaction was not mined within ``seconds``."""

    def __init__(self, transaction_hash: bytes, seconds: float) -> None:
        super().__init__(f"transaction 0x{transaction_hash.hex()} was not mined within {seconds:g} s")
        self.transaction_hash = transaction_hash
        self.seconds = seconds

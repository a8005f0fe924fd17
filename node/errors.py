"""The node's error tree.

Every error the node raises on purpose derives from :class:`KuraError`. Errors
that reach a JSON-RPC client carry the JSON-RPC ``code`` and optional ``data``
that geth would send for the same failure, so clients that match on geth's
messages keep working.
"""

from __future__ import annotations

from typing import Any


class KuraError(Exception):
    """Base of every error the node raises on purpose."""

    #: JSON-RPC error code used when this error reaches a client.
    code: int = -32000

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ConfigError(KuraError, ValueError):
    """Invalid genesis file, configuration value or command-line argument."""


class StoreError(KuraError):
    """The data directory is missing, locked, corrupt or of another schema."""


class BlockValidationError(KuraError):
    """A block breaks a named validity rule.

    ``rule`` names the rule; ``got`` and ``expected`` carry the two values
    when the rule compares values.
    """

    def __init__(
        self,
        rule: str,
        *,
        number: int | None = None,
        got: Any = None,
        expected: Any = None,
        detail: str = "",
    ) -> None:
        parts = [f"invalid block: {rule}"]
        if number is not None:
            parts.append(f"number={number}")
        if got is not None or expected is not None:
            parts.append(f"got={got!r} expected={expected!r}")
        if detail:
            parts.append(detail)
        super().__init__(" ".join(parts))
        self.rule = rule
        self.number = number
        self.got = got
        self.expected = expected


class TxRejected(KuraError):
    """A transaction was rejected at submission.

    The message is geth's wording for the same rejection (``nonce too low``,
    ``already known`` ...), because client libraries match on it.
    """

    code = -32000


class ExecutionReverted(KuraError):
    """``eth_call`` or ``eth_estimateGas`` hit a REVERT; ``data`` is the revert data."""

    code = 3


class RpcError(KuraError):
    """A JSON-RPC protocol error (parse error, unknown method, bad params)."""

    def __init__(self, code: int, message: str, *, data: Any = None) -> None:
        super().__init__(message, data=data)
        self.code = code


class InvalidParams(RpcError):
    """The request's parameters do not fit the method (JSON-RPC -32602)."""

    def __init__(self, message: str) -> None:
        super().__init__(-32602, message)


class ResourceNotFound(RpcError):
    """A block, transaction or filter named by the request does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(-32001, message)

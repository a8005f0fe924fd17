"""Errors of the auditor tools.

A block that breaks a rule raises :class:`node.errors.BlockValidationError`, the same error a
node raises on import, so a replay names the rule a validator would name.
"""

from __future__ import annotations

from node.errors import KuraError


class AuditError(KuraError):
    """An audit could not run: a missing or unreadable source, a bad block file, a failed RPC call."""


class BlockFileError(AuditError):
    """A block file is truncated or holds something other than RLP blocks."""

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset


class SourceError(AuditError):
    """A block source returned something that cannot be a block of the chain being read."""

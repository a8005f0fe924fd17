"""Errors raised by :mod:`node.coin`."""

from __future__ import annotations

from node.errors import KuraError


class CoinError(KuraError):
    """Base of the errors raised by the gold coin helpers."""


class ArtifactNotFound(CoinError, FileNotFoundError):
    """A compiled contract artefact is missing from ``contracts/build``."""


class AbiLookupError(CoinError, LookupError):
    """A function, event or error name is not in the contract's ABI."""


class PredeployFailed(CoinError):
    """A contract constructor reverted or produced no code while building genesis predeploys."""

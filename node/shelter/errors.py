"""Errors of the shelter: one base class, and rejections that name the broken rule."""

from __future__ import annotations

from typing import Any

from node.errors import KuraError


class ShelterError(KuraError):
    """A shelter, verify, repair or restore step failed (bad configuration, site unreachable, ...)."""


class SiteError(ShelterError):
    """A site could not be listed, read or written; ``site`` names it."""

    def __init__(self, site: str, message: str) -> None:
        super().__init__(f"site {site}: {message}")
        self.site = site


class ShelterRejected(ShelterError):
    """Material offered to a restore breaks a named rule.

    ``rule`` is one of the constants below; tests and callers match on it,
    never on the message. ``got`` and ``expected`` carry the compared values.
    """

    def __init__(self, rule: str, message: str, *, got: Any = None, expected: Any = None, **details: Any) -> None:
        text = f"rejected ({rule}): {message}"
        if got is not None or expected is not None:
            text += f" (got {got!r}, expected {expected!r})"
        super().__init__(text)
        self.rule = rule
        self.got = got
        self.expected = expected
        self.details = details


# Rules named by ShelterRejected.
FRAGMENT_CORRUPT = "fragment_corrupt"
FRAGMENT_FOREIGN = "fragment_foreign"
FRAGMENT_SIZE = "fragment_size"
TOO_FEW_FRAGMENTS = "too_few_fragments"
TOO_FEW_SHARES = "too_few_shares"
SHARE_FOREIGN_KEY = "share_foreign_key"
SHARE_WRONG_REQUEST = "share_wrong_request"
SHARE_INVALID = "share_invalid"
PASSPHRASE_WRONG = "passphrase_wrong"
PIN_INCORRECT = "pin_incorrect"
TOKEN_KEY_WRONG = "token_key_wrong"
MANIFEST_NOT_FOUND = "manifest_not_found"
MANIFEST_INVALID = "manifest_invalid"
FRAGMENTS_ROOT_MISMATCH = "fragments_root_mismatch"
ANCHOR_MISMATCH = "anchor_mismatch"
ANCHOR_MISSING = "anchor_missing"
ANCHOR_PROOF_INVALID = "anchor_proof_invalid"
CIPHERTEXT_INVALID = "ciphertext_invalid"
SNAPSHOT_INVALID = "snapshot_invalid"
SEAL_INVALID = "seal_invalid"
STATE_ROOT_MISMATCH = "state_root_mismatch"

"""Mint proposal and approval files that the issuer commands pass between people.

A proposal file carries every field of the EIP-712 ``MintProposal`` plus its domain (chain id and
MintAuthority address), so an authority can sign it on a machine without network access. An
approval file carries one authority's signature over the proposal hash. Both are JSON. Integers
that may exceed 2**53 (amounts in base units, nonces) are decimal strings, because many JSON
readers turn large numbers into floats.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_utils import is_hex_address, to_checksum_address

from node.cli.i18n import _
from node.coin.eip712 import Approval, MintProposal, mint_proposal_digest, mint_proposal_typed_data
from node.coin.errors import InvalidAmount
from node.coin.units import UINT256_MAX, format_grams, parse_grams
from node.errors import KuraError

PROPOSAL_KIND = "kura/mint-proposal"
APPROVAL_KIND = "kura/mint-approval"
FORMAT_VERSION = 1
UINT64_MAX = 2**64 - 1


class InvalidFile(KuraError):
    """A proposal or approval file is missing, unreadable or has an invalid field."""


@dataclass(frozen=True)
class ProposalFile:
    """A mint proposal with the EIP-712 domain it is signed under."""

    proposal: MintProposal
    chain_id: int
    verifying_contract: str

    @property
    def digest(self) -> bytes:
        """The proposal hash: the EIP-712 digest that authorities sign and MintAuthority recomputes."""
        return mint_proposal_digest(self.proposal, self.chain_id, self.verifying_contract)

    def typed_data(self) -> dict[str, Any]:
        return mint_proposal_typed_data(self.proposal, self.chain_id, self.verifying_contract)

    def to_json(self) -> dict[str, Any]:
        proposal = self.proposal
        return {
            "kind": PROPOSAL_KIND,
            "version": FORMAT_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
            "recipient": to_checksum_address(proposal.recipient),
            "amount": format_grams(proposal.amount),
            "amountBaseUnits": str(proposal.amount),
            "reserveRef": "0x" + proposal.reserve_ref.hex(),
            "expiry": proposal.expiry,
            "expiryUtc": format_timestamp(proposal.expiry),
            "nonce": str(proposal.nonce),
            "proposalHash": "0x" + self.digest.hex(),
        }


@dataclass(frozen=True)
class ApprovalFile:
    """One authority's signature over the proposal hash ``proposal_hash``."""

    approval: Approval
    proposal_hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": APPROVAL_KIND,
            "version": FORMAT_VERSION,
            "proposalHash": "0x" + self.proposal_hash.hex(),
            "authority": to_checksum_address(self.approval.authority),
            "signature": "0x" + self.approval.signature.hex(),
        }


def format_timestamp(timestamp: int) -> str:
    """Write a Unix time as ISO 8601 in UTC, e.g. ``2026-12-04T21:20:45Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_new_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path``; raise InvalidFile rather than overwrite an existing file."""
    try:
        with open(path, "x", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise InvalidFile(
            _("{path} already exists; choose another output file or delete it first").format(path=path)
        ) from None
    except OSError as error:
        raise InvalidFile(_("cannot write {path}: {error}").format(path=path, error=error)) from None


class _Fields:
    """Typed access to the fields of one JSON file, raising InvalidFile that names the field."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise InvalidFile(_("cannot read {path}: {error}").format(path=path, error=error)) from None
        except ValueError as error:
            raise InvalidFile(_("{path} is not valid JSON: {error}").format(path=path, error=error)) from None
        if not isinstance(document, dict) or document.get("kind") != kind:
            found = document.get("kind") if isinstance(document, dict) else None
            raise InvalidFile(
                _("{path} is not a {expected} file (its kind is {found!r})").format(
                    path=path, expected=kind, found=found
                )
            )
        if document.get("version") != FORMAT_VERSION:
            raise InvalidFile(
                _("{path} has format version {found!r}; this kura reads version {expected}").format(
                    path=path, found=document.get("version"), expected=FORMAT_VERSION
                )
            )
        self.document = document

    def _invalid(self, field: str, problem: str) -> InvalidFile:
        return InvalidFile(
            _("{path}: field {field} is invalid: {problem}").format(path=self.path, field=field, problem=problem)
        )

    def raw(self, field: str) -> Any:
        if field not in self.document:
            raise InvalidFile(_("{path}: field {field} is missing").format(path=self.path, field=field))
        return self.document[field]

    def address(self, field: str) -> str:
        value = self.raw(field)
        if not isinstance(value, str) or not is_hex_address(value):
            raise self._invalid(field, _("{value!r} is not a 20-byte hex address").format(value=value))
        return to_checksum_address(value)

    def hex_bytes(self, field: str, length: int | None = None) -> bytes:
        value = self.raw(field)
        try:
            if not isinstance(value, str) or not value.startswith("0x"):
                raise ValueError
            data = bytes.fromhex(value[2:])
        except ValueError:
            raise self._invalid(field, _("{value!r} is not 0x-prefixed hex").format(value=value)) from None
        if length is not None and len(data) != length:
            raise self._invalid(field, _("expected {expected} bytes, got {got}").format(expected=length, got=len(data)))
        return data

    def integer(self, field: str, maximum: int) -> int:
        """Read a JSON integer or a decimal string in 0..maximum."""
        value = self.raw(field)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self._invalid(field, _("{value!r} is not an integer").format(value=value))
        if isinstance(value, str):
            if not value.isascii() or not value.isdigit():
                raise self._invalid(field, _("{value!r} is not a decimal integer").format(value=value))
            value = int(value)
        if not 0 <= value <= maximum:
            raise self._invalid(field, _("{value} is outside 0 to {maximum}").format(value=value, maximum=maximum))
        return value

    def grams(self, field: str) -> int:
        value = self.raw(field)
        if not isinstance(value, str):
            raise self._invalid(field, _('{value!r} is not a string of grams such as "12.5"').format(value=value))
        try:
            return parse_grams(value)
        except InvalidAmount as error:
            raise self._invalid(field, amount_problem(error)) from None


def amount_problem(error: InvalidAmount) -> str:
    """Word an InvalidAmount in the user's language, naming the rejected value."""
    messages = {
        "format": _("amount {value!r} is not a plain decimal number of grams such as 12.5"),
        "negative": _("amount {value!r} is negative; give zero or more grams"),
        "precision": _("amount {value!r} has more than 18 decimal places; the smallest unit is 0.000000000000000001 g"),
        "zero": _("amount {value!r} is zero; give a positive number of grams"),
        "too_large": _("amount {value!r} is too large: it exceeds a uint256 in base units"),
    }
    return messages[error.reason].format(value=error.value)


def read_proposal(path: Path) -> ProposalFile:
    """Read and check a proposal file.

    The grams and base-unit amounts must agree, and the stored proposal hash must match the one
    computed from the fields, so a hand-edited field cannot slip through unnoticed.
    """
    fields = _Fields(path, PROPOSAL_KIND)
    amount = fields.integer("amountBaseUnits", UINT256_MAX)
    if fields.grams("amount") != amount:
        raise InvalidFile(
            _("{path}: amount {grams} g does not match amountBaseUnits {base_units}").format(
                path=path, grams=fields.raw("amount"), base_units=amount
            )
        )
    proposal_file = ProposalFile(
        proposal=MintProposal(
            recipient=fields.address("recipient"),
            amount=amount,
            reserve_ref=fields.hex_bytes("reserveRef", 32),
            expiry=fields.integer("expiry", UINT64_MAX),
            nonce=fields.integer("nonce", UINT256_MAX),
        ),
        chain_id=fields.integer("chainId", UINT256_MAX),
        verifying_contract=fields.address("verifyingContract"),
    )
    stored_hash = fields.hex_bytes("proposalHash", 32)
    if stored_hash != proposal_file.digest:
        raise InvalidFile(
            _("{path}: proposalHash 0x{stored} does not match the fields, which hash to 0x{computed}").format(
                path=path, stored=stored_hash.hex(), computed=proposal_file.digest.hex()
            )
        )
    return proposal_file


def read_approval(path: Path) -> ApprovalFile:
    fields = _Fields(path, APPROVAL_KIND)
    return ApprovalFile(
        approval=Approval(authority=fields.address("authority"), signature=fields.hex_bytes("signature")),
        proposal_hash=fields.hex_bytes("proposalHash", 32),
    )

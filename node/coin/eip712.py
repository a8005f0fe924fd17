"""EIP-712 typed data for MintAuthority proposals, and the approvals authorities sign over them.

The type strings, domain name and version here must match ``contracts/src/MintAuthority.sol``;
``tests/coin/test_eip712.py`` checks the digests against the deployed contract. The digest is the
EIP-712 hash ``keccak256(0x19 0x01 domainSeparator structHash)``, and the contract uses it as the
proposal hash for on-chain ``approve`` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak, to_canonical_address, to_checksum_address

#: EIP-712 domain of MintAuthority; chainId and verifyingContract come from the deployment.
DOMAIN_NAME = "Kura MintAuthority"
DOMAIN_VERSION = "1"

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_MINT_PROPOSAL_TYPE = [
    {"name": "recipient", "type": "address"},
    {"name": "amount", "type": "uint256"},
    {"name": "reserveRef", "type": "bytes32"},
    {"name": "expiry", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]
_AUTHORITY_SET_CHANGE_TYPE = [
    {"name": "authorities", "type": "address[]"},
    {"name": "dailyLimits", "type": "uint256[]"},
    {"name": "threshold", "type": "uint256"},
    {"name": "expiry", "type": "uint64"},
    {"name": "nonce", "type": "uint256"},
]


@dataclass(frozen=True)
class MintProposal:
    """Request to mint ``amount`` base units (1e18 = 1 gram) to ``recipient``.

    ``expiry`` is the last Unix time at which the proposal may execute. ``nonce`` is any uint256
    not used before by this MintAuthority; each nonce executes once.
    """

    recipient: str
    amount: int
    reserve_ref: bytes
    expiry: int
    nonce: int

    def __post_init__(self) -> None:
        if len(self.reserve_ref) != 32:
            raise ValueError(f"reserve_ref must be 32 bytes, got {len(self.reserve_ref)}")

    def to_abi(self) -> tuple[str, int, bytes, int, int]:
        """Return the ``MintProposal`` struct as a tuple in Solidity field order."""
        return (to_checksum_address(self.recipient), self.amount, self.reserve_ref, self.expiry, self.nonce)


@dataclass(frozen=True)
class AuthoritySetChange:
    """Replacement authority set; ``authorities`` must be strictly ascending by address value.

    ``daily_limits[i]`` is the daily limit of ``authorities[i]`` in base units.
    """

    authorities: tuple[str, ...]
    daily_limits: tuple[int, ...]
    threshold: int
    expiry: int
    nonce: int

    @classmethod
    def from_limits(
        cls, daily_limits: Mapping[str, int], threshold: int, expiry: int, nonce: int
    ) -> AuthoritySetChange:
        """Build a change from ``{authority: daily limit}``, sorting the authorities as required."""
        ordered = sorted(daily_limits.items(), key=lambda item: to_canonical_address(item[0]))
        return cls(
            authorities=tuple(to_checksum_address(address) for address, _ in ordered),
            daily_limits=tuple(limit for _, limit in ordered),
            threshold=threshold,
            expiry=expiry,
            nonce=nonce,
        )

    def to_abi(self) -> tuple[list[str], list[int], int, int, int]:
        """Return the ``AuthoritySetChange`` struct as a tuple in Solidity field order."""
        return (
            [to_checksum_address(address) for address in self.authorities],
            list(self.daily_limits),
            self.threshold,
            self.expiry,
            self.nonce,
        )


@dataclass(frozen=True)
class Approval:
    """Signature by ``authority`` over a proposal digest: 65 bytes r‖s‖v for an account, or
    whatever the authority contract's ERC-1271 ``isValidSignature`` accepts."""

    authority: str
    signature: bytes

    def to_abi(self) -> tuple[str, bytes]:
        return (to_checksum_address(self.authority), self.signature)


def _domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def mint_proposal_typed_data(proposal: MintProposal, chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """Build the full EIP-712 message (types, primaryType, domain, message) for a mint proposal."""
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, "MintProposal": _MINT_PROPOSAL_TYPE},
        "primaryType": "MintProposal",
        "domain": _domain(chain_id, verifying_contract),
        "message": {
            "recipient": to_checksum_address(proposal.recipient),
            "amount": proposal.amount,
            "reserveRef": proposal.reserve_ref,
            "expiry": proposal.expiry,
            "nonce": proposal.nonce,
        },
    }


def authority_set_change_typed_data(
    change: AuthoritySetChange, chain_id: int, verifying_contract: str
) -> dict[str, Any]:
    """Build the full EIP-712 message for an authority-set change."""
    return {
        "types": {"EIP712Domain": _DOMAIN_TYPE, "AuthoritySetChange": _AUTHORITY_SET_CHANGE_TYPE},
        "primaryType": "AuthoritySetChange",
        "domain": _domain(chain_id, verifying_contract),
        "message": {
            "authorities": [to_checksum_address(address) for address in change.authorities],
            "dailyLimits": list(change.daily_limits),
            "threshold": change.threshold,
            "expiry": change.expiry,
            "nonce": change.nonce,
        },
    }


def _signable(full_message: dict[str, Any]) -> SignableMessage:
    return encode_typed_data(full_message=full_message)


def typed_data_digest(full_message: dict[str, Any]) -> bytes:
    """Return the 32-byte EIP-712 digest that a signer signs and the contract recomputes."""
    signable = _signable(full_message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def mint_proposal_digest(proposal: MintProposal, chain_id: int, verifying_contract: str) -> bytes:
    """Return the proposal hash that ``MintAuthority.hashMintProposal`` returns."""
    return typed_data_digest(mint_proposal_typed_data(proposal, chain_id, verifying_contract))


def authority_set_change_digest(change: AuthoritySetChange, chain_id: int, verifying_contract: str) -> bytes:
    """Return the proposal hash that ``MintAuthority.hashAuthoritySetChange`` returns."""
    return typed_data_digest(authority_set_change_typed_data(change, chain_id, verifying_contract))


def sign_typed_data(private_key: bytes, full_message: dict[str, Any]) -> bytes:
    """Sign an EIP-712 message; return the 65-byte signature r‖s‖v with v in {27, 28}."""
    return bytes(Account.sign_message(_signable(full_message), private_key).signature)


def sign_mint_proposal(private_key: bytes, proposal: MintProposal, chain_id: int, verifying_contract: str) -> Approval:
    """Approve a mint proposal offline as the account that owns ``private_key``."""
    signature = sign_typed_data(private_key, mint_proposal_typed_data(proposal, chain_id, verifying_contract))
    return Approval(authority=Account.from_key(private_key).address, signature=signature)


def sign_authority_set_change(
    private_key: bytes, change: AuthoritySetChange, chain_id: int, verifying_contract: str
) -> Approval:
    """Approve an authority-set change offline as the account that owns ``private_key``."""
    signature = sign_typed_data(private_key, authority_set_change_typed_data(change, chain_id, verifying_contract))
    return Approval(authority=Account.from_key(private_key).address, signature=signature)


def sort_approvals(approvals: Iterable[Approval]) -> list[Approval]:
    """Sort approvals by ascending authority address, the order MintAuthority requires.

    Raises ValueError when two approvals come from the same authority, which the contract
    would reject with ``SignersNotAscending``.
    """
    ordered = sorted(approvals, key=lambda approval: to_canonical_address(approval.authority))
    for previous, current in zip(ordered, ordered[1:], strict=False):
        if to_canonical_address(previous.authority) == to_canonical_address(current.authority):
            raise ValueError(f"two approvals come from authority {to_checksum_address(current.authority)}")
    return ordered


def approvals_to_abi(approvals: Iterable[Approval]) -> list[tuple[str, bytes]]:
    """Return the ``Approval[]`` argument of the execute functions, in the order given."""
    return [approval.to_abi() for approval in approvals]

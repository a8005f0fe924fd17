"""EIP-712 digests computed in Python match the contract's."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from node.coin.eip712 import (
    Approval,
    AuthoritySetChange,
    MintProposal,
    authority_set_change_digest,
    mint_proposal_digest,
    sort_approvals,
)
from node.coin.predeploy import MINT_AUTHORITY_ADDRESS
from tests.coin.coin_flows import GRAM, RESERVE_REF


def test_type_hashes_match_contract(client, authority):
    mint_type = "MintProposal(address recipient,uint256 amount,bytes32 reserveRef,uint64 expiry,uint256 nonce)"
    set_type = (
        "AuthoritySetChange(address[] authorities,uint256[] dailyLimits,uint256 threshold,uint64 expiry,uint256 nonce)"
    )

    assert client.read(authority, "MINT_PROPOSAL_TYPEHASH") == keccak(text=mint_type)
    assert client.read(authority, "AUTHORITY_SET_CHANGE_TYPEHASH") == keccak(text=set_type)


def test_mint_proposal_digest_matches_contract(client, authority, dev):
    mint = MintProposal(
        recipient=dev["customer"].address,
        amount=123 * GRAM + 456,
        reserve_ref=RESERVE_REF,
        expiry=2**64 - 1,
        nonce=2**255 + 7,
    )

    on_chain = client.read(authority, "hashMintProposal", mint.to_abi())

    assert on_chain == mint_proposal_digest(mint, client.chain_id, MINT_AUTHORITY_ADDRESS)


def test_authority_set_change_digest_matches_contract(client, authority, dev):
    change = AuthoritySetChange.from_limits(
        {dev["admin"].address: 5 * GRAM, dev["customer"].address: 0, dev["pauser"].address: 2**200},
        threshold=2,
        expiry=1_800_000_000,
        nonce=99,
    )

    on_chain = client.read(authority, "hashAuthoritySetChange", change.to_abi())

    assert on_chain == authority_set_change_digest(change, client.chain_id, MINT_AUTHORITY_ADDRESS)


def test_digest_depends_on_chain_id(dev):
    mint = MintProposal(dev["customer"].address, GRAM, RESERVE_REF, 1_800_000_000, 1)

    assert mint_proposal_digest(mint, 1337, MINT_AUTHORITY_ADDRESS) != mint_proposal_digest(
        mint, 1338, MINT_AUTHORITY_ADDRESS
    )


def test_from_limits_sorts_authorities(dev):
    change = AuthoritySetChange.from_limits(
        {dev["pauser"].address: 1, dev["admin"].address: 2, dev["customer"].address: 3},
        threshold=1,
        expiry=1,
        nonce=1,
    )

    values = [int(address, 16) for address in change.authorities]
    assert values == sorted(values)
    assert dict(zip(change.authorities, change.daily_limits, strict=True))[dev["admin"].address] == 2


def test_sort_approvals_rejects_duplicates(dev):
    approval = Approval(dev["admin"].address, b"\x00" * 65)

    with pytest.raises(ValueError, match="two approvals"):
        sort_approvals([approval, approval])


def test_reserve_ref_must_be_32_bytes(dev):
    with pytest.raises(ValueError, match="32 bytes"):
        MintProposal(dev["customer"].address, GRAM, b"short", 1, 1)

"""MintAuthority: quorum, replay, expiry, cancellation, daily limits and authority-set changes."""

from __future__ import annotations

import pytest

from node.coin.abi import contract_authority_mock_interface
from node.coin.artifacts import TEST_CONTRACT_AUTHORITY, load_artifact
from node.coin.eip712 import (
    Approval,
    AuthoritySetChange,
    approvals_to_abi,
    mint_proposal_digest,
    sign_authority_set_change,
    sign_mint_proposal,
)
from node.coin.predeploy import MINT_AUTHORITY_ADDRESS
from node.coin.transactions import execute_authority_set_change_call_data
from tests.coin.coin_flows import (
    DAY,
    GRAM,
    assert_reverted_with,
    attest,
    balance_of,
    execute_mint,
    mint_with_quorum,
    proposal,
    sign_all,
)


@pytest.fixture
def reserve(client, coin, dev):
    """Attest 10,000 grams so mints fit under the reserve cap."""
    attest(client, coin, dev["attestor"], 10_000)


def test_mint_with_threshold_minus_one_fails(client, coin, dev, reserve):
    mint = proposal(client, dev["customer"].address, 5 * GRAM, nonce=1)
    approvals = sign_all(client, mint, [dev["authority_issuer"]])

    outcome = execute_mint(client, dev["exchange"], mint, approvals)

    assert_reverted_with(outcome, "InsufficientApprovals")
    assert outcome.error.args == (1, 2)
    assert balance_of(client, coin, dev["customer"].address) == 0


def test_mint_with_threshold_succeeds(client, coin, authority, dev, reserve):
    outcome = mint_with_quorum(client, dev, dev["customer"].address, 5 * GRAM, nonce=1)

    assert outcome.ok, outcome.error
    assert "MintExecuted" in outcome.event_names()
    assert "Transfer" in outcome.event_names()
    assert balance_of(client, coin, dev["customer"].address) == 5 * GRAM
    assert client.read(coin, "totalSupply") == 5 * GRAM
    assert client.read(authority, "isNonceUsed", 1) is True


def test_mint_with_all_three_signatures(client, coin, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=7)
    signers = [dev["authority_issuer"], dev["authority_operator"], dev["authority_custodian"]]

    outcome = execute_mint(client, dev["exchange"], mint, sign_all(client, mint, signers))

    assert outcome.ok, outcome.error
    executed = [event for event in outcome.events if event.name == "MintExecuted"]
    assert executed[0].args["approvals"] == 3


def test_replayed_approvals_fail(client, coin, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])
    assert execute_mint(client, dev["exchange"], mint, approvals).ok

    replay = execute_mint(client, dev["exchange"], mint, approvals)

    assert_reverted_with(replay, "NonceUsed")
    assert replay.error.args == (1,)
    assert balance_of(client, coin, dev["customer"].address) == GRAM


def test_nonce_reuse_with_other_fields_fails(client, dev, reserve):
    assert mint_with_quorum(client, dev, dev["customer"].address, GRAM, nonce=9).ok

    outcome = mint_with_quorum(client, dev, dev["exchange"].address, 2 * GRAM, nonce=9)

    assert_reverted_with(outcome, "NonceUsed")


def test_expired_proposal_fails(client, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1, valid_for=-1)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])

    outcome = execute_mint(client, dev["exchange"], mint, approvals)

    assert_reverted_with(outcome, "ProposalExpired")
    assert outcome.error.args[0] == mint.expiry


@pytest.mark.time_control
def test_proposal_expires_after_expiry(client, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1, valid_for=60)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])

    client.backend.set_next_block_timestamp(mint.expiry + 1)
    outcome = execute_mint(client, dev["exchange"], mint, approvals)

    assert_reverted_with(outcome, "ProposalExpired")
    assert outcome.error.args == (mint.expiry, mint.expiry + 1)


@pytest.mark.time_control
def test_proposal_valid_at_expiry_second(client, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1, valid_for=60)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])

    client.backend.set_next_block_timestamp(mint.expiry)
    outcome = execute_mint(client, dev["exchange"], mint, approvals)

    assert outcome.ok, outcome.error


def test_signature_for_other_chain_fails(client, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    wrong_chain = sign_mint_proposal(
        dev["authority_issuer"].private_key, mint, client.chain_id + 1, MINT_AUTHORITY_ADDRESS
    )
    good = sign_all(client, mint, [dev["authority_operator"]])

    outcome = execute_mint(client, dev["exchange"], mint, [wrong_chain, *good])

    assert_reverted_with(outcome, "InvalidSignature")
    assert outcome.error.args == (dev["authority_issuer"].address,)


def test_signature_for_other_contract_fails(client, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    wrong_contract = sign_mint_proposal(
        dev["authority_issuer"].private_key, mint, client.chain_id, "0x00000000000000000000000000000000000c0999"
    )
    good = sign_all(client, mint, [dev["authority_operator"]])

    outcome = execute_mint(client, dev["exchange"], mint, [wrong_contract, *good])

    assert_reverted_with(outcome, "InvalidSignature")


def test_signature_over_other_amount_fails(client, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    bigger = proposal(client, dev["customer"].address, 2 * GRAM, nonce=1)
    approvals = sign_all(client, mint, [dev["authority_issuer"]]) + sign_all(
        client, bigger, [dev["authority_operator"]]
    )

    outcome = execute_mint(client, dev["exchange"], bigger, approvals)

    assert_reverted_with(outcome, "InvalidSignature")
    assert outcome.error.args == (dev["authority_issuer"].address,)


def test_signature_by_non_authority_fails(client, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["admin"]])

    outcome = execute_mint(client, dev["exchange"], mint, approvals)

    assert_reverted_with(outcome, "NotAuthority")
    assert outcome.error.args == (dev["admin"].address,)


def test_duplicate_signature_fails(client, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    [approval] = sign_all(client, mint, [dev["authority_issuer"]])
    # Bypass the client-side sorting, which would reject the duplicate before sending.
    data = authority.interface.encode_call("executeMint", mint.to_abi(), approvals_to_abi([approval, approval]))

    outcome = client.send_raw(dev["exchange"].private_key, authority.address, data)

    assert_reverted_with(outcome, "SignersNotAscending")


def test_unsorted_signatures_fail(client, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])
    descending = sorted(approvals, key=lambda approval: int(approval.authority, 16), reverse=True)
    data = authority.interface.encode_call("executeMint", mint.to_abi(), approvals_to_abi(descending))

    outcome = client.send_raw(dev["exchange"].private_key, authority.address, data)

    assert_reverted_with(outcome, "SignersNotAscending")


def test_onchain_approval_counts(client, coin, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    proposal_hash = mint_proposal_digest(mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    approved = client.send(dev["authority_operator"].private_key, authority, "approve", proposal_hash)
    assert approved.ok, approved.error
    assert approved.event_names() == ["Approved"]

    outcome = execute_mint(client, dev["exchange"], mint, sign_all(client, mint, [dev["authority_custodian"]]))

    assert outcome.ok, outcome.error
    assert balance_of(client, coin, dev["customer"].address) == GRAM


def test_onchain_approvals_alone_reach_quorum(client, coin, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    proposal_hash = mint_proposal_digest(mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    for role in ("authority_issuer", "authority_custodian"):
        assert client.send(dev[role].private_key, authority, "approve", proposal_hash).ok

    outcome = execute_mint(client, dev["exchange"], mint, [])

    assert outcome.ok, outcome.error


def test_onchain_approval_plus_own_signature_fails(client, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    proposal_hash = mint_proposal_digest(mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    assert client.send(dev["authority_issuer"].private_key, authority, "approve", proposal_hash).ok

    outcome = execute_mint(client, dev["exchange"], mint, sign_all(client, mint, [dev["authority_issuer"]]))

    assert_reverted_with(outcome, "DuplicateApproval")


def test_revoked_onchain_approval_stops_counting(client, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    proposal_hash = mint_proposal_digest(mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    operator = dev["authority_operator"].private_key
    assert client.send(operator, authority, "approve", proposal_hash).ok
    revoked = client.send(operator, authority, "revokeApproval", proposal_hash)
    assert revoked.event_names() == ["ApprovalRevoked"]

    outcome = execute_mint(client, dev["exchange"], mint, sign_all(client, mint, [dev["authority_custodian"]]))

    assert_reverted_with(outcome, "InsufficientApprovals")


def test_approve_twice_fails(client, authority, dev):
    operator = dev["authority_operator"].private_key
    assert client.send(operator, authority, "approve", b"\x01" * 32).ok

    outcome = client.send(operator, authority, "approve", b"\x01" * 32)

    assert_reverted_with(outcome, "AlreadyApproved")


def test_approve_by_non_authority_fails(client, authority, dev):
    outcome = client.send(dev["customer"].private_key, authority, "approve", b"\x01" * 32)

    assert_reverted_with(outcome, "NotAuthority")


def test_propose_emits_event_only(client, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)

    outcome = client.send(dev["authority_issuer"].private_key, authority, "proposeMint", mint.to_abi())

    assert outcome.ok, outcome.error
    [event] = outcome.events
    assert event.name == "MintProposed"
    assert event.args["proposalHash"] == mint_proposal_digest(mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    assert event.args["proposer"] == dev["authority_issuer"].address
    proposal_hash = event.args["proposalHash"]
    assert client.read(authority, "isApprovedOnChain", proposal_hash, dev["authority_issuer"].address) is False


def test_single_authority_cancels_mint(client, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])

    cancelled = client.send(dev["authority_custodian"].private_key, authority, "cancelMint", mint.to_abi())
    outcome = execute_mint(client, dev["exchange"], mint, approvals)

    assert cancelled.event_names() == ["MintCancelled"]
    assert_reverted_with(outcome, "ProposalCancelled")


def test_cancel_by_non_authority_fails(client, authority, dev, reserve):
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)

    outcome = client.send(dev["admin"].private_key, authority, "cancelMint", mint.to_abi())

    assert_reverted_with(outcome, "NotAuthority")


def test_cancel_leaves_nonce_free(client, authority, dev, reserve):
    cancelled = proposal(client, dev["customer"].address, GRAM, nonce=1)
    assert client.send(dev["authority_issuer"].private_key, authority, "cancelMint", cancelled.to_abi()).ok

    outcome = mint_with_quorum(client, dev, dev["customer"].address, 2 * GRAM, nonce=1)

    assert outcome.ok, outcome.error


def test_daily_limit_exceeded(client, coin, authority, dev):
    attest(client, coin, dev["attestor"], 3_000_000)
    assert mint_with_quorum(client, dev, dev["customer"].address, 600_000 * GRAM, nonce=1).ok

    outcome = mint_with_quorum(client, dev, dev["customer"].address, 600_000 * GRAM, nonce=2)

    assert_reverted_with(outcome, "DailyLimitExceeded")
    limit = client.read(authority, "dailyLimit", dev["authority_issuer"].address)
    authority_address, used, amount, reported_limit = outcome.error.args
    assert authority_address in (dev["authority_issuer"].address, dev["authority_custodian"].address)
    assert (used, amount, reported_limit) == (600_000 * GRAM, 600_000 * GRAM, limit)


def test_daily_limit_is_per_authority(client, coin, dev):
    attest(client, coin, dev["attestor"], 3_000_000)
    assert mint_with_quorum(client, dev, dev["customer"].address, 600_000 * GRAM, nonce=1).ok

    # The operator has used nothing today, but the custodian has; the operator and issuer pair
    # still fails on the issuer.
    mint = proposal(client, dev["customer"].address, 600_000 * GRAM, nonce=2)
    fails = execute_mint(
        client, dev["exchange"], mint, sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])
    )
    assert_reverted_with(fails, "DailyLimitExceeded")
    assert fails.error.args[0] == dev["authority_issuer"].address

    mint = proposal(client, dev["customer"].address, 600_000 * GRAM, nonce=3)
    outcome = execute_mint(client, dev["exchange"], mint, sign_all(client, mint, [dev["authority_operator"]]))
    assert_reverted_with(outcome, "InsufficientApprovals")


@pytest.mark.time_control
def test_daily_limit_resets_next_utc_day(client, coin, authority, dev):
    attest(client, coin, dev["attestor"], 3_000_000)
    assert mint_with_quorum(client, dev, dev["customer"].address, 600_000 * GRAM, nonce=1).ok
    issuer = dev["authority_issuer"].address
    assert client.read(authority, "remainingToday", issuer) == 400_000 * GRAM

    next_midnight = (client.backend.latest_timestamp() // DAY + 1) * DAY
    mint = proposal(client, dev["customer"].address, 600_000 * GRAM, nonce=2, valid_for=2 * DAY)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_custodian"]])
    client.backend.set_next_block_timestamp(next_midnight)
    outcome = execute_mint(client, dev["exchange"], mint, approvals)

    assert outcome.ok, outcome.error
    assert client.read(authority, "mintedOnDay", issuer, next_midnight // DAY) == 600_000 * GRAM


def _set_change(client, limits, threshold, nonce):
    return AuthoritySetChange.from_limits(
        limits, threshold=threshold, expiry=client.backend.latest_timestamp() + 3600, nonce=nonce
    )


def _execute_set_change(client, dev, change, signers):
    approvals = [
        sign_authority_set_change(signer.private_key, change, client.chain_id, MINT_AUTHORITY_ADDRESS)
        for signer in signers
    ]
    data = execute_authority_set_change_call_data(change, approvals)
    return client.send_raw(dev["exchange"].private_key, MINT_AUTHORITY_ADDRESS, data)


def test_set_change_without_quorum_fails(client, authority, dev):
    change = _set_change(client, {dev["authority_issuer"].address: GRAM, dev["admin"].address: GRAM}, 1, nonce=50)

    outcome = _execute_set_change(client, dev, change, [dev["authority_issuer"]])

    assert_reverted_with(outcome, "InsufficientApprovals")
    assert len(client.read(authority, "authorities")) == 3


def test_set_change_with_quorum_applies(client, coin, authority, dev, reserve):
    new_limits = {
        dev["authority_issuer"].address: 10 * GRAM,
        dev["authority_operator"].address: 20 * GRAM,
    }
    change = _set_change(client, new_limits, 2, nonce=50)

    outcome = _execute_set_change(client, dev, change, [dev["authority_operator"], dev["authority_custodian"]])

    assert outcome.ok, outcome.error
    assert outcome.event_names() == ["AuthoritySetChanged"]
    assert client.read(authority, "authorities") == list(change.authorities)
    assert client.read(authority, "threshold") == 2
    assert client.read(authority, "dailyLimit", dev["authority_operator"].address) == 20 * GRAM
    assert client.read(authority, "isAuthority", dev["authority_custodian"].address) is False
    assert client.read(authority, "dailyLimit", dev["authority_custodian"].address) == 0

    # The removed custodian's signature no longer counts, and the new limits apply.
    removed = mint_with_quorum(client, dev, dev["customer"].address, GRAM, nonce=1)
    assert_reverted_with(removed, "NotAuthority")
    mint = proposal(client, dev["customer"].address, 11 * GRAM, nonce=2)
    over_limit = execute_mint(
        client, dev["exchange"], mint, sign_all(client, mint, [dev["authority_issuer"], dev["authority_operator"]])
    )
    assert_reverted_with(over_limit, "DailyLimitExceeded")


def test_set_change_replay_fails(client, dev):
    limits = {dev["authority_issuer"].address: GRAM, dev["authority_operator"].address: GRAM}
    change = _set_change(client, limits, 1, nonce=50)
    assert _execute_set_change(client, dev, change, [dev["authority_issuer"], dev["authority_operator"]]).ok

    replay = _execute_set_change(client, dev, change, [dev["authority_issuer"]])

    assert_reverted_with(replay, "NonceUsed")


def test_set_change_with_invalid_threshold_fails(client, dev):
    change = _set_change(client, {dev["authority_issuer"].address: GRAM}, 2, nonce=50)

    outcome = _execute_set_change(client, dev, change, [dev["authority_issuer"], dev["authority_operator"]])

    assert_reverted_with(outcome, "InvalidThreshold")
    assert outcome.error.args == (2, 1)


def test_set_change_with_unsorted_authorities_fails(client, dev):
    sorted_change = _set_change(
        client, {dev["authority_issuer"].address: GRAM, dev["authority_operator"].address: GRAM}, 1, nonce=50
    )
    unsorted = AuthoritySetChange(
        authorities=tuple(reversed(sorted_change.authorities)),
        daily_limits=sorted_change.daily_limits,
        threshold=1,
        expiry=sorted_change.expiry,
        nonce=50,
    )

    outcome = _execute_set_change(client, dev, unsorted, [dev["authority_issuer"], dev["authority_operator"]])

    assert_reverted_with(outcome, "AuthoritiesNotAscending")


def test_set_change_signed_as_mint_fails(client, dev):
    """A set-change signature cannot be replayed as a mint approval: the type hash differs."""
    change = _set_change(client, {dev["authority_issuer"].address: GRAM}, 1, nonce=50)
    approvals = [
        sign_authority_set_change(signer.private_key, change, client.chain_id, MINT_AUTHORITY_ADDRESS)
        for signer in (dev["authority_issuer"], dev["authority_operator"])
    ]
    mint = proposal(client, dev["customer"].address, GRAM, nonce=50)
    disguised = [Approval(approval.authority, approval.signature) for approval in approvals]

    outcome = execute_mint(client, dev["exchange"], mint, disguised)

    assert_reverted_with(outcome, "InvalidSignature")


def test_contract_authority_signs_and_approves(client, coin, authority, dev, reserve):
    """A contract authority (standing in for a Safe) approves by ERC-1271 signature and on chain."""
    artifact = load_artifact(TEST_CONTRACT_AUTHORITY)
    wallet_owner = dev["exchange"]
    wallet = client.deploy(
        wallet_owner.private_key, contract_authority_mock_interface(), artifact.bytecode, wallet_owner.address
    )
    change = _set_change(client, {wallet.address: 100 * GRAM, dev["authority_issuer"].address: 100 * GRAM}, 2, nonce=50)
    assert _execute_set_change(client, dev, change, [dev["authority_issuer"], dev["authority_operator"]]).ok

    # ERC-1271: the wallet's owner signs the digest, and the wallet vouches for it.
    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    owner_signature = sign_mint_proposal(wallet_owner.private_key, mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    wallet_approval = Approval(authority=wallet.address, signature=owner_signature.signature)
    signed = execute_mint(
        client, dev["customer"], mint, [wallet_approval, *sign_all(client, mint, [dev["authority_issuer"]])]
    )
    assert signed.ok, signed.error

    # On chain: the wallet calls approve(proposalHash) itself.
    mint = proposal(client, dev["customer"].address, GRAM, nonce=2)
    proposal_hash = mint_proposal_digest(mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    approve_data = authority.interface.encode_call("approve", proposal_hash)
    forwarded = client.send(wallet_owner.private_key, wallet, "execute", authority.address, approve_data)
    assert forwarded.ok, forwarded.error
    assert client.read(authority, "isApprovedOnChain", proposal_hash, wallet.address) is True
    approved = execute_mint(client, dev["customer"], mint, sign_all(client, mint, [dev["authority_issuer"]]))
    assert approved.ok, approved.error

    assert balance_of(client, coin, dev["customer"].address) == 2 * GRAM


def test_contract_authority_rejects_foreign_signature(client, coin, authority, dev, reserve):
    artifact = load_artifact(TEST_CONTRACT_AUTHORITY)
    wallet = client.deploy(
        dev["exchange"].private_key, contract_authority_mock_interface(), artifact.bytecode, dev["exchange"].address
    )
    change = _set_change(client, {wallet.address: 100 * GRAM, dev["authority_issuer"].address: 100 * GRAM}, 2, nonce=50)
    assert _execute_set_change(client, dev, change, [dev["authority_issuer"], dev["authority_operator"]]).ok

    mint = proposal(client, dev["customer"].address, GRAM, nonce=1)
    stranger = sign_mint_proposal(dev["customer"].private_key, mint, client.chain_id, MINT_AUTHORITY_ADDRESS)
    forged = Approval(authority=wallet.address, signature=stranger.signature)
    outcome = execute_mint(client, dev["customer"], mint, [forged, *sign_all(client, mint, [dev["authority_issuer"]])])

    assert_reverted_with(outcome, "InvalidSignature")
    assert outcome.error.args == (wallet.address,)


def test_zero_amount_proposal_fails(client, dev, reserve):
    outcome = mint_with_quorum(client, dev, dev["customer"].address, 0, nonce=1)

    assert_reverted_with(outcome, "ZeroAmount")

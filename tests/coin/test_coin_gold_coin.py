"""GoldCoin: reserve cap and attestations, pause, freeze, allowlist, burning and permit."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from node.coin.predeploy import DEFAULT_TOKEN_NAME, GOLD_COIN_ADDRESS
from tests.coin.coin_client import CallReverted
from tests.coin.coin_flows import GRAM, assert_reverted_with, attest, balance_of, mint_with_quorum


@pytest.fixture
def funded(client, coin, dev):
    """Attest 1,000 g and mint 100 g each to the customer, the exchange and the burner."""
    attest(client, coin, dev["attestor"], 1_000)
    for nonce, role in enumerate(("customer", "exchange", "burner"), start=1):
        outcome = mint_with_quorum(client, dev, dev[role].address, 100 * GRAM, nonce=nonce)
        assert outcome.ok, outcome.error


# ---------------------------------------------------------------- reserve cap


def test_mint_above_reserve_fails(client, coin, dev):
    attest(client, coin, dev["attestor"], 10)

    outcome = mint_with_quorum(client, dev, dev["customer"].address, 10 * GRAM + 1, nonce=1)

    assert_reverted_with(outcome, "ReserveExceeded")
    assert outcome.error.args == (10 * GRAM + 1, 10 * GRAM)


def test_mint_up_to_reserve_succeeds(client, coin, dev):
    attest(client, coin, dev["attestor"], 10)

    outcome = mint_with_quorum(client, dev, dev["customer"].address, 10 * GRAM, nonce=1)

    assert outcome.ok, outcome.error
    assert client.read(coin, "totalSupply") == 10 * GRAM


def test_mint_cap_counts_existing_supply(client, coin, dev):
    attest(client, coin, dev["attestor"], 10)
    assert mint_with_quorum(client, dev, dev["customer"].address, 6 * GRAM, nonce=1).ok

    outcome = mint_with_quorum(client, dev, dev["customer"].address, 5 * GRAM, nonce=2)

    assert_reverted_with(outcome, "ReserveExceeded")
    assert outcome.error.args == (11 * GRAM, 10 * GRAM)


def test_mint_without_attestation_fails(client, dev):
    outcome = mint_with_quorum(client, dev, dev["customer"].address, GRAM, nonce=1)

    assert_reverted_with(outcome, "ReserveExceeded")
    assert outcome.error.args == (GRAM, 0)


def test_reserve_below_supply_blocks_mints(client, coin, dev, funded):
    as_of = client.backend.latest_timestamp()
    lowered = client.send(dev["attestor"].private_key, coin, "attestReserve", 250 * GRAM, b"\x0b" * 32, as_of)
    assert lowered.ok, lowered.error

    outcome = mint_with_quorum(client, dev, dev["customer"].address, GRAM, nonce=10)

    assert_reverted_with(outcome, "ReserveExceeded")
    assert outcome.error.args == (301 * GRAM, 250 * GRAM)


def test_attestation_history(client, coin, dev):
    attestor = dev["attestor"]
    first_as_of = client.backend.latest_timestamp()
    first = client.send(attestor.private_key, coin, "attestReserve", 5 * GRAM, b"\x01" * 32, first_as_of)
    second_as_of = client.backend.latest_timestamp()
    second = client.send(attestor.private_key, coin, "attestReserve", 7 * GRAM, b"\x02" * 32, second_as_of)

    assert first.event_names() == ["ReserveAttested"]
    assert second.events[0].args["index"] == 1
    assert client.read(coin, "attestationCount") == 2
    reserve, report_hash, as_of, attested_at, recorded_attestor = client.read(coin, "attestation", 0)
    assert (reserve, report_hash, as_of) == (5 * GRAM, b"\x01" * 32, first_as_of)
    assert attested_at == first.receipt.block_timestamp
    assert recorded_attestor == attestor.address
    assert client.read(coin, "latestAttestation")[:3] == (7 * GRAM, b"\x02" * 32, second_as_of)
    assert client.read(coin, "latestReserve") == 7 * GRAM


def test_attestation_index_out_of_range(client, coin, dev):
    attest(client, coin, dev["attestor"], 5)

    with pytest.raises(CallReverted) as raised:
        client.read(coin, "attestation", 1)

    assert raised.value.error.name == "AttestationNotFound"
    assert raised.value.error.args == (1, 1)


def test_latest_attestation_without_any(client, coin):
    with pytest.raises(CallReverted) as raised:
        client.read(coin, "latestAttestation")

    assert raised.value.error.name == "AttestationNotFound"
    assert client.read(coin, "latestReserve") == 0


def test_stale_attestation_fails(client, coin, dev):
    as_of = client.backend.latest_timestamp()
    assert client.send(dev["attestor"].private_key, coin, "attestReserve", GRAM, b"\x01" * 32, as_of).ok

    outcome = client.send(dev["attestor"].private_key, coin, "attestReserve", 2 * GRAM, b"\x02" * 32, as_of)

    assert_reverted_with(outcome, "StaleAttestation")
    assert outcome.error.args == (as_of, as_of)


def test_attestation_from_future_fails(client, coin, dev):
    future = client.backend.latest_timestamp() + 3600

    outcome = client.send(dev["attestor"].private_key, coin, "attestReserve", GRAM, b"\x01" * 32, future)

    assert_reverted_with(outcome, "AttestationFromFuture")


# ---------------------------------------------------------------- pause


def test_pause_blocks_transfer_mint_and_burn(client, coin, dev, funded):
    paused = client.send(dev["pauser"].private_key, coin, "pause")
    assert paused.event_names() == ["Paused"]

    transfer = client.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)
    mint = mint_with_quorum(client, dev, dev["customer"].address, GRAM, nonce=10)
    burn = client.send(dev["burner"].private_key, coin, "burn", GRAM)

    assert_reverted_with(transfer, "EnforcedPause")
    assert_reverted_with(mint, "EnforcedPause")
    assert_reverted_with(burn, "EnforcedPause")


def test_pause_allows_approve(client, coin, dev, funded):
    assert client.send(dev["pauser"].private_key, coin, "pause").ok

    outcome = client.send(dev["customer"].private_key, coin, "approve", dev["exchange"].address, GRAM)

    assert outcome.ok, outcome.error


def test_unpause_restores_transfers(client, coin, dev, funded):
    assert client.send(dev["pauser"].private_key, coin, "pause").ok
    unpaused = client.send(dev["pauser"].private_key, coin, "unpause")

    transfer = client.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)

    assert unpaused.event_names() == ["Unpaused"]
    assert transfer.ok, transfer.error
    assert balance_of(client, coin, dev["exchange"].address) == 101 * GRAM


# ---------------------------------------------------------------- freeze


def test_frozen_account_cannot_send(client, coin, dev, funded):
    frozen = client.send(dev["compliance"].private_key, coin, "freeze", dev["customer"].address)
    assert frozen.event_names() == ["Frozen"]

    outcome = client.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)

    assert_reverted_with(outcome, "AccountFrozen")
    assert outcome.error.args == (dev["customer"].address,)


def test_frozen_account_cannot_receive(client, coin, dev, funded):
    assert client.send(dev["compliance"].private_key, coin, "freeze", dev["customer"].address).ok

    outcome = client.send(dev["exchange"].private_key, coin, "transfer", dev["customer"].address, GRAM)

    assert_reverted_with(outcome, "AccountFrozen")


def test_mint_to_frozen_account_fails(client, coin, dev, funded):
    assert client.send(dev["compliance"].private_key, coin, "freeze", dev["customer"].address).ok

    outcome = mint_with_quorum(client, dev, dev["customer"].address, GRAM, nonce=10)

    assert_reverted_with(outcome, "AccountFrozen")


def test_frozen_spender_cannot_transfer_from(client, coin, dev, funded):
    assert client.send(dev["customer"].private_key, coin, "approve", dev["exchange"].address, GRAM).ok
    assert client.send(dev["compliance"].private_key, coin, "freeze", dev["exchange"].address).ok

    outcome = client.send(
        dev["exchange"].private_key, coin, "transferFrom", dev["customer"].address, dev["admin"].address, GRAM
    )

    assert_reverted_with(outcome, "AccountFrozen")
    assert outcome.error.args == (dev["exchange"].address,)


def test_unfreeze_restores_transfers(client, coin, dev, funded):
    compliance = dev["compliance"].private_key
    assert client.send(compliance, coin, "freeze", dev["customer"].address).ok
    unfrozen = client.send(compliance, coin, "unfreeze", dev["customer"].address)

    outcome = client.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)

    assert unfrozen.event_names() == ["Unfrozen"]
    assert outcome.ok, outcome.error
    assert client.read(coin, "isFrozen", dev["customer"].address) is False


def test_freeze_twice_emits_once(client, coin, dev):
    compliance = dev["compliance"].private_key
    first = client.send(compliance, coin, "freeze", dev["customer"].address)
    second = client.send(compliance, coin, "freeze", dev["customer"].address)

    assert first.event_names() == ["Frozen"]
    assert second.ok
    assert second.event_names() == []


# ---------------------------------------------------------------- allowlist


def test_allowlist_functions_fail_when_mode_off(client, coin, dev):
    outcome = client.send(dev["compliance"].private_key, coin, "addToAllowlist", dev["customer"].address)

    assert_reverted_with(outcome, "AllowlistModeOff")
    assert client.read(coin, "allowlistMode") is False


def test_allowlist_mode_blocks_unlisted_recipient(allowlist_client, coin, dev):
    client = allowlist_client
    attest(client, coin, dev["attestor"], 100)

    outcome = mint_with_quorum(client, dev, dev["customer"].address, GRAM, nonce=1)

    assert_reverted_with(outcome, "NotAllowlisted")
    assert outcome.error.args == (dev["customer"].address,)


def test_allowlist_mode_admits_listed_accounts(allowlist_client, coin, dev):
    client = allowlist_client
    attest(client, coin, dev["attestor"], 100)
    for role in ("customer", "exchange"):
        listed = client.send(dev["compliance"].private_key, coin, "addToAllowlist", dev[role].address)
        assert listed.event_names() == ["Allowlisted"]

    minted = mint_with_quorum(client, dev, dev["customer"].address, 2 * GRAM, nonce=1)
    moved = client.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)
    blocked = client.send(dev["customer"].private_key, coin, "transfer", dev["admin"].address, GRAM)

    assert minted.ok, minted.error
    assert moved.ok, moved.error
    assert_reverted_with(blocked, "NotAllowlisted")
    assert blocked.error.args == (dev["admin"].address,)


def test_allowlist_removal_blocks_sending(allowlist_client, coin, dev):
    client = allowlist_client
    compliance = dev["compliance"].private_key
    attest(client, coin, dev["attestor"], 100)
    for role in ("customer", "exchange"):
        assert client.send(compliance, coin, "addToAllowlist", dev[role].address).ok
    assert mint_with_quorum(client, dev, dev["customer"].address, 2 * GRAM, nonce=1).ok

    removed = client.send(compliance, coin, "removeFromAllowlist", dev["customer"].address)
    outcome = client.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)

    assert removed.event_names() == ["RemovedFromAllowlist"]
    assert_reverted_with(outcome, "NotAllowlisted")
    assert outcome.error.args == (dev["customer"].address,)


# ---------------------------------------------------------------- burning


def test_burner_burns_own_balance(client, coin, dev, funded):
    outcome = client.send(dev["burner"].private_key, coin, "burn", 40 * GRAM)

    assert outcome.ok, outcome.error
    assert balance_of(client, coin, dev["burner"].address) == 60 * GRAM
    assert client.read(coin, "totalSupply") == 260 * GRAM


def test_burner_burns_from_approving_holder(client, coin, dev, funded):
    assert client.send(dev["customer"].private_key, coin, "approve", dev["burner"].address, 30 * GRAM).ok

    outcome = client.send(dev["burner"].private_key, coin, "burnFrom", dev["customer"].address, 30 * GRAM)

    assert outcome.ok, outcome.error
    assert balance_of(client, coin, dev["customer"].address) == 70 * GRAM
    assert client.read(coin, "allowance", dev["customer"].address, dev["burner"].address) == 0


def test_burn_from_without_allowance_fails(client, coin, dev, funded):
    outcome = client.send(dev["burner"].private_key, coin, "burnFrom", dev["customer"].address, GRAM)

    assert_reverted_with(outcome, "ERC20InsufficientAllowance")


def test_burn_from_frozen_holder_fails(client, coin, dev, funded):
    assert client.send(dev["customer"].private_key, coin, "approve", dev["burner"].address, GRAM).ok
    assert client.send(dev["compliance"].private_key, coin, "freeze", dev["customer"].address).ok

    outcome = client.send(dev["burner"].private_key, coin, "burnFrom", dev["customer"].address, GRAM)

    assert_reverted_with(outcome, "AccountFrozen")


def test_holder_cannot_burn(client, coin, dev, funded):
    outcome = client.send(dev["customer"].private_key, coin, "burn", GRAM)

    assert_reverted_with(outcome, "AccessControlUnauthorizedAccount")


def test_burn_frees_room_under_reserve(client, coin, dev):
    attest(client, coin, dev["attestor"], 10)
    assert mint_with_quorum(client, dev, dev["burner"].address, 10 * GRAM, nonce=1).ok
    assert client.send(dev["burner"].private_key, coin, "burn", 4 * GRAM).ok

    outcome = mint_with_quorum(client, dev, dev["customer"].address, 4 * GRAM, nonce=2)

    assert outcome.ok, outcome.error


# ---------------------------------------------------------------- permit


def _permit_signature(client, owner, spender: str, value: int, deadline: int) -> tuple[int, bytes, bytes]:
    message = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": DEFAULT_TOKEN_NAME,
            "version": "1",
            "chainId": client.chain_id,
            "verifyingContract": GOLD_COIN_ADDRESS,
        },
        "message": {"owner": owner.address, "spender": spender, "value": value, "nonce": 0, "deadline": deadline},
    }
    signed = Account.sign_message(encode_typed_data(full_message=message), owner.private_key)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def test_permit_sets_allowance(client, coin, dev, funded):
    customer, spender = dev["customer"], dev["burner"].address
    deadline = client.backend.latest_timestamp() + 600
    v, r, s = _permit_signature(client, customer, spender, 25 * GRAM, deadline)

    # Anyone may submit the permit; here the exchange wallet pays the gas.
    outcome = client.send(
        dev["exchange"].private_key, coin, "permit", customer.address, spender, 25 * GRAM, deadline, v, r, s
    )

    assert outcome.ok, outcome.error
    assert client.read(coin, "allowance", customer.address, spender) == 25 * GRAM
    assert client.read(coin, "nonces", customer.address) == 1


def test_permit_replay_fails(client, coin, dev, funded):
    customer, spender = dev["customer"], dev["burner"].address
    deadline = client.backend.latest_timestamp() + 600
    v, r, s = _permit_signature(client, customer, spender, 25 * GRAM, deadline)
    args = (customer.address, spender, 25 * GRAM, deadline, v, r, s)
    assert client.send(dev["exchange"].private_key, coin, "permit", *args).ok

    outcome = client.send(dev["exchange"].private_key, coin, "permit", *args)

    assert_reverted_with(outcome, "ERC2612InvalidSigner")

"""The coin's rules, checked on the in-process chain and on a real ``kura dev`` node.

Every test runs once per backend. Each backend's chain is shared by the whole module, so tests
use fresh proposal nonces, top up the reserve and balances they need, and undo pause and freeze
before they return. Independent transactions go out as one batch, which a node mines in a single
block, to keep the node run short.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import keccak

from node.coin.dev_roles import DevAccount, dev_accounts
from node.coin.eip712 import mint_proposal_digest
from node.coin.predeploy import MINT_AUTHORITY_ADDRESS
from node.coin.transactions import execute_mint_call_data
from tests.coin.coin_client import CoinClient, Contract, TxOutcome, TxRequest
from tests.coin.coin_flows import GRAM, assert_reverted_with, balance_of, proposal, sign_all
from tests.coin.coin_node import NodeChain, start_dev_node
from tests.coin.conftest import make_chain, make_client

BACKENDS = ["in-process", "node"]
DEFAULT_ADMIN_ROLE = b"\x00" * 32
#: Reserve headroom each top-up leaves above the supply.
TOP_UP_GRAMS = 10_000

#: Proposal nonces, unique across the module so no test consumes another's nonce.
_nonces = itertools.count(1)


def _start_backend(kind: str, directory: Path, *, allowlist_mode: bool) -> Iterator[CoinClient]:
    if kind == "in-process":
        yield make_client(make_chain(allowlist_mode=allowlist_mode))
        return
    process = start_dev_node(directory, allowlist_mode=allowlist_mode)
    try:
        yield make_client(NodeChain(process.url))
    finally:
        process.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoinClient]:
    """One chain per backend with the dev genesis (allowlist mode off)."""
    yield from _start_backend(request.param, tmp_path_factory.mktemp("node"), allowlist_mode=False)


@pytest.fixture(scope="module", params=BACKENDS)
def allowlist_chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoinClient]:
    """One chain per backend whose GoldCoin has allowlist mode on."""
    yield from _start_backend(request.param, tmp_path_factory.mktemp("allowlist-node"), allowlist_mode=True)


@pytest.fixture(scope="module")
def dev() -> dict[str, DevAccount]:
    return dev_accounts()


# ---------------------------------------------------------------- helpers


def mint_request(client: CoinClient, dev: dict[str, DevAccount], recipient: str, amount: int) -> TxRequest:
    """Build an executeMint with the issuer's and custodian's signatures, sent by the exchange."""
    mint = proposal(client, recipient, amount, next(_nonces))
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_custodian"]])
    return TxRequest(dev["exchange"].private_key, MINT_AUTHORITY_ADDRESS, execute_mint_call_data(mint, approvals))


def mint(client: CoinClient, dev: dict[str, DevAccount], recipient: str, amount: int) -> TxOutcome:
    return client.send_batch([mint_request(client, dev, recipient, amount)])[0]


def attest_reserve(client: CoinClient, coin: Contract, dev: dict[str, DevAccount], reserve: int) -> None:
    """Attest ``reserve`` base units, dated at the latest block's timestamp."""
    as_of = client.backend.latest_timestamp()
    outcome = client.send(dev["attestor"].private_key, coin, "attestReserve", reserve, b"\x0a" * 32, as_of)
    assert outcome.ok, f"attestReserve failed: {outcome.error}"


def ensure_headroom(client: CoinClient, coin: Contract, dev: dict[str, DevAccount], amount: int) -> None:
    """Attest a higher reserve when less than ``amount`` may still be minted."""
    supply = client.read(coin, "totalSupply")
    if client.read(coin, "latestReserve") - supply < amount:
        attest_reserve(client, coin, dev, supply + amount + TOP_UP_GRAMS * GRAM)


def ensure_balances(
    client: CoinClient, coin: Contract, dev: dict[str, DevAccount], roles: list[str], amount: int
) -> None:
    """Mint to each of ``roles`` whose balance is below ``amount``, all in one batch."""
    short = [role for role in roles if balance_of(client, coin, dev[role].address) < amount]
    if not short:
        return
    ensure_headroom(client, coin, dev, amount * len(short))
    outcomes = client.send_batch([mint_request(client, dev, dev[role].address, amount) for role in short])
    for role, outcome in zip(short, outcomes, strict=True):
        assert outcome.ok, f"mint to {role} failed: {outcome.error}"


# ---------------------------------------------------------------- quorum, replay and expiry


def test_mint_below_threshold_fails(chain, coin, dev):
    ensure_headroom(chain, coin, dev, GRAM)
    before = balance_of(chain, coin, dev["customer"].address)
    mint_proposal = proposal(chain, dev["customer"].address, GRAM, next(_nonces))
    approvals = sign_all(chain, mint_proposal, [dev["authority_operator"]])

    outcome = chain.send_raw(
        dev["exchange"].private_key, MINT_AUTHORITY_ADDRESS, execute_mint_call_data(mint_proposal, approvals)
    )

    assert_reverted_with(outcome, "InsufficientApprovals")
    assert outcome.error.args == (1, 2)
    assert balance_of(chain, coin, dev["customer"].address) == before


def test_mint_at_threshold_succeeds(chain, coin, dev):
    ensure_headroom(chain, coin, dev, 5 * GRAM)
    supply = chain.read(coin, "totalSupply")
    before = balance_of(chain, coin, dev["customer"].address)

    outcome = mint(chain, dev, dev["customer"].address, 5 * GRAM)

    assert outcome.ok, outcome.error
    executed = [event for event in outcome.events if event.name == "MintExecuted"]
    assert len(executed) == 1
    assert executed[0].args["approvals"] == 2
    assert balance_of(chain, coin, dev["customer"].address) == before + 5 * GRAM
    assert chain.read(coin, "totalSupply") == supply + 5 * GRAM


def test_replayed_approvals_fail(chain, coin, dev):
    ensure_headroom(chain, coin, dev, GRAM)
    request = mint_request(chain, dev, dev["customer"].address, GRAM)
    assert chain.send_batch([request])[0].ok
    supply = chain.read(coin, "totalSupply")

    replay = chain.send_batch([request])[0]

    assert_reverted_with(replay, "NonceUsed")
    assert chain.read(coin, "totalSupply") == supply


def test_expired_approvals_fail(chain, coin, dev):
    ensure_headroom(chain, coin, dev, GRAM)
    mint_proposal = proposal(chain, dev["customer"].address, GRAM, next(_nonces), valid_for=1)
    approvals = sign_all(chain, mint_proposal, [dev["authority_issuer"], dev["authority_operator"]])

    chain.backend.wait_until(mint_proposal.expiry + 1)
    outcome = chain.send_raw(
        dev["exchange"].private_key, MINT_AUTHORITY_ADDRESS, execute_mint_call_data(mint_proposal, approvals)
    )

    assert_reverted_with(outcome, "ProposalExpired")
    assert outcome.error.args[0] == mint_proposal.expiry
    assert outcome.error.args[1] == outcome.receipt.block_timestamp
    assert outcome.receipt.block_timestamp > mint_proposal.expiry


# ---------------------------------------------------------------- reserve cap


def test_mint_above_reserve_fails(chain, coin, dev):
    supply = chain.read(coin, "totalSupply")
    attest_reserve(chain, coin, dev, supply + 10 * GRAM)

    above = mint(chain, dev, dev["customer"].address, 10 * GRAM + 1)
    exact = mint(chain, dev, dev["customer"].address, 10 * GRAM)

    assert_reverted_with(above, "ReserveExceeded")
    assert above.error.args == (supply + 10 * GRAM + 1, supply + 10 * GRAM)
    assert exact.ok, exact.error
    assert chain.read(coin, "totalSupply") == supply + 10 * GRAM


# ---------------------------------------------------------------- pause


def test_pause_blocks_transfer_mint_and_burn(chain, coin, dev):
    ensure_balances(chain, coin, dev, ["customer", "burner"], 2 * GRAM)
    ensure_headroom(chain, coin, dev, GRAM)
    assert chain.send(dev["pauser"].private_key, coin, "pause").event_names() == ["Paused"]
    try:
        transfer, minted, burn, approve = chain.send_batch(
            [
                chain.request(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM),
                mint_request(chain, dev, dev["customer"].address, GRAM),
                chain.request(dev["burner"].private_key, coin, "burn", GRAM),
                chain.request(dev["customer"].private_key, coin, "approve", dev["exchange"].address, GRAM),
            ]
        )
    finally:
        unpaused = chain.send(dev["pauser"].private_key, coin, "unpause")

    assert_reverted_with(transfer, "EnforcedPause")
    assert_reverted_with(minted, "EnforcedPause")
    assert_reverted_with(burn, "EnforcedPause")
    assert approve.ok, approve.error
    assert unpaused.event_names() == ["Unpaused"]


def test_unpause_restores_transfers(chain, coin, dev):
    ensure_balances(chain, coin, dev, ["customer"], 2 * GRAM)
    assert chain.send(dev["pauser"].private_key, coin, "pause").ok
    assert chain.send(dev["pauser"].private_key, coin, "unpause").ok
    before = balance_of(chain, coin, dev["exchange"].address)

    outcome = chain.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)

    assert outcome.ok, outcome.error
    assert balance_of(chain, coin, dev["exchange"].address) == before + GRAM


# ---------------------------------------------------------------- freeze


def test_frozen_account_cannot_send_or_receive(chain, coin, dev):
    ensure_balances(chain, coin, dev, ["customer", "exchange"], 2 * GRAM)
    ensure_headroom(chain, coin, dev, GRAM)
    customer = dev["customer"].address
    assert chain.send(dev["compliance"].private_key, coin, "freeze", customer).event_names() == ["Frozen"]
    try:
        send, receive, minted = chain.send_batch(
            [
                chain.request(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM),
                chain.request(dev["exchange"].private_key, coin, "transfer", customer, GRAM),
                mint_request(chain, dev, customer, GRAM),
            ]
        )
    finally:
        assert chain.send(dev["compliance"].private_key, coin, "unfreeze", customer).ok

    assert_reverted_with(send, "AccountFrozen")
    assert send.error.args == (customer,)
    assert_reverted_with(receive, "AccountFrozen")
    assert receive.error.args == (customer,)
    assert_reverted_with(minted, "AccountFrozen")


def test_unfreeze_restores_transfers(chain, coin, dev):
    ensure_balances(chain, coin, dev, ["customer"], 2 * GRAM)
    customer = dev["customer"].address
    assert chain.send(dev["compliance"].private_key, coin, "freeze", customer).ok
    unfrozen = chain.send(dev["compliance"].private_key, coin, "unfreeze", customer)

    outcome = chain.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)

    assert unfrozen.event_names() == ["Unfrozen"]
    assert outcome.ok, outcome.error
    assert chain.read(coin, "isFrozen", customer) is False


# ---------------------------------------------------------------- allowlist


def test_allowlist_edit_fails_when_mode_off(chain, coin, dev):
    outcome = chain.send(dev["compliance"].private_key, coin, "addToAllowlist", dev["customer"].address)

    assert_reverted_with(outcome, "AllowlistModeOff")


def test_allowlist_blocks_unlisted_recipient(allowlist_chain, coin, dev):
    chain = allowlist_chain
    ensure_headroom(chain, coin, dev, GRAM)
    outsider = dev["admin"].address
    assert chain.read(coin, "isAllowlisted", outsider) is False

    outcome = mint(chain, dev, outsider, GRAM)

    assert_reverted_with(outcome, "NotAllowlisted")
    assert outcome.error.args == (outsider,)


def test_allowlist_admits_listed_accounts(allowlist_chain, coin, dev):
    chain = allowlist_chain
    compliance = dev["compliance"].private_key
    ensure_headroom(chain, coin, dev, 2 * GRAM)
    listed = chain.send_batch(
        [chain.request(compliance, coin, "addToAllowlist", dev[role].address) for role in ("customer", "exchange")]
    )
    assert all(outcome.ok for outcome in listed), [outcome.error for outcome in listed]

    minted = mint(chain, dev, dev["customer"].address, 2 * GRAM)
    moved, blocked = chain.send_batch(
        [
            chain.request(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM),
            chain.request(dev["customer"].private_key, coin, "transfer", dev["admin"].address, GRAM),
        ]
    )

    assert minted.ok, minted.error
    assert moved.ok, moved.error
    assert_reverted_with(blocked, "NotAllowlisted")
    assert blocked.error.args == (dev["admin"].address,)


def test_allowlist_removal_blocks_sending(allowlist_chain, coin, dev):
    chain = allowlist_chain
    compliance = dev["compliance"].private_key
    ensure_headroom(chain, coin, dev, GRAM)
    for outcome in chain.send_batch(
        [chain.request(compliance, coin, "addToAllowlist", dev[role].address) for role in ("customer", "exchange")]
    ):
        assert outcome.ok, outcome.error
    if balance_of(chain, coin, dev["customer"].address) < GRAM:
        assert mint(chain, dev, dev["customer"].address, GRAM).ok

    removed = chain.send(compliance, coin, "removeFromAllowlist", dev["customer"].address)
    try:
        outcome = chain.send(dev["customer"].private_key, coin, "transfer", dev["exchange"].address, GRAM)
    finally:
        assert chain.send(compliance, coin, "addToAllowlist", dev["customer"].address).ok

    assert removed.event_names() == ["RemovedFromAllowlist"]
    assert_reverted_with(outcome, "NotAllowlisted")
    assert outcome.error.args == (dev["customer"].address,)


# ---------------------------------------------------------------- burning


def test_burner_burns_own_balance(chain, coin, dev):
    ensure_balances(chain, coin, dev, ["burner"], 2 * GRAM)
    supply = chain.read(coin, "totalSupply")
    before = balance_of(chain, coin, dev["burner"].address)

    outcome = chain.send(dev["burner"].private_key, coin, "burn", GRAM)

    assert outcome.ok, outcome.error
    assert balance_of(chain, coin, dev["burner"].address) == before - GRAM
    assert chain.read(coin, "totalSupply") == supply - GRAM


def test_burner_burns_from_approving_holder(chain, coin, dev):
    ensure_balances(chain, coin, dev, ["customer"], 2 * GRAM)
    customer, burner = dev["customer"].address, dev["burner"].address
    assert chain.send(dev["customer"].private_key, coin, "approve", burner, GRAM).ok
    supply = chain.read(coin, "totalSupply")
    before = balance_of(chain, coin, customer)

    outcome = chain.send(dev["burner"].private_key, coin, "burnFrom", customer, GRAM)

    assert outcome.ok, outcome.error
    assert balance_of(chain, coin, customer) == before - GRAM
    assert chain.read(coin, "totalSupply") == supply - GRAM
    assert chain.read(coin, "allowance", customer, burner) == 0


def test_burn_without_role_or_allowance_fails(chain, coin, dev):
    ensure_balances(chain, coin, dev, ["customer", "exchange"], 2 * GRAM)
    assert chain.read(coin, "allowance", dev["exchange"].address, dev["burner"].address) == 0

    holder_burn, unapproved = chain.send_batch(
        [
            chain.request(dev["customer"].private_key, coin, "burn", GRAM),
            chain.request(dev["burner"].private_key, coin, "burnFrom", dev["exchange"].address, GRAM),
        ]
    )

    assert_reverted_with(holder_burn, "AccessControlUnauthorizedAccount")
    assert holder_burn.error.args == (dev["customer"].address, keccak(text="BURNER_ROLE"))
    assert_reverted_with(unapproved, "ERC20InsufficientAllowance")


# ---------------------------------------------------------------- roles


#: Holders of one role each (or none), who try every restricted call outside their role.
ROLE_HOLDERS = ("admin", "authority_issuer", "attestor", "burner", "pauser", "compliance", "exchange", "customer")
#: (function, arguments factory, role required, dev role holding it). The factory takes the dev
#: accounts and the latest block timestamp. MINTER_ROLE belongs to MintAuthority, not to a dev account.
GOLD_COIN_CALLS = [
    ("mint", lambda dev, now: (dev["customer"].address, GRAM), "MINTER_ROLE", None),
    ("burn", lambda dev, now: (GRAM,), "BURNER_ROLE", "burner"),
    ("burnFrom", lambda dev, now: (dev["customer"].address, GRAM), "BURNER_ROLE", "burner"),
    ("pause", lambda dev, now: (), "PAUSER_ROLE", "pauser"),
    ("unpause", lambda dev, now: (), "PAUSER_ROLE", "pauser"),
    ("freeze", lambda dev, now: (dev["customer"].address,), "COMPLIANCE_ROLE", "compliance"),
    ("unfreeze", lambda dev, now: (dev["customer"].address,), "COMPLIANCE_ROLE", "compliance"),
    ("addToAllowlist", lambda dev, now: (dev["customer"].address,), "COMPLIANCE_ROLE", "compliance"),
    ("attestReserve", lambda dev, now: (GRAM, b"\x01" * 32, now), "ATTESTOR_ROLE", "attestor"),
    (
        "grantRole",
        lambda dev, now: (keccak(text="MINTER_ROLE"), dev["customer"].address),
        "DEFAULT_ADMIN_ROLE",
        "admin",
    ),
]


def test_role_holders_cannot_act_outside_role(chain, coin, dev):
    now = chain.backend.latest_timestamp()
    cases = []
    for function, make_args, role, holder in GOLD_COIN_CALLS:
        for caller in ROLE_HOLDERS:
            if caller == holder:
                continue
            request = chain.request(dev[caller].private_key, coin, function, *make_args(dev, now))
            cases.append((function, role, caller, request))

    # A reverted role check costs far less than 200,000 gas, and the smaller limit lets the
    # whole batch fit the in-process chain's 30M block gas limit.
    outcomes = chain.send_batch([request for _, _, _, request in cases], gas=200_000)

    for (function, role, caller, _), outcome in zip(cases, outcomes, strict=True):
        needed = DEFAULT_ADMIN_ROLE if role == "DEFAULT_ADMIN_ROLE" else keccak(text=role)
        assert not outcome.ok, f"{caller} called {function} without {role}"
        assert outcome.error is not None
        assert outcome.error.name == "AccessControlUnauthorizedAccount", f"{caller} {function}: {outcome.error}"
        assert outcome.error.args == (dev[caller].address, needed), f"{caller} {function}"


def test_non_authorities_cannot_approve_or_cancel(chain, authority, dev):
    mint_proposal = proposal(chain, dev["customer"].address, GRAM, next(_nonces))
    proposal_hash = mint_proposal_digest(mint_proposal, chain.chain_id, MINT_AUTHORITY_ADDRESS)
    outsiders = ("admin", "attestor", "burner", "pauser", "compliance", "exchange", "customer")
    requests = []
    for role in outsiders:
        key = dev[role].private_key
        requests.append(chain.request(key, authority, "approve", proposal_hash))
        requests.append(chain.request(key, authority, "cancelMint", mint_proposal.to_abi()))
        requests.append(chain.request(key, authority, "proposeMint", mint_proposal.to_abi()))

    outcomes = chain.send_batch(requests)

    for index, outcome in enumerate(outcomes):
        role = outsiders[index // 3]
        assert_reverted_with(outcome, "NotAuthority")
        assert outcome.error.args == (dev[role].address,), role
    assert chain.read(authority, "isCancelled", proposal_hash) is False

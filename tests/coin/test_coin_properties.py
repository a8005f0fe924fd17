"""Property test: random sequences of coin operations keep supply, balances and quorum rules intact.

A hypothesis state machine drives the in-process chain with mints (with any set of signers),
burns, transfers, reserve attestations, pauses, freezes, burner-role grants and authority-set
changes. A small model predicts whether each transaction succeeds, and after every step the
invariants check that:

- total supply equals the sum of all balances, and equals the model's supply;
- supply never rises above the latest reserve: it may exceed the reserve only after an
  attestation recorded a reserve below the supply, and then only by what it was at that time;
- every mint event belongs to a MintExecuted whose proposal had a quorum of current
  authorities when it was submitted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction

from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from node.coin.abi import DecodedEvent, gold_coin_interface
from node.coin.dev_roles import DEV_AUTHORITY_ROLES, DEV_DAILY_LIMIT, DEV_THRESHOLD, dev_accounts
from node.coin.eip712 import AuthoritySetChange, MintProposal, mint_proposal_digest, sign_authority_set_change
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from node.coin.transactions import execute_authority_set_change_call_data, execute_mint_call_data
from tests.coin.coin_client import Contract, TxOutcome
from tests.coin.coin_flows import GRAM, RESERVE_REF, sign_all
from tests.coin.conftest import make_chain, make_client

#: Accounts that hold tokens in the machine; the sum of their balances must equal the supply.
HOLDERS = ("exchange", "customer", "burner", "admin")
#: Accounts that may be given BURNER_ROLE by the machine; "burner" has it at genesis.
BURNER_CANDIDATES = ("burner", "customer")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
BURNER_ROLE = keccak(text="BURNER_ROLE")
MINTER_ROLE = keccak(text="MINTER_ROLE")

#: Mint amounts in base units: mostly small enough to fit under the reserve, some large.
amounts = st.one_of(st.integers(min_value=1, max_value=50 * GRAM), st.integers(min_value=1, max_value=400 * GRAM))
#: Booleans that come out True about three times in four, to keep some state changes rarer than
#: their reversal (a frozen holder or a revoked burner blocks most later steps).
mostly_true = st.sampled_from((True, True, True, False))
#: Share of a balance to burn; a zero share would only test ZeroAmount, which the rule tests cover.
burn_shares = st.fractions(min_value=Fraction(1, 10), max_value=1)


def first_failure(*checks: tuple[bool, str]) -> str | None:
    """Return the error of the first check that fails, in the order the contract makes them."""
    return next((error for failed, error in checks if failed), None)


@dataclass
class Model:
    """What the machine expects the contracts' state to be."""

    balances: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOLDERS, 0))
    reserve: int = 0
    #: Supply when the latest attestation was recorded; the cap while supply exceeds the reserve.
    supply_at_attestation: int = 0
    paused: bool = False
    frozen: set[str] = field(default_factory=set)
    burners: set[str] = field(default_factory=lambda: {"burner"})
    authorities: set[str] = field(default_factory=lambda: set(DEV_AUTHORITY_ROLES))
    threshold: int = DEV_THRESHOLD

    @property
    def supply(self) -> int:
        return sum(self.balances.values())


class CoinMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.client = make_client(make_chain())
        self.dev = dev_accounts()
        self.coin = Contract(GOLD_COIN_ADDRESS, gold_coin_interface())
        self.model = Model()
        self.nonces = itertools.count(1)
        #: Hashes of the mint proposals that had a quorum of current authorities when submitted.
        self.quorum_proposals: set[bytes] = set()
        #: Every mint seen on chain: (MintExecuted event or None, the zero-address Transfer event).
        self.mints_seen: list[tuple[DecodedEvent | None, DecodedEvent]] = []

    # ---------------------------------------------------------------- helpers

    def key(self, role: str) -> bytes:
        return self.dev[role].private_key

    def address(self, role: str) -> str:
        return self.dev[role].address

    def record(self, outcome: TxOutcome, expected_error: str | None, what: str) -> TxOutcome:
        """Check the outcome against the model's prediction and remember every mint it contains.

        ``expected_error`` is the name of the custom error the transaction must revert with, or
        None when it must succeed.
        """
        got = outcome.error.name if outcome.error is not None else None
        assert got == expected_error, f"{what}: expected {expected_error or 'success'}, got {outcome.error}"
        executed = [event for event in outcome.events if event.name == "MintExecuted"]
        for event in outcome.events:
            if event.name == "Transfer" and event.args["from"] == ZERO_ADDRESS:
                self.mints_seen.append((executed[0] if executed else None, event))
        return outcome

    def frozen_among(self, *roles: str) -> bool:
        return any(role in self.model.frozen for role in roles)

    # ---------------------------------------------------------------- rules

    @initialize(grams=st.integers(min_value=100, max_value=5_000))
    def first_attestation(self, grams: int) -> None:
        self.attest(grams * GRAM)

    def attest(self, reserve: int) -> None:
        as_of = self.client.backend.latest_timestamp()
        outcome = self.client.send(self.key("attestor"), self.coin, "attestReserve", reserve, b"\x0a" * 32, as_of)
        self.record(outcome, None, "attestReserve")
        self.model.reserve = reserve
        self.model.supply_at_attestation = self.model.supply

    @rule(
        change=st.one_of(
            st.integers(min_value=0, max_value=1_500 * GRAM), st.integers(min_value=-300 * GRAM, max_value=0)
        )
    )
    def attest_reserve(self, change: int) -> None:
        """Attest a reserve near the supply; a negative change records a reserve below it."""
        self.attest(max(self.model.supply + change, 0))

    @rule(
        recipient=st.sampled_from(HOLDERS),
        amount=amounts,
        shift=st.sampled_from((0, 0, 1, -1)),
        with_outsider=mostly_true.map(lambda value: not value),
    )
    def mint(self, recipient: str, amount: int, shift: int, with_outsider: bool) -> None:
        """Submit a mint signed by the threshold plus ``shift`` current authorities, and sometimes
        also by the customer, who is no authority."""
        model = self.model
        signers = sorted(model.authorities)[: max(model.threshold + shift, 0)]
        if with_outsider:
            signers.append("customer")
        proposal = MintProposal(
            recipient=self.address(recipient),
            amount=amount,
            reserve_ref=RESERVE_REF,
            expiry=self.client.backend.latest_timestamp() + 3600,
            nonce=next(self.nonces),
        )
        approvals = sign_all(self.client, proposal, [self.dev[role] for role in signers])
        outsiders = [role for role in signers if role not in model.authorities]
        has_quorum = not outsiders and len(signers) >= model.threshold
        if has_quorum:
            self.quorum_proposals.add(mint_proposal_digest(proposal, self.client.chain_id, MINT_AUTHORITY_ADDRESS))
        # The checks in the order MintAuthority.executeMint and GoldCoin.mint make them.
        expected = first_failure(
            (bool(outsiders), "NotAuthority"),
            (len(signers) < model.threshold, "InsufficientApprovals"),
            (model.supply + amount > model.reserve, "ReserveExceeded"),
            (self.frozen_among(recipient), "AccountFrozen"),
            (model.paused, "EnforcedPause"),
        )

        outcome = self.client.send_raw(
            self.key("exchange"), MINT_AUTHORITY_ADDRESS, execute_mint_call_data(proposal, approvals)
        )

        self.record(outcome, expected, f"mint {amount} to {recipient} signed by {signers}")
        if expected is None:
            model.balances[recipient] += amount

    def funded(self, roles: tuple[str, ...]) -> list[str]:
        """Return those of ``roles`` that hold tokens in the model."""
        return [role for role in roles if self.model.balances[role] > 0]

    @precondition(lambda self: self.funded(HOLDERS))
    @rule(pick=st.integers(min_value=0, max_value=3), receiver=st.sampled_from(HOLDERS), share=st.fractions(0, 1))
    def transfer_from_holder(self, pick: int, receiver: str, share: Fraction) -> None:
        funded = self.funded(HOLDERS)
        self.transfer(funded[pick % len(funded)], receiver, share)

    def transfer(self, sender: str, receiver: str, share: Fraction) -> None:
        model = self.model
        amount = int(model.balances[sender] * share)
        expected = first_failure(
            (self.frozen_among(sender, receiver), "AccountFrozen"),
            (model.paused, "EnforcedPause"),
        )

        outcome = self.client.send(self.key(sender), self.coin, "transfer", self.address(receiver), amount)

        self.record(outcome, expected, f"transfer {amount} from {sender} to {receiver}")
        if expected is None:
            model.balances[sender] -= amount
            model.balances[receiver] += amount

    @precondition(lambda self: self.funded(BURNER_CANDIDATES))
    @rule(pick=st.integers(min_value=0, max_value=1), share=burn_shares)
    def burn_own(self, pick: int, share: Fraction) -> None:
        model = self.model
        funded = self.funded(BURNER_CANDIDATES)
        caller = funded[pick % len(funded)]
        amount = int(model.balances[caller] * share)
        expected = first_failure(
            (caller not in model.burners, "AccessControlUnauthorizedAccount"),
            (amount == 0, "ZeroAmount"),
            (self.frozen_among(caller), "AccountFrozen"),
            (model.paused, "EnforcedPause"),
        )

        outcome = self.client.send(self.key(caller), self.coin, "burn", amount)

        self.record(outcome, expected, f"burn {amount} by {caller}")
        if expected is None:
            model.balances[caller] -= amount

    @precondition(lambda self: self.funded(HOLDERS))
    @rule(caller=st.sampled_from(BURNER_CANDIDATES), pick=st.integers(min_value=0, max_value=3), share=burn_shares)
    def burn_from(self, caller: str, pick: int, share: Fraction) -> None:
        """A holder with tokens approves ``caller`` for the amount, then ``caller`` burns it with burnFrom."""
        model = self.model
        funded = self.funded(HOLDERS)
        holder = funded[pick % len(funded)]
        amount = int(model.balances[holder] * share)
        approved = self.client.send(self.key(holder), self.coin, "approve", self.address(caller), amount)
        self.record(approved, None, f"approve {amount} from {holder} to {caller}")
        expected = first_failure(
            (caller not in model.burners, "AccessControlUnauthorizedAccount"),
            (amount == 0, "ZeroAmount"),
            (self.frozen_among(caller), "AccountFrozen"),
            (self.frozen_among(holder), "AccountFrozen"),
            (model.paused, "EnforcedPause"),
        )

        outcome = self.client.send(self.key(caller), self.coin, "burnFrom", self.address(holder), amount)

        self.record(outcome, expected, f"burnFrom {amount} of {holder} by {caller}")
        if expected is None:
            model.balances[holder] -= amount

    @rule(sender=st.sampled_from(HOLDERS), amount=amounts)
    def paused_window(self, sender: str, amount: int) -> None:
        """Pause, check that a quorum mint and a transfer fail, then unpause.

        The pause lasts one rule so that the other rules mostly run on an unpaused coin.
        """
        self.record(self.client.send(self.key("pauser"), self.coin, "pause"), None, "pause")
        self.record(self.client.send(self.key("pauser"), self.coin, "pause"), "EnforcedPause", "pause while paused")
        self.model.paused = True
        try:
            self.mint(sender, amount, shift=0, with_outsider=False)
            self.transfer(sender, "exchange", Fraction(1))
        finally:
            self.record(self.client.send(self.key("pauser"), self.coin, "unpause"), None, "unpause")
            self.model.paused = False
        unpause_again = self.client.send(self.key("pauser"), self.coin, "unpause")
        self.record(unpause_again, "ExpectedPause", "unpause while unpaused")

    @rule(holder=st.sampled_from(HOLDERS), freeze=mostly_true.map(lambda value: not value))
    def set_freeze(self, holder: str, freeze: bool) -> None:
        outcome = self.client.send(
            self.key("compliance"), self.coin, "freeze" if freeze else "unfreeze", self.address(holder)
        )
        self.record(outcome, None, f"freeze={freeze} {holder}")
        if freeze:
            self.model.frozen.add(holder)
        else:
            self.model.frozen.discard(holder)

    @rule(account=st.sampled_from(BURNER_CANDIDATES), grant=mostly_true)
    def set_burner_role(self, account: str, grant: bool) -> None:
        function = "grantRole" if grant else "revokeRole"
        outcome = self.client.send(self.key("admin"), self.coin, function, BURNER_ROLE, self.address(account))
        self.record(outcome, None, f"{function} BURNER_ROLE {account}")
        if grant:
            self.model.burners.add(account)
        else:
            self.model.burners.discard(account)

    @rule(caller=st.sampled_from(("customer", "authority_issuer", "burner", "exchange")))
    def non_admin_grants_minter(self, caller: str) -> None:
        """Only the admin may grant roles, so no other account can grant itself MINTER_ROLE."""
        outcome = self.client.send(self.key(caller), self.coin, "grantRole", MINTER_ROLE, self.address(caller))
        self.record(outcome, "AccessControlUnauthorizedAccount", f"{caller} grants itself MINTER_ROLE")

    @precondition(lambda self: len(self.model.authorities) > 0)
    @rule(
        members=st.lists(st.sampled_from(DEV_AUTHORITY_ROLES), unique=True, min_size=1, max_size=3),
        threshold_seed=st.integers(min_value=1, max_value=3),
        approvals=st.integers(min_value=0, max_value=3),
    )
    def change_authority_set(self, members: list[str], threshold_seed: int, approvals: int) -> None:
        """Replace the authority set, approved by ``approvals`` current authorities."""
        model = self.model
        threshold = min(threshold_seed, len(members))
        change = AuthoritySetChange.from_limits(
            {self.address(role): DEV_DAILY_LIMIT for role in members},
            threshold=threshold,
            expiry=self.client.backend.latest_timestamp() + 3600,
            nonce=next(self.nonces),
        )
        signers = sorted(model.authorities)[:approvals]
        signatures = [
            sign_authority_set_change(self.key(role), change, self.client.chain_id, MINT_AUTHORITY_ADDRESS)
            for role in signers
        ]
        expected = first_failure((len(signers) < model.threshold, "InsufficientApprovals"))

        outcome = self.client.send_raw(
            self.key("exchange"), MINT_AUTHORITY_ADDRESS, execute_authority_set_change_call_data(change, signatures)
        )

        self.record(outcome, expected, f"authority set {members} threshold {threshold} approved by {signers}")
        if expected is None:
            model.authorities = set(members)
            model.threshold = threshold

    # ---------------------------------------------------------------- invariants

    @invariant()
    def supply_is_sum_of_balances(self) -> None:
        supply = self.client.read(self.coin, "totalSupply")
        balances = {role: self.client.read(self.coin, "balanceOf", self.address(role)) for role in HOLDERS}
        assert supply == sum(balances.values())
        assert balances == self.model.balances
        assert supply == self.model.supply

    @invariant()
    def supply_never_rises_above_reserve(self) -> None:
        supply = self.client.read(self.coin, "totalSupply")
        reserve = self.client.read(self.coin, "latestReserve")
        assert reserve == self.model.reserve
        assert supply <= max(reserve, self.model.supply_at_attestation), (supply, reserve)

    @invariant()
    def only_quorum_proposals_minted(self) -> None:
        for executed, transfer in self.mints_seen:
            assert executed is not None, f"mint of {transfer.args['value']} without MintExecuted"
            assert executed.args["proposalHash"] in self.quorum_proposals
            assert executed.args["amount"] == transfer.args["value"]
            assert executed.args["recipient"] == transfer.args["to"]


CoinMachine.TestCase.settings = settings(
    # 30 sequences of up to 30 steps took 15 to 25 s on two busy cores. Each run draws new sequences.
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_coin_state_machine = CoinMachine.TestCase

"""Following the gold coin through a replay: supply, reserve, mints, burns, freezes and holders.

:class:`CoinTracker` is a replay observer. It decodes the GoldCoin and MintAuthority logs of
every block from block 1, so balances and the authority set are exact whatever report range
is asked for, and records the events inside the range. It checks three invariants as it goes
and records a :class:`Finding` with the block and transaction of each violation:

- ``supply above reserve``: total supply is above the latest attested reserve, after a mint or
  after an attestation of a smaller reserve (the contract accepts such an attestation);
- ``mint without quorum``: fewer distinct current authorities approved a mint than the
  threshold. EIP-712 signatures passed to ``executeMint`` and on-chain ``approve`` calls count.
- ``mint outside MintAuthority``: a mint with no ``MintExecuted`` before it in the same
  transaction;
- ``burn by non-burner``: tokens were burned by a caller without BURNER_ROLE at that point.

The authority set, threshold and role holders at genesis are read from the genesis state;
later changes come from the AuthoritySetChanged, RoleGranted and RoleRevoked events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth.abc import ReceiptAPI, SignedTransactionAPI
from eth_abi import decode as abi_decode
from eth_utils import function_abi_to_4byte_selector, get_abi_input_types, keccak, to_canonical_address

from node.audit.trace import Call, call_view, trace_calls
from node.chain.chain import Chain
from node.chain.crypto import SignatureError, recover_address
from node.chain.execution import ExecutedBlock
from node.chain.header import KuraHeader
from node.coin.abi import gold_coin_interface, mint_authority_interface
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from node.coin.units import format_grams

logger = logging.getLogger(__name__)

COIN = to_canonical_address(GOLD_COIN_ADDRESS)
AUTHORITY = to_canonical_address(MINT_AUTHORITY_ADDRESS)
ZERO = bytes(20)
BURNER_ROLE = keccak(text="BURNER_ROLE")

RULE_SUPPLY_ABOVE_RESERVE = "supply above reserve"
RULE_MINT_WITHOUT_QUORUM = "mint without quorum"
RULE_MINT_OUTSIDE_AUTHORITY = "mint outside MintAuthority"
RULE_BURN_BY_NON_BURNER = "burn by non-burner"
RULE_SUPPLY_DIFFERS_FROM_STATE = "supply from events differs from totalSupply"


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _grams(base_units: int) -> str:
    return f"{format_grams(base_units)} g"


def _address(value: str) -> bytes:
    return to_canonical_address(value)


@dataclass(frozen=True)
class Finding:
    """A violated invariant at one transaction (``tx`` is None for a check at the end of the range)."""

    rule: str
    block: int
    tx: bytes | None
    got: Any
    expected: Any
    detail: str = ""


@dataclass(frozen=True)
class SupplyPoint:
    """Supply and reserve in base units after ``block``."""

    block: int
    timestamp: int
    supply: int
    reserve: int

    @property
    def coverage(self) -> float | None:
        """Reserve divided by supply; None while the supply is zero."""
        return self.reserve / self.supply if self.supply else None


@dataclass(frozen=True)
class Approver:
    address: bytes
    #: ``signature`` (EIP-712, passed to executeMint) or ``on-chain`` (MintAuthority.approve).
    kind: str
    #: For a signature: whether it recovers to the authority (False for ERC-1271 contract wallets).
    recovered: bool | None = None


@dataclass
class MintRecord:
    block: int
    timestamp: int
    tx: bytes
    proposal_hash: bytes
    recipient: bytes
    amount: int
    reserve_ref: bytes
    nonce: int
    #: Approval count the contract reported in MintExecuted.
    approvals_reported: int
    approvers: list[Approver] = field(default_factory=list)
    proposer: bytes | None = None
    proposed_block: int | None = None
    threshold: int = 0
    authorities: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class BurnRecord:
    block: int
    timestamp: int
    tx: bytes
    account: bytes
    amount: int
    #: The caller of burn or burnFrom; None when no such call was found in the transaction.
    burner: bytes | None
    burner_has_role: bool | None


@dataclass(frozen=True)
class AttestationRecord:
    block: int
    timestamp: int
    tx: bytes
    index: int
    reserve: int
    report_hash: bytes
    as_of: int
    attestor: bytes
    supply: int

    @property
    def coverage(self) -> float | None:
        return self.reserve / self.supply if self.supply else None


@dataclass(frozen=True)
class FreezeRecord:
    block: int
    timestamp: int
    tx: bytes
    account: bytes
    frozen: bool
    by: bytes


@dataclass
class _Log:
    """One coin log with its position, decoded."""

    tx_index: int
    name: str
    contract: bytes
    args: dict[str, Any]


class CoinTracker:
    """Replay observer that follows the coin; records events in blocks ``first`` to ``last``."""

    def __init__(self, chain: Chain, *, first: int = 1, last: int | None = None) -> None:
        self.first = max(first, 1)
        self.last = last
        self._coin = gold_coin_interface()
        self._authority_interface = mint_authority_interface()
        genesis = chain.store.header_by_number(0)
        assert genesis is not None
        self._chain = chain
        self._genesis = genesis
        self.genesis_hash = bytes(genesis.hash)

        self.supply = self._read_int(genesis, COIN, self._coin.encode_call("totalSupply"))
        self.reserve = self._read_int(genesis, COIN, self._coin.encode_call("latestReserve"))
        self.authorities: tuple[bytes, ...] = tuple(
            _address(a) for a in self._read(genesis, AUTHORITY, self._authority_interface, "authorities")
        )
        self.threshold = int(self._read(genesis, AUTHORITY, self._authority_interface, "threshold"))
        # NOTE: balances start empty because an account's balance slot cannot be listed from the
        # genesis state. The predeploys start with no supply; a genesis with minted coins would
        # show a supply larger than the sum of the holders' balances.
        self.genesis_supply = self.supply

        self.balances: dict[bytes, int] = {}
        self.frozen: dict[bytes, bool] = {}
        self._roles: dict[tuple[bytes, bytes], bool] = {}
        self._on_chain_approvals: dict[bytes, set[bytes]] = {}
        self._proposals: dict[bytes, tuple[int, bytes]] = {}
        self._in_violation = self.supply > self.reserve

        self.points: list[SupplyPoint] = []
        self.mints: list[MintRecord] = []
        self.burns: list[BurnRecord] = []
        self.attestations: list[AttestationRecord] = []
        self.freezes: list[FreezeRecord] = []
        self.findings: list[Finding] = []
        self.start_point = SupplyPoint(0, genesis.timestamp, self.supply, self.reserve)
        self.end_header: KuraHeader = genesis

    # ------------------------------------------------------------ state reads

    def _read(self, header: KuraHeader, to: bytes, interface: Any, function: str, *args: Any) -> Any:
        output = call_view(self._chain, header, to, interface.encode_call(function, *args))
        return interface.decode_output(function, output)

    def _read_int(self, header: KuraHeader, to: bytes, data: bytes) -> int:
        return int.from_bytes(call_view(self._chain, header, to, data)[:32], "big")

    def _has_role(self, role: bytes, account: bytes) -> bool:
        """Role membership from the events seen so far, else as the genesis state has it."""
        known = self._roles.get((role, account))
        if known is not None:
            return known
        return bool(self._read(self._genesis, COIN, self._coin, "hasRole", role, _hex(account)))

    # ------------------------------------------------------------ the observer

    def __call__(self, chain: Chain, executed: ExecutedBlock) -> None:
        header = executed.header
        number = int(header.block_number)
        if self.last is not None and number > self.last:
            return
        if number == self.first:
            self.start_point = SupplyPoint(number - 1, self._previous_timestamp(header), self.supply, self.reserve)
        in_range = number >= self.first
        logs = self._coin_logs(executed.receipts)
        if logs:
            calls = self._trace_if_needed(header, executed.transactions, logs)
            changed = self._apply_block(header, executed.transactions, logs, calls, in_range)
            if changed and in_range:
                self.points.append(SupplyPoint(number, header.timestamp, self.supply, self.reserve))
        self.end_header = header

    def _previous_timestamp(self, header: KuraHeader) -> int:
        parent = self._chain.store.header_by_hash(header.parent_hash)
        return parent.timestamp if parent is not None else header.timestamp

    def _coin_logs(self, receipts: Sequence[ReceiptAPI]) -> list[_Log]:
        logs = []
        for tx_index, receipt in enumerate(receipts):
            for log in receipt.logs:
                address = bytes(log.address)
                if address == COIN:
                    interface = self._coin
                elif address == AUTHORITY:
                    interface = self._authority_interface
                else:
                    continue
                topics = [topic.to_bytes(32, "big") for topic in log.topics]
                decoded = interface.decode_log(address, topics, bytes(log.data))
                if decoded is not None:
                    logs.append(_Log(tx_index, decoded.name, address, decoded.args))
        return logs

    def _trace_if_needed(
        self, header: KuraHeader, transactions: Sequence[SignedTransactionAPI], logs: list[_Log]
    ) -> dict[int, list[Call]]:
        traced = set()
        for log in logs:
            if log.name == "MintExecuted" or (log.name == "Transfer" and _address(log.args["to"]) == ZERO):
                traced.add(log.tx_index)
        return trace_calls(self._chain, header, transactions, traced)

    def _apply_block(
        self,
        header: KuraHeader,
        transactions: Sequence[SignedTransactionAPI],
        logs: list[_Log],
        calls: dict[int, list[Call]],
        in_range: bool,
    ) -> bool:
        """Apply the block's coin logs in order; return whether supply or reserve changed."""
        changed = False
        number = int(header.block_number)
        pending_mints: dict[int, list[MintRecord]] = {}
        burn_calls = {index: _burn_callers(found) for index, found in calls.items()}
        mint_calls = {index: _execute_mint_calls(found) for index, found in calls.items()}

        for log in logs:
            tx = bytes(transactions[log.tx_index].hash)
            args = log.args
            if log.contract == COIN and log.name == "Transfer":
                sender, recipient, value = _address(args["from"]), _address(args["to"]), int(args["value"])
                if sender != ZERO:
                    self._credit(sender, -value)
                if recipient != ZERO:
                    self._credit(recipient, value)
                if sender == ZERO:
                    changed = True
                    self.supply += value
                    self._match_mint(number, tx, recipient, value, pending_mints.get(log.tx_index, []), in_range)
                    self._check_reserve(number, tx, in_range)
                elif recipient == ZERO:
                    changed = True
                    self.supply -= value
                    callers = burn_calls.get(log.tx_index, [])
                    burner = callers.pop(0) if callers else None
                    self._record_burn(header, tx, sender, value, burner, in_range)
            elif log.contract == COIN and log.name == "ReserveAttested":
                changed = True
                self.reserve = int(args["reserve"])
                if in_range:
                    self.attestations.append(
                        AttestationRecord(
                            number,
                            header.timestamp,
                            tx,
                            int(args["index"]),
                            self.reserve,
                            bytes(args["reportHash"]),
                            int(args["asOf"]),
                            _address(args["attestor"]),
                            self.supply,
                        )
                    )
                self._check_reserve(number, tx, in_range)
            elif log.contract == COIN and log.name in ("Frozen", "Unfrozen"):
                account = _address(args["account"])
                self.frozen[account] = log.name == "Frozen"
                if in_range:
                    self.freezes.append(
                        FreezeRecord(number, header.timestamp, tx, account, log.name == "Frozen", _address(args["by"]))
                    )
            elif log.contract == COIN and log.name in ("RoleGranted", "RoleRevoked"):
                self._roles[(bytes(args["role"]), _address(args["account"]))] = log.name == "RoleGranted"
            elif log.contract == AUTHORITY:
                record = self._apply_authority_log(header, tx, log, mint_calls.get(log.tx_index, []))
                if record is not None:
                    pending_mints.setdefault(log.tx_index, []).append(record)

        for records in pending_mints.values():
            for record in records:
                self._add_finding(
                    in_range,
                    Finding(
                        RULE_MINT_OUTSIDE_AUTHORITY,
                        number,
                        record.tx,
                        got="MintExecuted without a mint",
                        expected=f"a mint of {_grams(record.amount)} to {_hex(record.recipient)}",
                    ),
                )
        return changed

    def _apply_authority_log(
        self, header: KuraHeader, tx: bytes, log: _Log, signed: list[list[tuple[bytes, bytes]]]
    ) -> MintRecord | None:
        args = log.args
        name = log.name
        if name == "AuthoritySetChanged":
            self.authorities = tuple(_address(a) for a in args["authorities"])
            self.threshold = int(args["threshold"])
        elif name == "MintProposed":
            self._proposals[bytes(args["proposalHash"])] = (int(header.block_number), _address(args["proposer"]))
        elif name == "Approved":
            self._on_chain_approvals.setdefault(bytes(args["proposalHash"]), set()).add(_address(args["authority"]))
        elif name == "ApprovalRevoked":
            self._on_chain_approvals.get(bytes(args["proposalHash"]), set()).discard(_address(args["authority"]))
        elif name == "MintExecuted":
            proposal_hash = bytes(args["proposalHash"])
            record = MintRecord(
                block=int(header.block_number),
                timestamp=header.timestamp,
                tx=tx,
                proposal_hash=proposal_hash,
                recipient=_address(args["recipient"]),
                amount=int(args["amount"]),
                reserve_ref=bytes(args["reserveRef"]),
                nonce=int(args["nonce"]),
                approvals_reported=int(args["approvals"]),
                threshold=self.threshold,
                authorities=self.authorities,
            )
            proposed = self._proposals.get(proposal_hash)
            if proposed is not None:
                record.proposed_block, record.proposer = proposed
            approvals = signed.pop(0) if signed else []
            record.approvers = self._approvers(proposal_hash, approvals)
            return record
        return None

    def _approvers(self, proposal_hash: bytes, signed: list[tuple[bytes, bytes]]) -> list[Approver]:
        approvers: list[Approver] = []
        seen: set[bytes] = set()
        for authority, signature in signed:
            try:
                recovered = recover_address(proposal_hash, _normalise_v(signature)) == authority
            except SignatureError:
                recovered = False
            if authority not in seen:
                seen.add(authority)
                approvers.append(Approver(authority, "signature", recovered))
        for authority in sorted(self._on_chain_approvals.get(proposal_hash, set())):
            if authority in self.authorities and authority not in seen:
                seen.add(authority)
                approvers.append(Approver(authority, "on-chain"))
        return approvers

    def _match_mint(
        self, number: int, tx: bytes, recipient: bytes, amount: int, pending: list[MintRecord], in_range: bool
    ) -> None:
        for index, record in enumerate(pending):
            if record.recipient == recipient and record.amount == amount:
                del pending[index]
                self._check_quorum(record, in_range)
                if in_range:
                    self.mints.append(record)
                return
        self._add_finding(
            in_range,
            Finding(
                RULE_MINT_OUTSIDE_AUTHORITY,
                number,
                tx,
                got=f"mint of {_grams(amount)} to {_hex(recipient)}",
                expected="a MintExecuted event before the mint in the same transaction",
            ),
        )

    def _check_quorum(self, record: MintRecord, in_range: bool) -> None:
        counted = {a.address for a in record.approvers if a.address in record.authorities}
        if len(counted) < record.threshold:
            self._add_finding(
                in_range,
                Finding(
                    RULE_MINT_WITHOUT_QUORUM,
                    record.block,
                    record.tx,
                    got=len(counted),
                    expected=record.threshold,
                    detail=f"proposal {_hex(record.proposal_hash)}",
                ),
            )

    def _record_burn(
        self, header: KuraHeader, tx: bytes, account: bytes, amount: int, burner: bytes | None, in_range: bool
    ) -> None:
        has_role = None if burner is None else self._has_role(BURNER_ROLE, burner)
        number = int(header.block_number)
        if in_range:
            self.burns.append(BurnRecord(number, header.timestamp, tx, account, amount, burner, has_role))
        if not has_role:
            self._add_finding(
                in_range,
                Finding(
                    RULE_BURN_BY_NON_BURNER,
                    number,
                    tx,
                    got="no burn call found" if burner is None else _hex(burner),
                    expected="a caller with BURNER_ROLE",
                    detail=f"burn of {_grams(amount)} from {_hex(account)}",
                ),
            )

    def _check_reserve(self, number: int, tx: bytes, in_range: bool) -> None:
        violated = self.supply > self.reserve
        if violated and not self._in_violation:
            self._add_finding(
                in_range,
                Finding(
                    RULE_SUPPLY_ABOVE_RESERVE,
                    number,
                    tx,
                    got=_grams(self.supply),
                    expected=f"<= {_grams(self.reserve)}",
                ),
            )
        self._in_violation = violated

    def _credit(self, account: bytes, amount: int) -> None:
        balance = self.balances.get(account, 0) + amount
        if balance:
            self.balances[account] = balance
        else:
            self.balances.pop(account, None)

    def _add_finding(self, in_range: bool, finding: Finding) -> None:
        if in_range:
            logger.warning(
                "audit finding rule=%s height=%d tx=%s got=%s expected=%s",
                finding.rule,
                finding.block,
                None if finding.tx is None else _hex(finding.tx),
                finding.got,
                finding.expected,
            )
            self.findings.append(finding)

    # ------------------------------------------------------------ the end of the range

    def finish(self) -> None:
        """Compare the supply followed through events with ``totalSupply()`` at the end of the range."""
        header = self.end_header
        on_chain = self._read_int(header, COIN, self._coin.encode_call("totalSupply"))
        if on_chain != self.supply:
            self._add_finding(
                True,
                Finding(
                    RULE_SUPPLY_DIFFERS_FROM_STATE,
                    int(header.block_number),
                    None,
                    got=_grams(self.supply),
                    expected=_grams(on_chain),
                ),
            )
        self.state_supply = on_chain
        self.state_reserve = self._read_int(header, COIN, self._coin.encode_call("latestReserve"))
        if not self.points or self.points[-1].block != header.block_number:
            self.points.append(SupplyPoint(int(header.block_number), header.timestamp, self.supply, self.reserve))


def _normalise_v(signature: bytes) -> bytes:
    """Turn an Ethereum 65-byte signature with v in {27, 28} into the r‖s‖v form with v in {0, 1}."""
    if len(signature) == 65 and signature[64] in (27, 28):
        return signature[:64] + bytes([signature[64] - 27])
    return signature


def _burn_callers(calls: list[Call]) -> list[bytes]:
    """Callers of GoldCoin burn and burnFrom, in execution order."""
    coin = gold_coin_interface()
    selectors = {coin.encode_call("burn", 0)[:4], coin.encode_call("burnFrom", "0x" + "00" * 20, 0)[:4]}
    return [call.sender for call in calls if call.storage_address == COIN and call.data[:4] in selectors]


def _execute_mint_calls(calls: list[Call]) -> list[list[tuple[bytes, bytes]]]:
    """Return the signed approvals (authority, signature) of each executeMint call, in execution order."""
    item = mint_authority_interface().function_abi("executeMint")
    selector = function_abi_to_4byte_selector(item)
    found = []
    for call in calls:
        if call.storage_address != AUTHORITY or call.data[:4] != selector:
            continue
        _proposal, approvals = abi_decode(get_abi_input_types(item), call.data[4:])
        found.append([(_address(address), bytes(signature)) for address, signature in approvals])
    return found

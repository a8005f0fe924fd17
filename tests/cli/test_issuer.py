"""``kura issuer`` against real ``kura dev`` nodes: the mint flow, burns and the admin calls.

Commands run in this process through ``main``, except the Japanese one, which runs as a
subprocess with ``LANG=ja_JP.UTF-8``. Two nodes serve the module: one with the dev genesis
and one whose GoldCoin has allowlist mode on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.coin.abi import gold_coin_interface
from node.coin.dev_roles import dev_accounts, dev_address
from node.coin.ledger import LedgerClient
from node.coin.predeploy import GOLD_COIN_ADDRESS
from node.coin.units import GRAM
from tests.coin.coin_node import start_dev_node
from tests.coin.issuer_cli import Keys, Result, english_messages, run_kura, run_kura_process, write_keystores

REPORT_HASH = "0x" + "cd" * 32


@pytest.fixture(scope="module", autouse=True)
def english() -> Iterator[None]:
    with english_messages():
        yield


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return write_keystores(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def rpc(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[str]:
    """URL of a dev node whose reserve is attested at 1,000 g."""
    process = start_dev_node(tmp_path_factory.mktemp("node"))
    try:
        attested = run_kura(
            "issuer",
            "attest-reserve",
            "1000",
            "--report-hash",
            REPORT_HASH,
            *keys.options("attestor"),
            "--rpc",
            process.url,
        )
        assert attested.code == 0, attested.stderr
        yield process.url
    finally:
        process.stop()


@pytest.fixture(scope="module")
def allowlist_rpc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = start_dev_node(tmp_path_factory.mktemp("allowlist-node"), allowlist_mode=True)
    try:
        yield process.url
    finally:
        process.stop()


def read_coin(rpc: str, function: str, *args: object) -> object:
    return LedgerClient(rpc).read(GOLD_COIN_ADDRESS, gold_coin_interface(), function, *args)


@dataclass(frozen=True)
class Flow:
    """Files and outputs of one proposal taken through propose, sign and submit."""

    proposal: Path
    signatures: list[Path]
    submitted: Result
    supply_before: int


def propose(rpc: str, out: Path, amount: str, recipient: str) -> Result:
    return run_kura(
        "issuer",
        "propose-mint",
        "--recipient",
        recipient,
        "--amount",
        amount,
        "--reserve-ref",
        REPORT_HASH,
        "--out",
        str(out),
        "--rpc",
        rpc,
    )


def sign(keys: Keys, proposal: Path, role: str) -> Path:
    out = proposal.with_name(f"{proposal.stem}.{role}.sig.json")
    result = run_kura("issuer", "sign", str(proposal), *keys.options(role), "--out", str(out), "--yes")
    assert result.code == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def executed(rpc: str, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """A 12.5 g mint to the exchange, approved by the issuer and the custodian and submitted."""
    directory = tmp_path_factory.mktemp("flow")
    proposal = directory / "proposal.json"
    proposed = propose(rpc, proposal, "12.5", dev_address("exchange"))
    assert proposed.code == 0, proposed.stderr
    signatures = [sign(keys, proposal, "authority_issuer"), sign(keys, proposal, "authority_custodian")]
    supply_before = read_coin(rpc, "totalSupply")

    submitted = run_kura(
        "issuer", "submit", str(proposal), *map(str, signatures), *keys.options("exchange"), "--rpc", rpc
    )

    return Flow(proposal, signatures, submitted, supply_before)


# ---------------------------------------------------------------- mint flow


def test_submit_with_quorum_mints(rpc, executed):
    assert executed.submitted.code == 0, executed.submitted.stderr
    assert "Minted 12.5 g to " + dev_address("exchange") in executed.submitted.stdout
    assert read_coin(rpc, "totalSupply") == executed.supply_before + 12 * GRAM + GRAM // 2


def test_submit_sorts_signatures(executed):
    issuer, custodian = dev_address("authority_issuer"), dev_address("authority_custodian")
    lines = executed.submitted.stdout.splitlines()
    listed = [line.strip() for line in lines[1:3]]

    assert lines[0] == "Approvals, sorted by authority address:"
    assert listed == sorted([issuer, custodian], key=lambda address: int(address, 16))


def test_status_shows_executed(rpc, executed):
    result = run_kura("issuer", "status", str(executed.proposal), "--rpc", rpc)

    assert result.code == 0, result.stderr
    assert "state               executed in block" in result.stdout
    assert "reserve             1000 g" in result.stdout


def test_replayed_submit_fails(rpc, keys, executed):
    supply = read_coin(rpc, "totalSupply")

    result = run_kura(
        "issuer",
        "submit",
        str(executed.proposal),
        *map(str, executed.signatures),
        *keys.options("exchange"),
        "--rpc",
        rpc,
    )

    assert result.code == 1
    assert "executeMint would revert with NonceUsed(" in result.stderr
    assert read_coin(rpc, "totalSupply") == supply


def test_submit_below_threshold_fails(rpc, keys, tmp_path):
    proposal = tmp_path / "proposal.json"
    assert propose(rpc, proposal, "1", dev_address("customer")).code == 0
    signature = sign(keys, proposal, "authority_operator")
    sender_nonce = LedgerClient(rpc).get_nonce(dev_address("exchange"))

    result = run_kura("issuer", "submit", str(proposal), str(signature), *keys.options("exchange"), "--rpc", rpc)

    assert result.code == 1
    assert "InsufficientApprovals(1, 2)" in result.stderr
    assert "nothing was sent" in result.stderr
    assert LedgerClient(rpc).get_nonce(dev_address("exchange")) == sender_nonce


def test_expired_proposal_fails(rpc, keys, tmp_path):
    proposal = tmp_path / "proposal.json"
    proposed = run_kura(
        "issuer",
        "propose-mint",
        "--recipient",
        dev_address("customer"),
        "--amount",
        "1",
        "--reserve-ref",
        REPORT_HASH,
        "--valid-for",
        "1",
        "--out",
        str(proposal),
        "--rpc",
        rpc,
    )
    assert proposed.code == 0, proposed.stderr
    signatures = [sign(keys, proposal, "authority_issuer"), sign(keys, proposal, "authority_operator")]
    expiry = json.loads(proposal.read_text())["expiry"]
    # The node stamps blocks with this machine's clock, so once it passes the expiry every
    # later block is past it too.
    time.sleep(max(0.0, expiry + 1 - time.time()))

    supply = read_coin(rpc, "totalSupply")

    status = run_kura("issuer", "status", str(proposal), "--rpc", rpc)
    submitted = run_kura(
        "issuer", "submit", str(proposal), *map(str, signatures), *keys.options("exchange"), "--rpc", rpc
    )

    assert status.code == 0, status.stderr
    assert "state               expired" in status.stdout
    # The gas estimate runs on the latest block, which may still predate the expiry; then the
    # transaction is sent and fails when mined. Either way the error names ProposalExpired.
    assert submitted.code == 1
    assert f"ProposalExpired({expiry}, " in submitted.stderr
    assert read_coin(rpc, "totalSupply") == supply


def test_status_counts_signature_files(rpc, keys, tmp_path):
    proposal = tmp_path / "proposal.json"
    assert propose(rpc, proposal, "2", dev_address("customer")).code == 0
    signature = sign(keys, proposal, "authority_operator")

    result = run_kura("issuer", "status", str(proposal), str(signature), "--rpc", rpc)

    assert result.code == 0, result.stderr
    assert "state               pending: executable until" in result.stdout
    assert "approvals           1 of 2 needed" in result.stdout
    assert f"  by signature      {dev_address('authority_operator')}" in result.stdout


def test_mint_above_reserve_fails(rpc, keys, tmp_path):
    proposal = tmp_path / "proposal.json"
    assert propose(rpc, proposal, "5000", dev_address("customer")).code == 0
    signatures = [sign(keys, proposal, "authority_issuer"), sign(keys, proposal, "authority_operator")]

    result = run_kura("issuer", "submit", str(proposal), *map(str, signatures), *keys.options("exchange"), "--rpc", rpc)

    assert result.code == 1
    assert "executeMint would revert with ReserveExceeded(" in result.stderr
    assert "above the attested reserve of 1000 g" in result.stderr


def test_status_in_japanese(rpc, executed):
    result = run_kura_process("issuer", "status", str(executed.proposal), "--rpc", rpc, lang="ja_JP.UTF-8")

    assert result.code == 0, result.stderr
    assert "実行済み" in result.stdout
    assert "準備金" in result.stdout


# ---------------------------------------------------------------- GoldCoin calls


def test_burn_from_approving_holder(rpc, keys, executed):
    exchange = dev_accounts()["exchange"]
    ledger = LedgerClient(rpc)
    approve = gold_coin_interface().encode_call("approve", dev_address("burner"), 2 * GRAM + GRAM // 2)
    assert ledger.transact(exchange.private_key, GOLD_COIN_ADDRESS, approve).status
    balance = read_coin(rpc, "balanceOf", exchange.address)
    supply = read_coin(rpc, "totalSupply")

    result = run_kura("issuer", "burn", "2.5", "--from", exchange.address, *keys.options("burner"), "--rpc", rpc)

    assert result.code == 0, result.stderr
    assert f"Burned 2.5 g from {exchange.address}" in result.stdout
    assert read_coin(rpc, "balanceOf", exchange.address) == balance - 2 * GRAM - GRAM // 2
    assert read_coin(rpc, "totalSupply") == supply - 2 * GRAM - GRAM // 2


def test_burn_without_role_fails(rpc, keys):
    result = run_kura("issuer", "burn", "1", *keys.options("customer"), "--rpc", rpc)

    assert result.code == 1
    assert "burn would revert with AccessControlUnauthorizedAccount(" in result.stderr
    assert f"{dev_address('customer')} does not have BURNER_ROLE" in result.stderr


def test_pause_and_unpause(rpc, keys):
    paused = run_kura("issuer", "pause", *keys.options("pauser"), "--rpc", rpc)
    state_while_paused = read_coin(rpc, "paused")
    unpaused = run_kura("issuer", "unpause", *keys.options("pauser"), "--rpc", rpc)

    assert paused.code == 0, paused.stderr
    assert "pause: transaction 0x" in paused.stdout
    assert state_while_paused is True
    assert unpaused.code == 0, unpaused.stderr
    assert read_coin(rpc, "paused") is False


def test_pause_by_other_role_fails(rpc, keys):
    result = run_kura("issuer", "pause", *keys.options("compliance"), "--rpc", rpc)

    assert result.code == 1
    assert f"{dev_address('compliance')} does not have PAUSER_ROLE" in result.stderr


def test_freeze_and_unfreeze(rpc, keys):
    customer = dev_address("customer")

    frozen = run_kura("issuer", "freeze", customer, *keys.options("compliance"), "--rpc", rpc)
    state_while_frozen = read_coin(rpc, "isFrozen", customer)
    unfrozen = run_kura("issuer", "unfreeze", customer, *keys.options("compliance"), "--rpc", rpc)

    assert frozen.code == 0, frozen.stderr
    assert f"{customer} is frozen" in frozen.stdout
    assert state_while_frozen is True
    assert unfrozen.code == 0, unfrozen.stderr
    assert read_coin(rpc, "isFrozen", customer) is False


def test_stale_attestation_fails(rpc, keys):
    result = run_kura(
        "issuer",
        "attest-reserve",
        "2000",
        "--report-hash",
        REPORT_HASH,
        "--as-of",
        "1",
        *keys.options("attestor"),
        "--rpc",
        rpc,
    )

    assert result.code == 1
    assert "attestReserve would revert with StaleAttestation(1, " in result.stderr


def test_allowlist_edit_fails_when_mode_off(rpc, keys):
    result = run_kura("issuer", "allowlist", "add", dev_address("customer"), *keys.options("compliance"), "--rpc", rpc)

    assert result.code == 1
    assert "AllowlistModeOff()" in result.stderr
    assert "allowlist mode off" in result.stderr


def test_allowlist_add_and_remove(allowlist_rpc, keys):
    customer = dev_address("customer")

    added = run_kura("issuer", "allowlist", "add", customer, *keys.options("compliance"), "--rpc", allowlist_rpc)
    listed = read_coin(allowlist_rpc, "isAllowlisted", customer)
    removed = run_kura("issuer", "allowlist", "remove", customer, *keys.options("compliance"), "--rpc", allowlist_rpc)

    assert added.code == 0, added.stderr
    assert f"{customer} is on the allowlist" in added.stdout
    assert listed is True
    assert removed.code == 0, removed.stderr
    assert read_coin(allowlist_rpc, "isAllowlisted", customer) is False

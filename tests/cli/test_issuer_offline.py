"""``kura issuer`` steps that need no node: proposal files, offline signing and input checks."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from node.cli.issuer_files import read_proposal
from node.coin.dev_roles import dev_address
from tests.coin.issuer_cli import Keys, english_messages, run_kura, run_kura_process, write_keystores

CHAIN_ID = "1337"
#: 2030-01-01T00:00:00Z, so proposals written here stay unexpired by the local clock.
EXPIRY = "1893456000"
RESERVE_REF = "0x" + "ab" * 32


@pytest.fixture(scope="module", autouse=True)
def english() -> Iterator[None]:
    with english_messages():
        yield


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return write_keystores(tmp_path_factory.mktemp("keys"))


def propose(out: Path, amount: str = "12.5", *extra: str) -> object:
    """Write a proposal without contacting a node: chain id and expiry come from the options."""
    return run_kura(
        "issuer",
        "propose-mint",
        "--recipient",
        dev_address("exchange"),
        "--amount",
        amount,
        "--reserve-ref",
        RESERVE_REF,
        "--chain-id",
        CHAIN_ID,
        "--expiry",
        EXPIRY,
        "--out",
        str(out),
        *extra,
    )


def test_propose_writes_decimal_amount(tmp_path):
    result = propose(tmp_path / "proposal.json", "12.5", "--nonce", "42")

    assert result.code == 0, result.stderr
    document = json.loads((tmp_path / "proposal.json").read_text())
    assert document["amount"] == "12.5"
    assert document["amountBaseUnits"] == "12500000000000000000"
    assert document["nonce"] == "42"
    assert document["chainId"] == 1337
    assert document["expiry"] == int(EXPIRY)
    assert document["verifyingContract"] == "0x00000000000000000000000000000000000C0112"
    assert document["reserveRef"] == RESERVE_REF
    assert "12.5 g" in result.stdout


def test_propose_smallest_unit_accepted(tmp_path):
    result = propose(tmp_path / "proposal.json", "0.000000000000000001")

    assert result.code == 0, result.stderr
    assert read_proposal(tmp_path / "proposal.json").proposal.amount == 1


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("1e3", "is not a plain decimal number"),
        ("-1", "is negative"),
        ("0.0000000000000000001", "has more than 18 decimal places"),
        ("0", "is zero"),
        ("12,5", "is not a plain decimal number"),
        ("nan", "is not a plain decimal number"),
    ],
)
def test_propose_rejects_bad_amount(tmp_path, amount, problem):
    result = propose(tmp_path / "proposal.json", amount)

    assert result.code == 1
    assert f"amount '{amount}' {problem}" in result.stderr
    assert not (tmp_path / "proposal.json").exists()


def test_propose_refuses_to_overwrite(tmp_path):
    out = tmp_path / "proposal.json"
    out.write_text("{}")

    result = propose(out)

    assert result.code == 1
    assert "already exists" in result.stderr
    assert out.read_text() == "{}"


def test_propose_rejects_bad_recipient(tmp_path):
    result = run_kura(
        "issuer",
        "propose-mint",
        "--recipient",
        "0x1234",
        "--amount",
        "1",
        "--reserve-ref",
        RESERVE_REF,
        "--chain-id",
        CHAIN_ID,
        "--expiry",
        EXPIRY,
        "--out",
        str(tmp_path / "p.json"),
    )

    assert result.code == 1
    assert "recipient '0x1234' is not a 20-byte hex address" in result.stderr


def test_propose_rejects_short_reserve_ref(tmp_path):
    result = run_kura(
        "issuer",
        "propose-mint",
        "--recipient",
        dev_address("exchange"),
        "--amount",
        "1",
        "--reserve-ref",
        "0xabcd",
        "--chain-id",
        CHAIN_ID,
        "--expiry",
        EXPIRY,
        "--out",
        str(tmp_path / "p.json"),
    )

    assert result.code == 1
    assert "--reserve-ref '0xabcd' is not 32 bytes" in result.stderr


def test_sign_makes_no_network_connection(tmp_path, keys, monkeypatch):
    assert propose(tmp_path / "proposal.json").code == 0
    attempts: list[object] = []

    def refuse_connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network access in an offline step")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)

    result = run_kura(
        "issuer",
        "sign",
        str(tmp_path / "proposal.json"),
        *keys.options("authority_issuer"),
        "--out",
        str(tmp_path / "issuer.sig.json"),
        "--yes",
    )

    assert result.code == 0, result.stderr
    assert attempts == []
    signature_file = json.loads((tmp_path / "issuer.sig.json").read_text())
    proposal_file = read_proposal(tmp_path / "proposal.json")
    signer = Account.recover_message(
        encode_typed_data(full_message=proposal_file.typed_data()),
        signature=bytes.fromhex(signature_file["signature"][2:]),
    )
    assert signer == dev_address("authority_issuer")
    assert signature_file["authority"] == dev_address("authority_issuer")
    assert signature_file["proposalHash"] == "0x" + proposal_file.digest.hex()


def test_sign_shows_eip712_fields(tmp_path, keys):
    assert propose(tmp_path / "proposal.json", "12.5", "--nonce", "77").code == 0

    result = run_kura("issuer", "sign", str(tmp_path / "proposal.json"), *keys.options("authority_operator"), "--yes")

    assert result.code == 0, result.stderr
    for expected in (
        "Kura MintAuthority",
        "verifyingContract  0x00000000000000000000000000000000000C0112",
        "chainId            1337",
        f"recipient   {dev_address('exchange')}",
        "amount      12500000000000000000 (12.5 g)",
        f"reserveRef  {RESERVE_REF}",
        f"expiry      {EXPIRY} (2030-01-01T00:00:00Z)",
        "nonce       77",
        f"signer  {dev_address('authority_operator')}",
    ):
        assert expected in result.stdout
    default_out = tmp_path / f"proposal.{dev_address('authority_operator')}.sig.json"
    assert default_out.exists()


def test_sign_declined_writes_nothing(tmp_path, keys):
    assert propose(tmp_path / "proposal.json").code == 0
    out = tmp_path / "issuer.sig.json"

    declined = run_kura(
        "issuer",
        "sign",
        str(tmp_path / "proposal.json"),
        *keys.options("authority_issuer"),
        "--out",
        str(out),
        stdin="n\n",
    )

    assert declined.code == 1
    assert "Sign this mint proposal? [y/N]" in declined.stdout
    assert "not confirmed" in declined.stderr
    assert not out.exists()


def test_sign_confirmed_writes_signature(tmp_path, keys):
    assert propose(tmp_path / "proposal.json").code == 0
    out = tmp_path / "issuer.sig.json"

    confirmed = run_kura(
        "issuer",
        "sign",
        str(tmp_path / "proposal.json"),
        *keys.options("authority_issuer"),
        "--out",
        str(out),
        stdin="y\n",
    )

    assert confirmed.code == 0, confirmed.stderr
    assert out.exists()


def test_sign_wrong_password_fails(tmp_path, keys):
    assert propose(tmp_path / "proposal.json").code == 0
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the password\n")

    result = run_kura(
        "issuer",
        "sign",
        str(tmp_path / "proposal.json"),
        "--keystore",
        keys.keystore("authority_issuer"),
        "--password-file",
        str(wrong),
        "--yes",
    )

    assert result.code == 1
    assert "wrong password for the keystore" in result.stderr


def test_edited_proposal_is_rejected(tmp_path, keys):
    path = tmp_path / "proposal.json"
    assert propose(path, "12.5").code == 0
    document = json.loads(path.read_text())
    document["amount"] = "125"
    document["amountBaseUnits"] = "125000000000000000000"
    path.write_text(json.dumps(document))

    result = run_kura("issuer", "sign", str(path), *keys.options("authority_issuer"), "--yes")

    assert result.code == 1
    assert "proposalHash" in result.stderr
    assert "does not match the fields" in result.stderr


def test_mismatched_amount_fields_rejected(tmp_path, keys):
    path = tmp_path / "proposal.json"
    assert propose(path, "12.5").code == 0
    document = json.loads(path.read_text())
    document["amount"] = "13"
    path.write_text(json.dumps(document))

    result = run_kura("issuer", "sign", str(path), *keys.options("authority_issuer"), "--yes")

    assert result.code == 1
    assert "amount 13 g does not match amountBaseUnits 12500000000000000000" in result.stderr


def test_submit_rejects_signature_of_other_proposal(tmp_path, keys):
    assert propose(tmp_path / "first.json", "1", "--nonce", "1").code == 0
    assert propose(tmp_path / "second.json", "1", "--nonce", "2").code == 0
    sign = run_kura(
        "issuer",
        "sign",
        str(tmp_path / "second.json"),
        *keys.options("authority_issuer"),
        "--out",
        str(tmp_path / "second.sig.json"),
        "--yes",
    )
    assert sign.code == 0, sign.stderr

    # The file check comes before any network access, so no node is needed.
    result = run_kura(
        "issuer",
        "submit",
        str(tmp_path / "first.json"),
        str(tmp_path / "second.sig.json"),
        *keys.options("exchange"),
        "--rpc",
        "http://127.0.0.1:9",
    )

    assert result.code == 1
    assert "second.sig.json signs proposal 0x" in result.stderr


def test_submit_rejects_forged_signature(tmp_path, keys):
    proposal = tmp_path / "proposal.json"
    assert propose(proposal).code == 0
    out = tmp_path / "issuer.sig.json"
    signed = run_kura("issuer", "sign", str(proposal), *keys.options("authority_issuer"), "--out", str(out), "--yes")
    assert signed.code == 0, signed.stderr
    document = json.loads(out.read_text())
    document["authority"] = dev_address("authority_custodian")
    out.write_text(json.dumps(document))

    result = run_kura(
        "issuer", "submit", str(proposal), str(out), *keys.options("exchange"), "--rpc", "http://127.0.0.1:9"
    )

    assert result.code == 1
    assert f"was not made by {dev_address('authority_custodian')}" in result.stderr


def test_unreachable_node_is_named(tmp_path, keys):
    result = run_kura("issuer", "pause", *keys.options("pauser"), "--rpc", "http://127.0.0.1:9")

    assert result.code == 1
    assert "cannot reach the node at http://127.0.0.1:9" in result.stderr


def test_burn_rejects_bad_amounts(keys):
    for amount, problem in (
        ("1e3", "is not a plain decimal number"),
        ("-1", "is negative"),
        ("0.0000000000000000001", "has more than 18 decimal places"),
    ):
        result = run_kura("issuer", "burn", amount, *keys.options("burner"), "--rpc", "http://127.0.0.1:9")

        assert result.code == 1, amount
        assert f"amount '{amount}' {problem}" in result.stderr


def test_bad_amount_message_in_japanese(tmp_path):
    result = run_kura_process(
        "issuer",
        "propose-mint",
        "--recipient",
        dev_address("exchange"),
        "--amount",
        "1e3",
        "--reserve-ref",
        RESERVE_REF,
        "--chain-id",
        CHAIN_ID,
        "--expiry",
        EXPIRY,
        "--out",
        str(tmp_path / "p.json"),
        lang="ja_JP.UTF-8",
    )

    assert result.code == 1
    assert result.stderr.startswith("エラー: ")
    assert "'1e3'" in result.stderr
    assert "グラム" in result.stderr

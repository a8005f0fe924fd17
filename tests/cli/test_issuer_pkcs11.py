"""``kura issuer sign`` with a secp256k1 key in a SoftHSM2 token, through PKCS#11.

The module makes a token in a temporary SoftHSM2 store, generates a key pair in it, signs a
proposal with the CLI, and mints on the in-process chain after adding the token's address to the
authority set. It is skipped when SoftHSM2 or python-pkcs11 is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from node.cli.issuer_files import read_approval, read_proposal
from node.coin.abi import gold_coin_interface
from node.coin.dev_roles import DEV_DAILY_LIMIT, dev_accounts, dev_address
from node.coin.eip712 import AuthoritySetChange, sign_authority_set_change
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from node.coin.transactions import execute_authority_set_change_call_data, execute_mint_call_data
from tests.coin.coin_client import Contract
from tests.coin.coin_flows import GRAM, attest, balance_of
from tests.coin.conftest import make_chain, make_client
from tests.coin.issuer_cli import english_messages, run_kura, write_keystores

pkcs11 = pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")

#: Where Debian's softhsm2 package installs the PKCS#11 module.
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
TOKEN_LABEL = "kura-issuer-test"
KEY_LABEL = "mint-authority"
USER_PIN = "246810"
CHAIN_ID = "1337"
#: 2030-01-01T00:00:00Z.
EXPIRY = "1893456000"


@dataclass(frozen=True)
class Token:
    module: str
    pin_file: Path
    #: Address of the token's secp256k1 key pair.
    address: str

    def options(self) -> list[str]:
        return [
            "--pkcs11-module",
            self.module,
            "--token-label",
            TOKEN_LABEL,
            "--key-label",
            KEY_LABEL,
            "--pin-file",
            str(self.pin_file),
        ]


@pytest.fixture(scope="module", autouse=True)
def english() -> Iterator[None]:
    with english_messages():
        yield


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    """A fresh SoftHSM2 token with one secp256k1 key pair, in a store of its own."""
    module = next((path for path in SOFTHSM_MODULES if Path(path).exists()), None)
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2)")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n")
    saved = os.environ.get("SOFTHSM2_CONF")
    # SoftHSM2 reads its configuration when the module is loaded into this process.
    os.environ["SOFTHSM2_CONF"] = str(config)
    try:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL, "--so-pin", "13579", "--pin", USER_PIN],
            check=True,
            capture_output=True,
        )
        address = _generate_key(module)
        pin_file = directory / "pin.txt"
        pin_file.write_text(USER_PIN + "\n")
        yield Token(module, pin_file, address)
    finally:
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved


def _generate_key(module: str) -> str:
    """Generate a secp256k1 key pair in the token and return its Ethereum address."""
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    with pkcs11.lib(module).get_token(token_label=TOKEN_LABEL).open(user_pin=USER_PIN, rw=True) as session:
        parameters = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256k1")}, local=True
        )
        public_key, _private_key = parameters.generate_keypair(store=True, label=KEY_LABEL)
        point = bytes(public_key[Attribute.EC_POINT])
    # CKA_EC_POINT is a DER OCTET STRING (04 41) around the uncompressed point 04‖x‖y.
    return to_checksum_address(keccak(point[3:])[12:])


def propose(out: Path, nonce: str) -> None:
    result = run_kura(
        "issuer",
        "propose-mint",
        "--recipient",
        dev_address("customer"),
        "--amount",
        "7.25",
        "--reserve-ref",
        "0x" + "ab" * 32,
        "--chain-id",
        CHAIN_ID,
        "--expiry",
        EXPIRY,
        "--nonce",
        nonce,
        "--out",
        str(out),
    )
    assert result.code == 0, result.stderr


def test_token_signature_recovers_to_token_address(tmp_path, token, monkeypatch):
    proposal = tmp_path / "proposal.json"
    propose(proposal, "1")

    def refuse_connect(self: socket.socket, address: object) -> None:
        raise OSError("network access in an offline step")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    result = run_kura("issuer", "sign", str(proposal), *token.options(), "--out", str(tmp_path / "sig.json"), "--yes")

    assert result.code == 0, result.stderr
    assert f"signer  {token.address}" in result.stdout
    approval = read_approval(tmp_path / "sig.json").approval
    signable = encode_typed_data(full_message=read_proposal(proposal).typed_data())
    assert approval.authority == token.address
    assert Account.recover_message(signable, signature=approval.signature) == token.address
    # EIP-2: s in the lower half of the curve order.
    assert (
        int.from_bytes(approval.signature[32:64], "big")
        <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    )


def test_token_signature_mints_on_chain(tmp_path, token):
    client = make_client(make_chain())
    coin = Contract(GOLD_COIN_ADDRESS, gold_coin_interface())
    dev = dev_accounts()
    keys = write_keystores(tmp_path / "keys")
    issuer, custodian = dev["authority_issuer"], dev["authority_custodian"]

    # Make the token's key the third authority in place of the operator.
    change = AuthoritySetChange.from_limits(
        {issuer.address: DEV_DAILY_LIMIT, custodian.address: DEV_DAILY_LIMIT, token.address: DEV_DAILY_LIMIT},
        threshold=2,
        expiry=client.backend.latest_timestamp() + 3600,
        nonce=100,
    )
    approvals = [
        sign_authority_set_change(account.private_key, change, client.chain_id, MINT_AUTHORITY_ADDRESS)
        for account in (issuer, custodian)
    ]
    changed = client.send_raw(
        dev["exchange"].private_key, MINT_AUTHORITY_ADDRESS, execute_authority_set_change_call_data(change, approvals)
    )
    assert changed.ok, changed.error
    attest(client, coin, dev["attestor"], 100)

    proposal_path = tmp_path / "proposal.json"
    propose(proposal_path, "2")
    token_sig, issuer_sig = tmp_path / "token.sig.json", tmp_path / "issuer.sig.json"
    signed = run_kura("issuer", "sign", str(proposal_path), *token.options(), "--out", str(token_sig), "--yes")
    assert signed.code == 0, signed.stderr
    signed = run_kura(
        "issuer", "sign", str(proposal_path), *keys.options("authority_issuer"), "--out", str(issuer_sig), "--yes"
    )
    assert signed.code == 0, signed.stderr
    proposal = read_proposal(proposal_path).proposal
    approvals = [read_approval(token_sig).approval, read_approval(issuer_sig).approval]

    minted = client.send_raw(
        dev["exchange"].private_key, MINT_AUTHORITY_ADDRESS, execute_mint_call_data(proposal, approvals)
    )

    assert minted.ok, minted.error
    assert balance_of(client, coin, dev["customer"].address) == 7 * GRAM + GRAM // 4


def test_wrong_pin_is_reported(tmp_path, token):
    proposal = tmp_path / "proposal.json"
    propose(proposal, "3")
    wrong = tmp_path / "wrong-pin.txt"
    wrong.write_text("000000\n")
    options = token.options()
    options[options.index("--pin-file") + 1] = str(wrong)

    result = run_kura("issuer", "sign", str(proposal), *options, "--yes")

    assert result.code == 1
    assert f"wrong user PIN for token {TOKEN_LABEL}" in result.stderr


def test_unknown_key_label_is_reported(tmp_path, token):
    proposal = tmp_path / "proposal.json"
    propose(proposal, "4")
    options = token.options()
    options[options.index("--key-label") + 1] = "no-such-key"

    result = run_kura("issuer", "sign", str(proposal), *options, "--yes")

    assert result.code == 1
    assert f"token {TOKEN_LABEL} has no EC key pair labelled no-such-key" in result.stderr

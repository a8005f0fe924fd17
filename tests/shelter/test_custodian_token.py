"""Custodians whose share is sealed with an AES key inside a SoftHSM2 token, through PKCS#11.

The tokens live in a temporary SoftHSM2 store. Every command that opens a
token runs as a ``kura`` subprocess with ``SOFTHSM2_CONF`` pointing at that
store, because SoftHSM2 reads its configuration once per process and other
test modules load it with their own. Skipped when SoftHSM2 is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.shelter import errors
from node.shelter.custodians import open_released_share, read_request_key
from node.shelter.errors import ShelterError
from node.shelter.hsm import TokenKeyRef
from node.shelter.restore import restore, unlock_private_key
from tests.shelter.conftest import Ledger, folder_sites, new_request, passphrase, release_shares, write_config
from tests.support.process import REPO

pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")

#: Where Debian's softhsm2 package installs the PKCS#11 module.
SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
KEY_LABEL = "kura-shelter-share"
#: Custodians 2 and 4 keep their shares in tokens; 1 and 3 use passphrases.
TOKEN_CUSTODIANS = {2: ("kura-custodian-2", "204060"), 4: ("kura-custodian-4", "408012")}


@dataclass(frozen=True)
class Tokens:
    module: str
    env: dict[str, str]
    directory: Path

    def pin_file(self, custodian: int, pin: str | None = None) -> Path:
        path = self.directory / f"pin-{custodian}-{pin or 'right'}.txt"
        path.write_text((pin or TOKEN_CUSTODIANS[custodian][1]) + "\n")
        return path

    def uri(self, custodian: int, *, pin: str | None = None) -> str:
        label = TOKEN_CUSTODIANS[custodian][0]
        return (
            f"pkcs11:token={label};object={KEY_LABEL}"
            f"?module-path={self.module}&pin-source=file:{self.pin_file(custodian, pin)}"
        )


def run_kura(tokens: Tokens, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=tokens.env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Tokens:
    """Two initialised SoftHSM2 tokens, each holding one AES share key made by 'kura custodian create-token-key'."""
    module = next((path for path in SOFTHSM_MODULES if Path(path).exists()), None)
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2)")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    config = directory / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(config), "LANGUAGE": "en", "ETH_HASH_BACKEND": "pysha3"}
    result = Tokens(module, env, directory)
    for custodian, (label, pin) in TOKEN_CUSTODIANS.items():
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "13579", "--pin", pin],
            check=True,
            capture_output=True,
            env=env,
        )
        created = run_kura(result, "custodian", "create-token-key", "--key", result.uri(custodian))
        assert created.returncode == 0, created.stderr
    return result


@pytest.fixture(scope="module")
def token_keys(tokens: Tokens, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-of-4 shelter key: custodians 1 and 3 by passphrase, 2 and 4 by token."""
    out = tmp_path_factory.mktemp("token-keys")
    specs = []
    for custodian in range(1, 5):
        if custodian in TOKEN_CUSTODIANS:
            specs += ["--custodian", tokens.uri(custodian)]
        else:
            path = tokens.directory / f"passphrase-{custodian}.txt"
            path.write_text(passphrase(custodian) + "\n")
            specs += ["--custodian", f"passphrase:{path}"]
    result = run_kura(tokens, "shelter", "keygen", "--custodians", "4", "--threshold", "3", "--out", str(out), *specs)
    assert result.returncode == 0, result.stderr
    return out


def unseal_with_token(tokens: Tokens, keys: Path, request_dir: Path, custodian: int, pin: str | None = None):
    out = request_dir / f"released-token-{custodian}-{pin or 'right'}.json"
    result = run_kura(
        tokens,
        "custodian", "unseal-share",
        "--share", str(keys / f"custodian-{custodian}.json"),
        "--request", str(request_dir / "restore-request.json"),
        "--out", str(out),
        "--pin-file", str(tokens.pin_file(custodian, pin)),
    )  # fmt: skip
    return result, out


def test_keygen_writes_both_kinds_of_custodian_file(token_keys: Path) -> None:
    for custodian in range(1, 5):
        document = json.loads((token_keys / f"custodian-{custodian}.json").read_text())
        if custodian in TOKEN_CUSTODIANS:
            assert document["sealed_with"] == "pkcs11"
            assert document["token"]["token_label"] == TOKEN_CUSTODIANS[custodian][0]
            assert document["token"]["key_label"] == KEY_LABEL
            assert "kdf" not in document
        else:
            assert document["sealed_with"] == "passphrase"
            assert document["kdf"]["name"] == "scrypt"
        assert document["threshold"] == 3
        assert document["custodians"] == 4
    assert (token_keys / "shelter.pub").is_file()


def test_restore_with_token_shares(tokens: Tokens, token_keys: Path, ledger: Ledger, tmp_path: Path) -> None:
    config = write_config(tmp_path / "ops", token_keys, folder_sites(tmp_path / "sites", 5), anchor=ledger.anchor_address)
    manifest = ledger.shelter(config)
    request_dir = tmp_path / "request"
    key_path = new_request(token_keys, request_dir)

    # Custodian 1 types a passphrase; custodians 2 and 4 unlock their tokens.
    shares = release_shares(token_keys, request_dir, [1])
    for custodian in TOKEN_CUSTODIANS:
        result, out = unseal_with_token(tokens, token_keys, request_dir, custodian)
        assert result.returncode == 0, result.stderr
        assert f"Share {custodian} released" in result.stdout
        shares.append(out)

    private = unlock_private_key(config, key_path, shares)
    report = restore(config, private, [tmp_path / "restored"])
    assert report.manifest.block_hash == manifest.block_hash
    assert (tmp_path / "restored" / "chaindata").is_dir()

    # The share itself appears in no file written to disk, only inside the sealed release.
    request_id, request_key = read_request_key(key_path)
    for custodian in TOKEN_CUSTODIANS:
        released = open_released_share(shares[list(TOKEN_CUSTODIANS).index(custodian) + 1], request_id, request_key)
        assert released.index == custodian
        for path in [*token_keys.iterdir(), *request_dir.iterdir()]:
            assert released.share.hex() not in path.read_text(errors="replace"), f"share {custodian} in clear in {path}"


def test_wrong_pin_rejected(tokens: Tokens, token_keys: Path, tmp_path: Path) -> None:
    new_request(token_keys, tmp_path)
    result, out = unseal_with_token(tokens, token_keys, tmp_path, 2, pin="111111")
    assert result.returncode == 1
    assert errors.PIN_INCORRECT in result.stderr
    assert "kura-custodian-2" in result.stderr
    assert not out.exists()


def test_other_token_key_rejected(tokens: Tokens, token_keys: Path, tmp_path: Path) -> None:
    # Custodian 2's file pointed at custodian 4's token: that token's key does not open the share.
    moved = tmp_path / "keys"
    shutil.copytree(token_keys, moved)
    document = json.loads((moved / "custodian-2.json").read_text())
    document["token"]["token_label"] = TOKEN_CUSTODIANS[4][0]
    (moved / "custodian-2.json").write_text(json.dumps(document))
    new_request(moved, tmp_path)
    result, out = unseal_with_token(tokens, moved, tmp_path, 2, pin=TOKEN_CUSTODIANS[4][1])
    assert result.returncode == 1
    assert errors.TOKEN_KEY_WRONG in result.stderr
    assert not out.exists()


def test_module_path_override(tokens: Tokens, token_keys: Path, tmp_path: Path) -> None:
    # The offline machine keeps the module elsewhere than the machine that ran keygen.
    moved = tmp_path / "keys"
    shutil.copytree(token_keys, moved)
    document = json.loads((moved / "custodian-4.json").read_text())
    document["token"]["module_path"] = "/opt/elsewhere/libsofthsm2.so"
    (moved / "custodian-4.json").write_text(json.dumps(document))
    new_request(moved, tmp_path)

    result, out = unseal_with_token(tokens, moved, tmp_path, 4)
    assert result.returncode == 1
    assert "/opt/elsewhere/libsofthsm2.so" in result.stderr
    assert not out.exists()

    overridden = run_kura(
        tokens,
        "custodian", "unseal-share",
        "--share", str(moved / "custodian-4.json"),
        "--request", str(tmp_path / "restore-request.json"),
        "--out", str(out),
        "--pin-file", str(tokens.pin_file(4)),
        "--pkcs11-module", tokens.module,
    )  # fmt: skip
    assert overridden.returncode == 0, overridden.stderr
    assert out.exists()


def test_keygen_with_wrong_pin_writes_nothing(tokens: Tokens, tmp_path: Path) -> None:
    out = tmp_path / "keys"
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(passphrase(1))
    result = run_kura(
        tokens,
        "shelter", "keygen", "--custodians", "2", "--threshold", "2", "--out", str(out),
        "--custodian", f"passphrase:{passphrase_file}",
        "--custodian", tokens.uri(4, pin="999999"),
    )  # fmt: skip
    assert result.returncode == 1
    assert errors.PIN_INCORRECT in result.stderr
    assert not out.exists()


def test_create_token_key_rejects_existing_label(tokens: Tokens) -> None:
    result = run_kura(tokens, "custodian", "create-token-key", "--key", tokens.uri(2))
    assert result.returncode == 1
    assert "already contains a key labelled" in result.stderr


def test_uri_parsing() -> None:
    ref = TokenKeyRef.parse("pkcs11:token=vault%20a;object=share?module-path=/usr/lib/x.so&pin-source=file:/run/pin")
    assert ref == TokenKeyRef("/usr/lib/x.so", "vault a", "share", "/run/pin")
    assert TokenKeyRef.parse(ref.uri()) == TokenKeyRef("/usr/lib/x.so", "vault a", "share")
    for uri, reason in [
        ("pkcs11:token=t;object=k?module-path=/m.so&pin-value=1234", "pin-value"),
        ("pkcs11:token=t?module-path=/m.so", "lacks object"),
        ("pkcs11:token=t;object=k;id=%01?module-path=/m.so", "unsupported"),
        ("pkcs11:token=t;object=k?module-path=/m.so&pin-source=|/bin/pin", "runs a program"),
        ("token=t;object=k", "starting with"),
    ]:
        with pytest.raises(ShelterError, match=reason):
            TokenKeyRef.parse(uri)

"""The kura command: init, accounts, messages in English and Japanese."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.process import REPO

DEV_GENESIS = REPO / "genesis" / "dev.json"


def kura(*args: str, lang: str = "C.UTF-8", cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LANG": lang, "LC_ALL": "", "LANGUAGE": "", "ETH_HASH_BACKEND": "pysha3"}
    env.pop("LC_ALL")
    env.pop("LANGUAGE")
    return subprocess.run(
        [sys.executable, "-m", "node.cli.main", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_init_creates_data_dir(tmp_path: Path) -> None:
    result = kura("init", "--genesis", str(DEV_GENESIS), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert "Initialised" in result.stdout
    assert (tmp_path / "data" / "chaindata").is_dir()


def test_init_twice_same_genesis_is_harmless(tmp_path: Path) -> None:
    first = kura("init", "--genesis", str(DEV_GENESIS), "--data-dir", str(tmp_path / "data"))
    second = kura("init", "--genesis", str(DEV_GENESIS), "--data-dir", str(tmp_path / "data"))
    assert first.returncode == 0
    assert second.returncode == 0
    assert first.stdout.split()[-4] == second.stdout.split()[-4]


def test_init_other_genesis_rejected(tmp_path: Path) -> None:
    kura("init", "--genesis", str(DEV_GENESIS), "--data-dir", str(tmp_path / "data"))
    other = json.loads(DEV_GENESIS.read_text())
    other["gasLimit"] = hex(40_000_000)
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other))

    result = kura("init", "--genesis", str(other_path), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert "another configuration" in result.stderr


def test_init_bad_genesis_names_field(tmp_path: Path) -> None:
    document = json.loads(DEV_GENESIS.read_text())
    document["config"]["qbft"]["blockperiodseconds"] = 0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))

    result = kura("init", "--genesis", str(path), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert "blockperiodseconds" in result.stderr
    assert not (tmp_path / "data" / "chaindata").exists() or not any((tmp_path / "data" / "chaindata").iterdir())


def test_init_missing_genesis_file(tmp_path: Path) -> None:
    result = kura("init", "--genesis", str(tmp_path / "absent.json"), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert "not found" in result.stderr


def test_account_new_and_list(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("correct horse\n")
    keystore = tmp_path / "keys"

    created = kura("account", "new", "--keystore", str(keystore), "--password-file", str(password))
    assert created.returncode == 0, created.stderr
    address = created.stdout.split()[2].rstrip(",")
    files = list(keystore.glob("*.json"))
    assert len(files) == 1
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"

    listed = kura("account", "list", "--keystore", str(keystore))
    assert listed.returncode == 0
    assert address in listed.stdout


def test_account_list_missing_dir(tmp_path: Path) -> None:
    result = kura("account", "list", "--keystore", str(tmp_path / "none"))
    assert result.returncode == 1
    assert "kura account new" in result.stderr


def test_run_with_wrong_keystore_password(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("right")
    kura("account", "new", "--keystore", str(tmp_path / "keys"), "--password-file", str(password))
    kura("init", "--genesis", str(DEV_GENESIS), "--data-dir", str(tmp_path / "data"))
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong")
    keyfile = next((tmp_path / "keys").glob("*.json"))

    result = kura(
        "run", "--data-dir", str(tmp_path / "data"), "--validator-keystore", str(keyfile), "--password-file", str(wrong)
    )
    assert result.returncode == 1
    assert "wrong password" in result.stderr


def test_help_in_japanese() -> None:
    result = kura("--help", lang="ja_JP.UTF-8")
    assert result.returncode == 0
    assert "ジェネシスファイルからデータディレクトリを作成する" in result.stdout


def test_help_in_english() -> None:
    result = kura("--help", lang="C.UTF-8")
    assert "create a data directory from a genesis file" in result.stdout


def test_error_prefix_in_japanese(tmp_path: Path) -> None:
    result = kura("init", "--genesis", str(tmp_path / "absent.json"), "--data-dir", str(tmp_path / "d"), lang="ja_JP.UTF-8")
    assert result.stderr.startswith("エラー: ")


def test_bad_port_rejected() -> None:
    result = kura("dev", "--rpc-port", "70000")
    assert result.returncode == 2
    assert "70000" in result.stderr


def test_rpc_port_in_use_stops_before_sealing(tmp_path: Path) -> None:
    import socket

    from node.chain.chain import Chain
    from node.store.backend import LevelDBBackend

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = kura("dev", "--data-dir", str(tmp_path / "data"), "--rpc-port", str(port))
    assert result.returncode == 1
    assert "choose another --rpc-port" in result.stderr
    backend = LevelDBBackend(tmp_path / "data" / "chaindata")
    try:
        assert Chain(backend).head.block_number == 0
    finally:
        backend.close()

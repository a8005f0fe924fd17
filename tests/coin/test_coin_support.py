"""Dev role derivation, artefact loading and revert decoding."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from node.coin.abi import decode_coin_revert, gold_coin_interface
from node.coin.artifacts import GOLD_COIN, load_artifact
from node.coin.dev_roles import DEV_ROLE_TABLE, dev_accounts, dev_address
from node.coin.errors import AbiLookupError, ArtifactNotFound


def test_dev_accounts_match_table():
    accounts = dev_accounts()

    assert [account.index for account in accounts.values()] == list(range(10))
    for index, role, _, address in DEV_ROLE_TABLE:
        assert accounts[role].address == address
        assert accounts[role].index == index


def test_dev_address_unknown_role():
    with pytest.raises(KeyError, match="unknown dev role"):
        dev_address("treasurer")


def test_artifact_records_compiler():
    artifact = load_artifact(GOLD_COIN)

    assert artifact.compiler_version.startswith("0.8.30+")
    assert artifact.bytecode
    assert artifact.deployed_bytecode


def test_missing_artifact_names_build_script(monkeypatch, tmp_path):
    monkeypatch.setenv("KURA_CONTRACTS_BUILD", str(tmp_path))

    with pytest.raises(ArtifactNotFound, match="build_contracts.sh"):
        load_artifact(GOLD_COIN)


def test_unknown_function_raises():
    with pytest.raises(AbiLookupError, match="mintForFree"):
        gold_coin_interface().encode_call("mintForFree")


def test_decode_custom_error():
    data = keccak(text="ReserveExceeded(uint256,uint256)")[:4] + encode(["uint256", "uint256"], [5, 3])
    decoded = decode_coin_revert(data)

    assert decoded.name == "ReserveExceeded"
    assert decoded.args == (5, 3)


def test_decode_error_string_and_panic():
    error = decode_coin_revert(keccak(text="Error(string)")[:4] + encode(["string"], ["nope"]))
    panic = decode_coin_revert(keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11]))
    unknown = decode_coin_revert(b"\xde\xad\xbe\xef")

    assert (error.name, error.args) == ("Error", ("nope",))
    assert (panic.name, panic.args) == ("Panic", (0x11,))
    assert (unknown.name, unknown.args) == ("UnknownError", (b"\xde\xad\xbe\xef",))

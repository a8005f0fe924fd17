"""Genesis predeploys: alloc format, immutables, captured storage and constructor checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eth.vm.forks.prague import PragueState
from eth_utils import keccak, to_canonical_address

import node.coin.predeploy as predeploy
from node.chain.genesis import parse_genesis
from node.coin.artifacts import GOLD_COIN, MINT_AUTHORITY, load_artifact
from node.coin.dev_genesis import dev_coin_alloc, dev_coin_roles
from node.coin.dev_roles import DEV_AUTHORITY_ROLES, dev_address
from node.coin.eip712 import DOMAIN_NAME, DOMAIN_VERSION
from node.coin.errors import PredeployFailed
from node.coin.predeploy import (
    DEFAULT_TOKEN_NAME,
    GOLD_COIN_ADDRESS,
    MINT_AUTHORITY_ADDRESS,
    build_predeploy_alloc,
)
from tests.coin.coin_flows import CHAIN_ID

AUTHORITIES = [dev_address(role) for role in DEV_AUTHORITY_ROLES]
REPO_ROOT = Path(__file__).resolve().parents[2]


def _domain_separator(name: str, version: str, chain_id: int, contract: str) -> bytes:
    type_hash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    return keccak(
        type_hash
        + keccak(text=name)
        + keccak(text=version)
        + chain_id.to_bytes(32, "big")
        + to_canonical_address(contract).rjust(32, b"\x00")
    )


def _strip_immutables(code: bytes, ranges: tuple[tuple[int, int], ...]) -> bytes:
    stripped = bytearray(code)
    for offset, length in ranges:
        stripped[offset : offset + length] = b"\x00" * length
    return bytes(stripped)


def test_alloc_entries_are_geth_style():
    alloc = dev_coin_alloc(CHAIN_ID)

    assert set(alloc) == {GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS}
    for entry in alloc.values():
        assert entry["nonce"] == "0x1"
        assert entry["balance"] == "0x0"
        assert entry["code"].startswith("0x")
        assert entry["storage"]
        for slot, value in entry["storage"].items():
            assert slot.startswith("0x")
            assert len(slot) == 66
            assert len(value) == 66
            assert int(value, 16) != 0


def test_alloc_is_deterministic():
    first = build_predeploy_alloc(CHAIN_ID, dev_coin_roles(), AUTHORITIES, 2, 10**21, False)
    second = build_predeploy_alloc(CHAIN_ID, dev_coin_roles(), list(reversed(AUTHORITIES)), 2, 10**21, False)

    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_runtime_code_matches_artifact_outside_immutables():
    alloc = dev_coin_alloc(CHAIN_ID)

    for name, address in ((GOLD_COIN, GOLD_COIN_ADDRESS), (MINT_AUTHORITY, MINT_AUTHORITY_ADDRESS)):
        artifact = load_artifact(name)
        code = bytes.fromhex(alloc[address]["code"][2:])
        assert artifact.immutable_ranges, name
        assert _strip_immutables(code, artifact.immutable_ranges) == artifact.deployed_bytecode, name


def test_immutables_depend_on_chain_id():
    code_a = dev_coin_alloc(CHAIN_ID)[MINT_AUTHORITY_ADDRESS]["code"]
    code_b = dev_coin_alloc(CHAIN_ID + 1)[MINT_AUTHORITY_ADDRESS]["code"]

    assert code_a != code_b


def test_eip712_domains_use_target_address_and_chain(client, coin, authority):
    _, name, version, chain_id, verifying_contract, _, _ = client.read(coin, "eip712Domain")
    assert (name, version, chain_id, verifying_contract) == (DEFAULT_TOKEN_NAME, "1", CHAIN_ID, GOLD_COIN_ADDRESS)
    assert client.read(coin, "DOMAIN_SEPARATOR") == _domain_separator(
        DEFAULT_TOKEN_NAME, "1", CHAIN_ID, GOLD_COIN_ADDRESS
    )

    _, name, version, chain_id, verifying_contract, _, _ = client.read(authority, "eip712Domain")
    assert (name, version, chain_id, verifying_contract) == (
        DOMAIN_NAME,
        DOMAIN_VERSION,
        CHAIN_ID,
        MINT_AUTHORITY_ADDRESS,
    )
    assert client.read(authority, "DOMAIN_SEPARATOR") == _domain_separator(
        DOMAIN_NAME, DOMAIN_VERSION, CHAIN_ID, MINT_AUTHORITY_ADDRESS
    )
    assert client.read(authority, "token") == GOLD_COIN_ADDRESS


def test_constructor_state_is_readable(client, coin, authority, dev):
    assert client.read(coin, "name") == DEFAULT_TOKEN_NAME
    assert client.read(coin, "symbol") == predeploy.DEFAULT_TOKEN_SYMBOL
    assert client.read(coin, "decimals") == 18
    assert client.read(coin, "totalSupply") == 0
    assert client.read(coin, "paused") is False
    assert client.read(authority, "authorities") == sorted(AUTHORITIES, key=lambda a: int(a, 16))
    assert client.read(authority, "threshold") == 2
    for address in AUTHORITIES:
        assert client.read(authority, "isAuthority", address) is True


def test_missed_storage_slot_is_detected(monkeypatch):
    def set_storage_forgetting_first_slot(self, address, slot, value):
        if self.written_slots:
            self.written_slots.setdefault(bytes(address), set()).add(slot)
        else:
            self.written_slots[b"forgotten"] = set()
        PragueState.set_storage(self, address, slot, value)

    monkeypatch.setattr(predeploy._StorageRecordingState, "set_storage", set_storage_forgetting_first_slot)

    with pytest.raises(PredeployFailed, match="was not captured"):
        build_predeploy_alloc(CHAIN_ID, dev_coin_roles(), AUTHORITIES, 2, 10**21, False)


def test_constructor_revert_names_error():
    with pytest.raises(PredeployFailed, match=r"InvalidThreshold\(4, 3\)"):
        build_predeploy_alloc(CHAIN_ID, dev_coin_roles(), AUTHORITIES, 4, 10**21, False)


def test_duplicate_authority_rejected():
    with pytest.raises(ValueError, match="listed twice"):
        build_predeploy_alloc(CHAIN_ID, dev_coin_roles(), [AUTHORITIES[0], AUTHORITIES[0]], 1, 10**21, False)


def test_daily_limit_count_mismatch_rejected():
    with pytest.raises(ValueError, match="2 daily limits for 3 authorities"):
        build_predeploy_alloc(CHAIN_ID, dev_coin_roles(), AUTHORITIES, 2, [1, 2], False)


def test_allowlist_mode_reaches_contract(allowlist_client, coin):
    assert allowlist_client.read(coin, "allowlistMode") is True


def test_dev_alloc_script_output_parses_as_genesis():
    completed = subprocess.run(
        [sys.executable, "scripts/make_dev_genesis_alloc.py", "--chain-id", str(CHAIN_ID)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    alloc = json.loads(completed.stdout)
    document = {
        "config": {"chainId": CHAIN_ID, "qbft": {"validators": [dev_address("admin")]}},
        "alloc": alloc,
    }

    genesis = parse_genesis(document)

    coin_account = genesis.alloc[to_canonical_address(GOLD_COIN_ADDRESS)]
    assert coin_account.nonce == 1
    assert coin_account.code == bytes.fromhex(alloc[GOLD_COIN_ADDRESS]["code"][2:])
    assert genesis.alloc[to_canonical_address(dev_address("customer"))].balance == 10**24

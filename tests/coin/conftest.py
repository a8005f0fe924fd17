"""Fixtures for the coin tests: a fresh in-process chain with the dev predeploys per test."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from node.coin.abi import gold_coin_interface, mint_authority_interface
from node.coin.dev_genesis import dev_coin_alloc
from node.coin.dev_roles import DEV_ROLE_TABLE, DevAccount, dev_accounts
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from tests.coin.coin_chain import InProcessChain
from tests.coin.coin_client import CoinClient, Contract
from tests.coin.coin_flows import CHAIN_ID, DEV_ACCOUNT_BALANCE, GENESIS_TIMESTAMP


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "time_control: needs ChainBackend.set_next_block_timestamp, which a real node may lack"
    )


@functools.cache
def _predeploy_alloc(chain_id: int, allowlist_mode: bool) -> dict[str, dict[str, Any]]:
    return dev_coin_alloc(chain_id, allowlist_mode=allowlist_mode)


def make_chain(*, allowlist_mode: bool = False, chain_id: int = CHAIN_ID) -> InProcessChain:
    alloc = dict(_predeploy_alloc(chain_id, allowlist_mode))
    for _, _, _, address in DEV_ROLE_TABLE:
        alloc[address] = {"balance": hex(DEV_ACCOUNT_BALANCE)}
    return InProcessChain(alloc, chain_id=chain_id, genesis_timestamp=GENESIS_TIMESTAMP)


def make_client(backend: Any) -> CoinClient:
    return CoinClient(
        backend,
        [
            Contract(GOLD_COIN_ADDRESS, gold_coin_interface()),
            Contract(MINT_AUTHORITY_ADDRESS, mint_authority_interface()),
        ],
    )


@pytest.fixture
def dev() -> dict[str, DevAccount]:
    return dev_accounts()


@pytest.fixture
def client() -> CoinClient:
    return make_client(make_chain())


@pytest.fixture
def allowlist_client() -> CoinClient:
    return make_client(make_chain(allowlist_mode=True))


@pytest.fixture
def coin() -> Contract:
    return Contract(GOLD_COIN_ADDRESS, gold_coin_interface())


@pytest.fixture
def authority() -> Contract:
    return Contract(MINT_AUTHORITY_ADDRESS, mint_authority_interface())

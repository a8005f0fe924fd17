"""Shared helpers for the JSON-RPC suites: dev accounts, the Probe artefact,
transaction signing, raw HTTP and the EIP-1559 base fee rule."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware

from tests.support.process import REPO, rpc

#: The public Hardhat/anvil mnemonic that ``kura dev`` funds.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 20
#: ``kura dev`` seals with account #19; the suites never send from it.
DEV_VALIDATOR_INDEX = 19
DEV_CHAIN_ID = 1337
CONTRACT_BUILD_DIR = REPO / "tests" / "contracts" / "build"
DEV_GENESIS = REPO / "genesis" / "dev.json"
GWEI = 10**9


@lru_cache(maxsize=DEV_ACCOUNT_COUNT)
def dev_account(index: int) -> LocalAccount:
    """Dev account ``index`` derived from the mnemonic at m/44'/60'/0'/0/index."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


@lru_cache(maxsize=4)
def load_artifact(name: str) -> dict[str, Any]:
    """The compiled test contract ``name`` (scripts/build_test_contracts.sh writes it)."""
    return json.loads((CONTRACT_BUILD_DIR / f"{name}.json").read_text(encoding="utf-8"))


def web3_client(url: str) -> Web3:
    """A web3.py client for a Kura node.

    QBFT headers carry validators and seals in extraData, which is longer than
    the 32 bytes web3.py accepts by default; the POA middleware moves it to
    ``proofOfAuthorityData``, as for geth's Clique or Besu's QBFT chains.
    """
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def sign_dynamic_fee(
    account: LocalAccount,
    nonce: int,
    *,
    to: str | None,
    value: int = 0,
    data: bytes | str = b"",
    gas: int = 21_000,
    max_fee: int = 10 * GWEI,
    tip: int = GWEI,
    chain_id: int = DEV_CHAIN_ID,
) -> HexStr:
    """An EIP-1559 (type 2) transaction, signed and RLP-encoded as 0x-hex."""
    fields: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "value": value,
        "data": data,
    }
    if to is not None:
        fields["to"] = to
    return HexStr("0x" + account.sign_transaction(fields).raw_transaction.hex())


def sign_legacy(
    account: LocalAccount,
    nonce: int,
    *,
    to: str | None,
    value: int = 0,
    data: bytes | str = b"",
    gas: int = 21_000,
    gas_price: int = 10 * GWEI,
    chain_id: int | None = DEV_CHAIN_ID,
) -> HexStr:
    """A legacy (type 0) transaction; ``chain_id`` None signs it without EIP-155 (v = 27 or 28)."""
    fields: dict[str, Any] = {"nonce": nonce, "gas": gas, "gasPrice": gas_price, "value": value, "data": data}
    if to is not None:
        fields["to"] = to
    if chain_id is not None:
        fields["chainId"] = chain_id
    return HexStr("0x" + account.sign_transaction(fields).raw_transaction.hex())


def call(url: str, method: str, params: list[Any] | None = None) -> Any:
    """The result of one call; AssertionError with the error object if the node returned one."""
    response = rpc(url, method, params)
    assert "error" not in response, f"{method} {params!r} failed: {response['error']}"
    return response["result"]


def call_error(url: str, method: str, params: list[Any] | None = None) -> dict[str, Any]:
    """The error object of one call that is expected to fail."""
    response = rpc(url, method, params)
    assert "error" in response, f"{method} {params!r} returned {response.get('result')!r}, expected an error"
    return response["error"]


def nonce_of(url: str, address: str, block: str = "latest") -> int:
    return int(call(url, "eth_getTransactionCount", [address, block]), 16)


def wait_for_receipt(url: str, tx_hash: str, timeout: float = 20) -> dict[str, Any]:
    """Poll eth_getTransactionReceipt until the transaction is mined."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = call(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return receipt
        time.sleep(0.1)
    raise AssertionError(f"transaction {tx_hash} was not mined within {timeout}s")


def http_connection(url: str, timeout: float = 60) -> http.client.HTTPConnection:
    """A connection to the host and port of ``url`` (a node's loopback RPC URL)."""
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname is not None, f"no host in {url}"
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)


def post_raw(url: str, body: bytes, headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, bytes]:
    """POST ``body`` as it is; return the HTTP status and the response body."""
    connection = http_connection(url, timeout)
    try:
        connection.request(
            "POST",
            urllib.parse.urlsplit(url).path or "/",
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_json(url: str, payload: Any) -> tuple[int, Any]:
    """POST ``payload`` as JSON; return the status and the decoded body (None when empty)."""
    status, body = post_raw(url, json.dumps(payload).encode())
    return status, json.loads(body) if body else None


def next_base_fee(gas_limit: int, gas_used: int, base_fee: int) -> int:
    """The child block's base fee by EIP-1559 (elasticity 2, change denominator 8)."""
    target = gas_limit // 2
    if gas_used == target:
        return base_fee
    if gas_used > target:
        return base_fee + max(base_fee * (gas_used - target) // target // 8, 1)
    return base_fee - base_fee * (target - gas_used) // target // 8


def free_gas_genesis(directory: Path) -> Path:
    """A copy of the dev genesis with ``"zeroBaseFee": true``, written into ``directory``."""
    document = json.loads(DEV_GENESIS.read_text(encoding="utf-8"))
    document["config"]["zeroBaseFee"] = True
    path = directory / "free-gas-genesis.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path

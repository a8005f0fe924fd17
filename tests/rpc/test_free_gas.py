"""Free gas (``"zeroBaseFee": true`` in genesis) against the default EIP-1559 chain.

``free_node`` runs ``kura dev --genesis`` on a copy of genesis/dev.json with
free gas switched on; ``shared_node`` runs the unchanged dev genesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from tests.rpc.helpers import (
    GWEI,
    call,
    call_error,
    dev_account,
    free_gas_genesis,
    nonce_of,
    sign_dynamic_fee,
    sign_legacy,
    wait_for_receipt,
)
from tests.support.process import NodeProcess, dev_node

RECIPIENT = to_checksum_address("0x" + "f3" * 20)
VALUE = 12_345


@pytest.fixture(scope="module")
def free_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    directory: Path = tmp_path_factory.mktemp("free-gas")
    process = dev_node(directory, "--genesis", str(free_gas_genesis(directory))).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def free_receipts(free_node: NodeProcess) -> dict[str, dict]:
    """One zero-priced transaction of each type and one that pays a tip."""
    url = free_node.url
    raw = {
        "dynamic": sign_dynamic_fee(
            dev_account(0), nonce_of(url, dev_account(0).address), to=RECIPIENT, value=VALUE, max_fee=0, tip=0
        ),
        "legacy": sign_legacy(
            dev_account(1), nonce_of(url, dev_account(1).address), to=RECIPIENT, value=VALUE, gas_price=0
        ),
        "tipped": sign_dynamic_fee(
            dev_account(2), nonce_of(url, dev_account(2).address), to=RECIPIENT, value=VALUE, max_fee=GWEI, tip=GWEI
        ),
    }
    hashes = {name: call(url, "eth_sendRawTransaction", [tx]) for name, tx in raw.items()}
    return {name: wait_for_receipt(url, tx_hash) for name, tx_hash in hashes.items()}


def _balance(url: str, address: str, block: int) -> int:
    return int(call(url, "eth_getBalance", [address, hex(block)]), 16)


@pytest.mark.parametrize("kind", ["dynamic", "legacy"])
def test_zero_priced_transaction_mined(free_node: NodeProcess, free_receipts: dict[str, dict], kind: str) -> None:
    receipt = free_receipts[kind]
    sender = receipt["from"]
    number = int(receipt["blockNumber"], 16)

    assert receipt["status"] == "0x1"
    assert receipt["effectiveGasPrice"] == "0x0"
    assert _balance(free_node.url, sender, number - 1) - _balance(free_node.url, sender, number) == VALUE


def test_tipped_transaction_pays_only_tip(free_node: NodeProcess, free_receipts: dict[str, dict]) -> None:
    receipt = free_receipts["tipped"]
    number = int(receipt["blockNumber"], 16)
    spent = _balance(free_node.url, receipt["from"], number - 1) - _balance(free_node.url, receipt["from"], number)

    assert receipt["effectiveGasPrice"] == hex(GWEI)
    assert spent == VALUE + int(receipt["gasUsed"], 16) * GWEI


def test_every_block_has_zero_base_fee(free_node: NodeProcess, free_receipts: dict[str, dict]) -> None:
    head = int(call(free_node.url, "eth_blockNumber"), 16)
    assert head >= 1
    for number in range(head + 1):
        block = call(free_node.url, "eth_getBlockByNumber", [hex(number), False])
        assert block["baseFeePerGas"] == "0x0", f"block {number}"


def test_fee_data_is_zero(free_node: NodeProcess, free_receipts: dict[str, dict]) -> None:
    history = call(free_node.url, "eth_feeHistory", ["0x4", "latest", [50]])

    assert call(free_node.url, "eth_gasPrice") == "0x0"
    assert call(free_node.url, "eth_maxPriorityFeePerGas") == "0x0"
    assert set(history["baseFeePerGas"]) == {"0x0"}


def test_zero_priced_call_and_estimate(free_node: NodeProcess) -> None:
    transfer = {"from": dev_account(3).address, "to": RECIPIENT, "value": hex(1), "gasPrice": "0x0"}
    assert call(free_node.url, "eth_estimateGas", [transfer]) == hex(21_000)
    assert call(free_node.url, "eth_call", [transfer]) == "0x"


def test_same_price_replacement_rejected(free_node: NodeProcess) -> None:
    """geth replaces a pooled transaction only if fee cap and tip both rise, so 0 to 0 is rejected."""
    sender = dev_account(4)
    gapped_nonce = nonce_of(free_node.url, sender.address) + 1
    call(
        free_node.url,
        "eth_sendRawTransaction",
        [sign_dynamic_fee(sender, gapped_nonce, to=RECIPIENT, value=1, max_fee=0, tip=0)],
    )

    error = call_error(
        free_node.url,
        "eth_sendRawTransaction",
        [sign_dynamic_fee(sender, gapped_nonce, to=RECIPIENT, value=2, max_fee=0, tip=0)],
    )
    assert error["message"] == "replacement transaction underpriced"


# The default dev genesis: EIP-1559 with a base fee.


def test_default_chain_has_base_fee(shared_node: NodeProcess) -> None:
    genesis = call(shared_node.url, "eth_getBlockByNumber", ["0x0", False])
    latest = call(shared_node.url, "eth_getBlockByNumber", ["latest", False])

    assert int(genesis["baseFeePerGas"], 16) > 0
    assert int(latest["baseFeePerGas"], 16) > 0
    assert int(call(shared_node.url, "eth_gasPrice"), 16) > 0


@pytest.mark.parametrize("kind", ["dynamic", "legacy"])
def test_default_chain_rejects_zero_price(shared_node: NodeProcess, kind: str) -> None:
    sender = dev_account(5)
    nonce = nonce_of(shared_node.url, sender.address)
    if kind == "dynamic":
        raw = sign_dynamic_fee(sender, nonce, to=RECIPIENT, value=1, max_fee=0, tip=0)
    else:
        raw = sign_legacy(sender, nonce, to=RECIPIENT, value=1, gas_price=0)

    error = call_error(shared_node.url, "eth_sendRawTransaction", [raw])
    assert error["code"] == -32000
    assert error["message"] == "transaction underpriced"

"""eth_sendRawTransaction rejections, each with geth's message, on a real node.

Every test sends from its own dev account, so the pool state one test leaves
behind (a queued transaction, a used nonce) cannot change another's outcome.
A transaction that must stay in the pool gets a nonce one past the account's
next nonce: the node keeps it queued and never mines it until the gap fills.
"""

from __future__ import annotations

from typing import Any

import rlp
from eth_account import Account
from eth_utils import to_checksum_address

from tests.rpc.helpers import (
    GWEI,
    call,
    dev_account,
    nonce_of,
    sign_dynamic_fee,
    sign_legacy,
    wait_for_receipt,
)
from tests.support.process import NodeProcess, rpc

RECIPIENT = to_checksum_address("0x" + "3c" * 20)


def send(url: str, raw: str) -> dict[str, Any]:
    """The whole eth_sendRawTransaction response: ``result`` or ``error``."""
    return rpc(url, "eth_sendRawTransaction", [raw])


def rejection(url: str, raw: str) -> dict[str, Any]:
    response = send(url, raw)
    assert "error" in response, f"transaction was accepted as {response.get('result')}"
    return response["error"]


def test_nonce_too_low(shared_node: NodeProcess) -> None:
    sender = dev_account(7)
    nonce = nonce_of(shared_node.url, sender.address)
    wait_for_receipt(
        shared_node.url,
        call(shared_node.url, "eth_sendRawTransaction", [sign_dynamic_fee(sender, nonce, to=RECIPIENT, value=1)]),
    )

    error = rejection(shared_node.url, sign_dynamic_fee(sender, nonce, to=RECIPIENT, value=2))
    assert error["code"] == -32000
    assert error["message"] == "nonce too low"


def test_insufficient_funds_for_value(shared_node: NodeProcess) -> None:
    sender = dev_account(8)
    balance = int(call(shared_node.url, "eth_getBalance", [sender.address, "latest"]), 16)
    raw = sign_dynamic_fee(sender, nonce_of(shared_node.url, sender.address), to=RECIPIENT, value=balance)

    error = rejection(shared_node.url, raw)
    assert error["code"] == -32000
    assert error["message"] == "insufficient funds for gas * price + value"


def test_insufficient_funds_empty_account(shared_node: NodeProcess) -> None:
    empty = Account.from_key(b"\x42" * 32)
    assert call(shared_node.url, "eth_getBalance", [empty.address, "latest"]) == "0x0"

    error = rejection(shared_node.url, sign_dynamic_fee(empty, 0, to=RECIPIENT, value=0))
    assert error["message"] == "insufficient funds for gas * price + value"


def test_replacement_needs_ten_percent_bump(shared_node: NodeProcess) -> None:
    sender = dev_account(9)
    nonce = nonce_of(shared_node.url, sender.address)
    max_fee, tip = 10 * GWEI, 2 * GWEI
    original = call(
        shared_node.url,
        "eth_sendRawTransaction",
        [sign_dynamic_fee(sender, nonce + 1, to=RECIPIENT, value=1, max_fee=max_fee, tip=tip)],
    )

    # 5 % more on both fees is not enough.
    low = sign_dynamic_fee(sender, nonce + 1, to=RECIPIENT, value=2, max_fee=max_fee * 105 // 100, tip=tip * 105 // 100)
    error = rejection(shared_node.url, low)
    assert error["code"] == -32000
    assert error["message"] == "replacement transaction underpriced"

    # 10 % more fee cap but the same tip is not enough either: both must rise.
    same_tip = sign_dynamic_fee(sender, nonce + 1, to=RECIPIENT, value=3, max_fee=max_fee * 2, tip=tip)
    assert rejection(shared_node.url, same_tip)["message"] == "replacement transaction underpriced"

    bumped = call(
        shared_node.url,
        "eth_sendRawTransaction",
        [
            sign_dynamic_fee(
                sender, nonce + 1, to=RECIPIENT, value=4, max_fee=max_fee * 110 // 100, tip=tip * 110 // 100
            )
        ],
    )
    assert call(shared_node.url, "eth_getTransactionByHash", [original]) is None
    assert call(shared_node.url, "eth_getTransactionByHash", [bumped])["value"] == hex(4)

    # Fill the gap: the replacement is mined, the original never is.
    wait_for_receipt(
        shared_node.url,
        call(shared_node.url, "eth_sendRawTransaction", [sign_dynamic_fee(sender, nonce, to=RECIPIENT, value=1)]),
    )
    assert wait_for_receipt(shared_node.url, bumped)["status"] == "0x1"
    assert call(shared_node.url, "eth_getTransactionReceipt", [original]) is None


def test_replacement_threshold_rounds_down(shared_node: NodeProcess) -> None:
    """geth's threshold is old * 110 / 100 in integer division: a 15 wei tip is replaced by 16 wei."""
    sender = dev_account(10)
    nonce = nonce_of(shared_node.url, sender.address)
    call(
        shared_node.url,
        "eth_sendRawTransaction",
        [sign_dynamic_fee(sender, nonce + 1, to=RECIPIENT, value=1, max_fee=10 * GWEI, tip=15)],
    )

    response = send(
        shared_node.url, sign_dynamic_fee(sender, nonce + 1, to=RECIPIENT, value=2, max_fee=20 * GWEI, tip=16)
    )
    assert "error" not in response, response.get("error")


def test_already_known(shared_node: NodeProcess) -> None:
    sender = dev_account(11)
    raw = sign_dynamic_fee(sender, nonce_of(shared_node.url, sender.address) + 1, to=RECIPIENT, value=1)
    call(shared_node.url, "eth_sendRawTransaction", [raw])

    error = rejection(shared_node.url, raw)
    assert error["code"] == -32000
    assert error["message"] == "already known"


def test_wrong_chain_id_dynamic_fee(shared_node: NodeProcess) -> None:
    sender = dev_account(12)
    raw = sign_dynamic_fee(sender, nonce_of(shared_node.url, sender.address), to=RECIPIENT, value=1, chain_id=1)

    error = rejection(shared_node.url, raw)
    assert error["code"] == -32000
    assert error["message"].startswith("invalid chain id for signer")


def test_wrong_chain_id_legacy(shared_node: NodeProcess) -> None:
    sender = dev_account(12)
    raw = sign_legacy(sender, nonce_of(shared_node.url, sender.address), to=RECIPIENT, value=1, chain_id=5)

    error = rejection(shared_node.url, raw)
    assert error["code"] == -32000
    assert error["message"].startswith("invalid chain id for signer")


def test_unprotected_legacy_rejected(shared_node: NodeProcess) -> None:
    sender = dev_account(13)
    raw = sign_legacy(sender, nonce_of(shared_node.url, sender.address), to=RECIPIENT, value=1, chain_id=None)
    v = int.from_bytes(rlp.decode(bytes.fromhex(raw[2:]))[6], "big")
    assert v in (27, 28)

    error = rejection(shared_node.url, raw)
    assert error["code"] == -32000
    assert error["message"] == "only replay-protected (EIP-155) transactions allowed over RPC"


def test_fee_cap_below_base_fee(shared_node: NodeProcess) -> None:
    sender = dev_account(14)
    head = call(shared_node.url, "eth_getBlockByNumber", ["latest", False])
    base_fee = int(head["baseFeePerGas"], 16)
    assert base_fee > 1
    raw = sign_dynamic_fee(sender, nonce_of(shared_node.url, sender.address), to=RECIPIENT, value=1, max_fee=1, tip=1)

    error = rejection(shared_node.url, raw)
    assert error["code"] == -32000
    assert error["message"] == "transaction underpriced"


def test_legacy_price_below_base_fee(shared_node: NodeProcess) -> None:
    sender = dev_account(14)
    raw = sign_legacy(sender, nonce_of(shared_node.url, sender.address), to=RECIPIENT, value=1, gas_price=1)
    assert rejection(shared_node.url, raw)["message"] == "transaction underpriced"


def test_gapped_nonce_queued_then_promoted(shared_node: NodeProcess) -> None:
    sender = dev_account(15)
    witness = dev_account(16)
    nonce = nonce_of(shared_node.url, sender.address)

    # A transaction from another sender goes in with the gapped one. Once it is
    # mined, a block has been built while the gapped one was in the pool.
    gapped = call(
        shared_node.url, "eth_sendRawTransaction", [sign_dynamic_fee(sender, nonce + 1, to=RECIPIENT, value=2)]
    )
    witness_tx = call(
        shared_node.url,
        "eth_sendRawTransaction",
        [sign_dynamic_fee(witness, nonce_of(shared_node.url, witness.address), to=RECIPIENT, value=1)],
    )
    wait_for_receipt(shared_node.url, witness_tx)

    assert call(shared_node.url, "eth_getTransactionReceipt", [gapped]) is None
    assert call(shared_node.url, "eth_getTransactionByHash", [gapped])["blockNumber"] is None
    assert nonce_of(shared_node.url, sender.address, "pending") == nonce

    filler = call(shared_node.url, "eth_sendRawTransaction", [sign_dynamic_fee(sender, nonce, to=RECIPIENT, value=1)])
    filler_receipt = wait_for_receipt(shared_node.url, filler)
    gapped_receipt = wait_for_receipt(shared_node.url, gapped)

    assert gapped_receipt["status"] == "0x1"
    assert (int(gapped_receipt["blockNumber"], 16), int(gapped_receipt["transactionIndex"], 16)) > (
        int(filler_receipt["blockNumber"], 16),
        int(filler_receipt["transactionIndex"], 16),
    )
    assert nonce_of(shared_node.url, sender.address) == nonce + 2


def test_rejected_transaction_not_pooled(shared_node: NodeProcess) -> None:
    sender = dev_account(17)
    nonce = nonce_of(shared_node.url, sender.address)
    raw = sign_dynamic_fee(sender, nonce, to=RECIPIENT, value=1, chain_id=1)
    rejection(shared_node.url, raw)

    assert nonce_of(shared_node.url, sender.address, "pending") == nonce

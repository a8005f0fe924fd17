"""Pool admission, ordering, replacement and cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import TxRejected
from node.service import HeadAccounts
from node.txpool.pool import PoolLimits, TxPool
from tests.support.chains import CHAIN_ID, USERS, new_chain, open_backend, seal_and_commit, transfer


def make_pool(tmp_path: Path, limits: PoolLimits | None = None, **config):
    chain = new_chain(open_backend("memory", tmp_path), **config)
    pool = TxPool(
        CHAIN_ID,
        block_gas_limit=lambda: chain.config.gas_limit,
        base_fee=lambda: chain.next_base_fee(chain.head),
        accounts=HeadAccounts(chain),
        limits=limits,
    )
    return chain, pool


def raw(tx) -> bytes:
    return tx.encode()


def test_pending_in_nonce_order_per_sender(tmp_path: Path) -> None:
    chain, pool = make_pool(tmp_path)
    for nonce in (2, 0, 1):
        pool.add_raw(raw(transfer(0, nonce)))
    pool.add_raw(raw(transfer(1, 0)))

    pending = pool.pending(chain.head.base_fee_per_gas)
    sender0 = [tx.nonce for tx in pending if tx.sender == transfer(0, 0).sender]
    assert sender0 == [0, 1, 2]
    assert len(pending) == 4


def test_gapped_nonce_queued_until_gap_fills(tmp_path: Path) -> None:
    chain, pool = make_pool(tmp_path)
    pool.add_raw(raw(transfer(0, 1)))
    assert pool.pending(chain.head.base_fee_per_gas) == []
    assert pool.counts() == (0, 1)

    pool.add_raw(raw(transfer(0, 0)))
    assert [tx.nonce for tx in pool.pending(chain.head.base_fee_per_gas)] == [0, 1]


@pytest.mark.parametrize(
    ("tx_factory", "message"),
    [
        (lambda: transfer(0, 0, value=10**30), "insufficient funds for gas * price + value"),
        (lambda: transfer(0, 0, fee=1, tip=1), "transaction underpriced"),
        (lambda: transfer(0, 0, fee=10, tip=20), "max priority fee per gas higher than max fee per gas"),
    ],
)
def test_admission_rejections(tmp_path: Path, tx_factory, message: str) -> None:
    _, pool = make_pool(tmp_path)
    with pytest.raises(TxRejected) as caught:
        pool.add_raw(raw(tx_factory()))
    assert caught.value.message == message


def test_nonce_too_low_after_block(tmp_path: Path) -> None:
    chain, pool = make_pool(tmp_path)
    seal_and_commit(chain, [transfer(0, 0)])
    with pytest.raises(TxRejected) as caught:
        pool.add_raw(raw(transfer(0, 0, value=2)))
    assert caught.value.message == "nonce too low"


def test_already_known(tmp_path: Path) -> None:
    _, pool = make_pool(tmp_path)
    tx = transfer(0, 0)
    pool.add_raw(raw(tx))
    with pytest.raises(TxRejected) as caught:
        pool.add_raw(raw(tx))
    assert caught.value.message == "already known"


def test_replacement_needs_ten_percent_bump(tmp_path: Path) -> None:
    chain, pool = make_pool(tmp_path)
    pool.add_raw(raw(transfer(0, 0, fee=10**10, tip=100)))
    with pytest.raises(TxRejected) as caught:
        pool.add_raw(raw(transfer(0, 0, fee=10**10 + 10**8, tip=109)))
    assert caught.value.message == "replacement transaction underpriced"

    replacement = transfer(0, 0, fee=11 * 10**9, tip=110)
    pool.add_raw(raw(replacement))
    assert [tx.hash for tx in pool.pending(chain.head.base_fee_per_gas)] == [replacement.hash]
    assert len(pool) == 1


def test_wrong_chain_id_rejected(tmp_path: Path) -> None:
    _, pool = make_pool(tmp_path)
    signed = USERS[0].sign_transaction(
        {"to": USERS[1].address, "value": 1, "gas": 21_000, "gasPrice": 10**10, "nonce": 0, "chainId": CHAIN_ID + 1}
    )
    with pytest.raises(TxRejected) as caught:
        pool.add_raw(bytes(signed.raw_transaction))
    assert caught.value.message.startswith("invalid chain id for signer")


def test_unprotected_legacy_rejected(tmp_path: Path) -> None:
    _, pool = make_pool(tmp_path)
    signed = USERS[0].sign_transaction(
        {"to": USERS[1].address, "value": 1, "gas": 21_000, "gasPrice": 10**10, "nonce": 0}
    )
    with pytest.raises(TxRejected) as caught:
        pool.add_raw(bytes(signed.raw_transaction))
    assert caught.value.message == "only replay-protected (EIP-155) transactions allowed over RPC"


def test_garbage_rejected(tmp_path: Path) -> None:
    _, pool = make_pool(tmp_path)
    with pytest.raises(TxRejected) as caught:
        pool.add_raw(b"\x01\x02\x03")
    assert caught.value.message.startswith("rlp: invalid transaction")


def test_per_sender_and_total_limits(tmp_path: Path) -> None:
    _, pool = make_pool(tmp_path, PoolLimits(per_sender=2, total=3))
    pool.add_raw(raw(transfer(0, 0)))
    pool.add_raw(raw(transfer(0, 1)))
    with pytest.raises(TxRejected) as per_sender:
        pool.add_raw(raw(transfer(0, 2)))
    assert per_sender.value.message == "account limit exceeded"

    pool.add_raw(raw(transfer(1, 0)))
    with pytest.raises(TxRejected) as total:
        pool.add_raw(raw(transfer(2, 0)))
    assert total.value.message == "txpool is full"


def test_block_removes_included_and_stale(tmp_path: Path) -> None:
    chain, pool = make_pool(tmp_path)
    for nonce in range(3):
        pool.add_raw(raw(transfer(0, nonce)))
    executed = seal_and_commit(chain, pool.pending(chain.head.base_fee_per_gas)[:2])
    pool.on_block(executed.transactions, executed.rejected)

    assert [tx.nonce for tx in pool.pending(chain.head.base_fee_per_gas)] == [2]
    assert len(pool) == 1


def test_pending_nonce_counts_pooled_run(tmp_path: Path) -> None:
    _, pool = make_pool(tmp_path)
    pool.add_raw(raw(transfer(0, 0)))
    pool.add_raw(raw(transfer(0, 1)))
    pool.add_raw(raw(transfer(0, 3)))
    assert pool.pending_nonce(transfer(0, 0).sender, 0) == 2


def test_left_out_transactions_wake_producer(tmp_path: Path) -> None:
    chain, pool = make_pool(tmp_path)
    for sender in range(3):
        pool.add_raw(raw(transfer(sender, 0)))
    pending = pool.pending(chain.head.base_fee_per_gas)
    assert not pool.has_pending.is_set()

    # The block's build deadline passed after the first transaction.
    executed = seal_and_commit(chain, pending[:1])
    pool.on_block(executed.transactions, executed.rejected)

    assert pool.has_pending.is_set()
    assert len(pool.pending(chain.head.base_fee_per_gas)) == 2

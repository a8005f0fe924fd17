"""``eth_`` methods about blocks, transactions, receipts and fees."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from node.errors import InvalidParams, TxRejected
from node.rpc import params as p
from node.rpc.formatting import (
    effective_gas_price,
    format_block,
    format_receipts,
    format_transaction,
    hex_bytes,
    hex_int,
)
from node.rpc.registry import RpcContext, method
from node.rpc.resolve import header_or_none

logger = logging.getLogger(__name__)

#: Blocks the fee oracle looks back over (geth's default is 20).
FEE_ORACLE_BLOCKS = 20
#: eth_feeHistory returns at most this many blocks (geth: 1,024).
MAX_FEE_HISTORY = 1_024


@method("eth_chainId")
def chain_id(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    return hex_int(ctx.chain.chain_id)


@method("eth_blockNumber")
def block_number(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    return hex_int(ctx.chain.head.block_number)


@method("eth_syncing")
def syncing(ctx: RpcContext, params: list[Any]) -> bool | dict[str, str]:
    p.expect(params, 0, 0)
    status = ctx.sync_status()
    if status is None:
        return False
    starting, current, highest = status
    return {"startingBlock": hex_int(starting), "currentBlock": hex_int(current), "highestBlock": hex_int(highest)}


def suggested_tip(ctx: RpcContext) -> int:
    """60th percentile of tips paid over recent blocks (geth's oracle), at least 1 wei.

    Zero on a free-gas chain.
    """
    chain = ctx.chain
    if chain.config.free_gas:
        return 0
    head = chain.head
    tips: list[int] = []
    for number in range(max(0, head.block_number - FEE_ORACLE_BLOCKS + 1), head.block_number + 1):
        header = chain.header_by_number(number)
        if header is None:
            continue
        for tx in chain.transactions(header):
            tips.append(effective_gas_price(tx, header.base_fee_per_gas) - header.base_fee_per_gas)
    if not tips:
        return 1
    tips.sort()
    return max(1, tips[(len(tips) - 1) * 60 // 100])


@method("eth_maxPriorityFeePerGas")
def max_priority_fee(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    return hex_int(suggested_tip(ctx))


@method("eth_gasPrice")
def gas_price(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    chain = ctx.chain
    return hex_int(chain.next_base_fee(chain.head) + suggested_tip(ctx))


@method("eth_feeHistory")
def fee_history(ctx: RpcContext, params: list[Any]) -> dict[str, Any]:
    count_raw, newest_raw, percentiles_raw = p.expect(params, 2, 3)
    if isinstance(count_raw, int) and not isinstance(count_raw, bool):
        if count_raw < 0:
            raise InvalidParams(f"invalid argument 0: blockCount {count_raw} is negative")
        count = count_raw
    else:
        count = p.block_number(count_raw, "blockCount")
    count = min(count, MAX_FEE_HISTORY)
    percentiles = _percentiles(percentiles_raw)
    newest = header_or_none(ctx, p.block_ref(newest_raw, "newestBlock"))
    if newest is None:
        raise InvalidParams("invalid argument 1: block not found")
    chain = ctx.chain
    first = max(0, newest.block_number - count + 1)
    headers = [chain.header_by_number(n) for n in range(first, newest.block_number + 1)] if count else []

    base_fees = [hex_int(h.base_fee_per_gas) for h in headers if h is not None]
    base_fees.append(hex_int(chain.next_base_fee(newest)))
    result: dict[str, Any] = {
        "oldestBlock": hex_int(first if count else newest.block_number),
        "baseFeePerGas": base_fees if count else [],
        "gasUsedRatio": [h.gas_used / h.gas_limit for h in headers if h is not None],
        "baseFeePerBlobGas": ["0x0"] * (len(headers) + 1) if count else [],
        "blobGasUsedRatio": [0.0] * len(headers),
    }
    if percentiles is not None:
        result["reward"] = [_block_rewards(ctx, h, percentiles) for h in headers if h is not None]
    return result


def _percentiles(value: Any) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or any(not isinstance(x, (int, float)) or isinstance(x, bool) for x in value):
        raise InvalidParams("invalid argument 2: rewardPercentiles must be a list of numbers")
    for earlier, later in zip(value, value[1:], strict=False):
        if later < earlier:
            raise InvalidParams(
                f"invalid reward percentile: #{value.index(later)}:{later} < #{value.index(earlier)}:{earlier}"
            )
    if any(x < 0 or x > 100 for x in value):
        raise InvalidParams("invalid argument 2: reward percentiles must be between 0 and 100")
    return [float(x) for x in value]


def _block_rewards(ctx: RpcContext, header: Any, percentiles: list[float]) -> list[str]:
    """Tips at each gas-weighted percentile of one block, as geth computes them."""
    transactions = ctx.chain.transactions(header)
    if not transactions:
        return ["0x0"] * len(percentiles)
    receipts = ctx.chain.receipts(header)
    entries = []
    previous = 0
    for tx, receipt in zip(transactions, receipts, strict=True):
        entries.append(
            (effective_gas_price(tx, header.base_fee_per_gas) - header.base_fee_per_gas, receipt.gas_used - previous)
        )
        previous = receipt.gas_used
    entries.sort()
    rewards = []
    index = 0
    cumulative = entries[0][1]
    for percentile in percentiles:
        threshold = header.gas_used * percentile / 100
        while cumulative < threshold and index < len(entries) - 1:
            index += 1
            cumulative += entries[index][1]
        rewards.append(hex_int(entries[index][0]))
    return rewards


@method("eth_getBlockByNumber")
def get_block_by_number(ctx: RpcContext, params: list[Any]) -> dict[str, Any] | None:
    block, full = p.expect(params, 2, 2)
    header = header_or_none(ctx, p.block_ref(block))
    if header is None:
        return None
    return format_block(header, ctx.chain.transactions(header), p.boolean(full, "fullTransactions"))


@method("eth_getBlockByHash")
def get_block_by_hash(ctx: RpcContext, params: list[Any]) -> dict[str, Any] | None:
    block_hash, full = p.expect(params, 2, 2)
    header = ctx.chain.header_by_hash(p.hash32(block_hash, "blockHash"))
    if header is None:
        return None
    return format_block(header, ctx.chain.transactions(header), p.boolean(full, "fullTransactions"))


@method("eth_getBlockTransactionCountByNumber")
def tx_count_by_number(ctx: RpcContext, params: list[Any]) -> str | None:
    (block,) = p.expect(params, 1, 1)
    header = header_or_none(ctx, p.block_ref(block))
    return None if header is None else hex_int(len(ctx.chain.transactions(header)))


@method("eth_getBlockTransactionCountByHash")
def tx_count_by_hash(ctx: RpcContext, params: list[Any]) -> str | None:
    (block_hash,) = p.expect(params, 1, 1)
    header = ctx.chain.header_by_hash(p.hash32(block_hash, "blockHash"))
    return None if header is None else hex_int(len(ctx.chain.transactions(header)))


def _transaction_at(ctx: RpcContext, header: Any, index_raw: Any) -> dict[str, Any] | None:
    if header is None:
        return None
    index = p.quantity(index_raw, "index")
    transactions = ctx.chain.transactions(header)
    if index >= len(transactions):
        return None
    return format_transaction(transactions[index], header, index)


@method("eth_getTransactionByBlockNumberAndIndex")
def tx_by_number_and_index(ctx: RpcContext, params: list[Any]) -> dict[str, Any] | None:
    block, index = p.expect(params, 2, 2)
    return _transaction_at(ctx, header_or_none(ctx, p.block_ref(block)), index)


@method("eth_getTransactionByBlockHashAndIndex")
def tx_by_hash_and_index(ctx: RpcContext, params: list[Any]) -> dict[str, Any] | None:
    block_hash, index = p.expect(params, 2, 2)
    return _transaction_at(ctx, ctx.chain.header_by_hash(p.hash32(block_hash, "blockHash")), index)


@method("eth_getTransactionByHash")
def get_transaction_by_hash(ctx: RpcContext, params: list[Any]) -> dict[str, Any] | None:
    (tx_hash_raw,) = p.expect(params, 1, 1)
    tx_hash = p.hash32(tx_hash_raw, "hash")
    location = ctx.chain.store.tx_location(tx_hash)
    if location is not None:
        number, index = location
        header = ctx.chain.header_by_number(number)
        if header is not None:
            return format_transaction(ctx.chain.transactions(header)[index], header, index)
    pooled = ctx.pool.get(tx_hash)
    return None if pooled is None else format_transaction(pooled.tx)


@method("eth_getTransactionReceipt")
def get_transaction_receipt(ctx: RpcContext, params: list[Any]) -> dict[str, Any] | None:
    (tx_hash_raw,) = p.expect(params, 1, 1)
    location = ctx.chain.store.tx_location(p.hash32(tx_hash_raw, "hash"))
    if location is None:
        return None
    number, index = location
    header = ctx.chain.header_by_number(number)
    if header is None:
        return None
    return dict(_block_receipts(ctx, header)[index])


class _ReceiptCache:
    """Formatted receipts of recent blocks by block hash; a block's receipts never change."""

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[bytes, list[dict[str, Any]]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, block_hash: bytes) -> list[dict[str, Any]] | None:
        with self._lock:
            entry = self._entries.get(block_hash)
            if entry is not None:
                self._entries.move_to_end(block_hash)
            return entry

    def put(self, block_hash: bytes, receipts: list[dict[str, Any]]) -> None:
        with self._lock:
            self._entries[block_hash] = receipts
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)


#: Exchanges poll receipts of the newest blocks, one transaction at a time;
#: without the cache each poll would format the whole block again.
_RECEIPTS = _ReceiptCache(64)


def _block_receipts(ctx: RpcContext, header: Any) -> list[dict[str, Any]]:
    cached = _RECEIPTS.get(header.hash)
    if cached is None:
        cached = format_receipts(header, ctx.chain.transactions(header), ctx.chain.receipts(header))
        _RECEIPTS.put(header.hash, cached)
    return cached


@method("eth_getBlockReceipts")
def get_block_receipts(ctx: RpcContext, params: list[Any]) -> list[dict[str, Any]] | None:
    (block,) = p.expect(params, 1, 1)
    header = header_or_none(ctx, p.block_ref(block))
    return None if header is None else list(_block_receipts(ctx, header))


@method("eth_sendRawTransaction")
def send_raw_transaction(ctx: RpcContext, params: list[Any]) -> str:
    (raw,) = p.expect(params, 1, 1)
    raw_bytes = p.data(raw, "input")
    try:
        tx_hash = ctx.pool.add_raw(raw_bytes)
    except TxRejected as rejection:
        logger.warning("rejected transaction reason=%r", rejection.message)
        raise
    if ctx.on_transaction is not None:
        ctx.on_transaction(raw_bytes)
    logger.debug("accepted transaction tx=0x%s", tx_hash.hex())
    return hex_bytes(tx_hash)

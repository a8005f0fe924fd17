"""eth_getLogs and polling filters (eth_newFilter and friends)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eth.abc import SignedTransactionAPI
from eth_bloom import BloomFilter

from node.chain.header import KuraHeader
from node.errors import InvalidParams, ResourceNotFound, RpcError
from node.rpc import params as p
from node.rpc.formatting import format_log, hex_bytes
from node.rpc.registry import RpcContext, method
from node.rpc.resolve import header_or_none

#: A filter not polled for this long is removed (geth: 5 minutes).
FILTER_TIMEOUT_SECONDS = 300
MAX_FILTERS = 10_000


@dataclass(frozen=True)
class LogCriteria:
    first: int
    last: int
    addresses: tuple[bytes, ...]
    #: One entry per topic position: None matches anything, else any of the tuple.
    topics: tuple[tuple[bytes, ...] | None, ...]

    def matches(self, address: bytes, topics: list[bytes]) -> bool:
        if self.addresses and address not in self.addresses:
            return False
        if len(self.topics) > len(topics):
            return False
        return all(wanted is None or topics[i] in wanted for i, wanted in enumerate(self.topics))

    def bloom_may_match(self, bloom: int) -> bool:
        filter_ = BloomFilter(bloom)
        if self.addresses and not any(address in filter_ for address in self.addresses):
            return False
        for wanted in self.topics:
            if wanted is not None and not any(topic in filter_ for topic in wanted):
                return False
        return True


def _parse_addresses(value: Any) -> tuple[bytes, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (p.address(value, "address"),)
    if isinstance(value, list):
        return tuple(p.address(item, "address") for item in value)
    raise InvalidParams("invalid argument 0: address must be an address or a list of addresses")


def _parse_topics(value: Any) -> tuple[tuple[bytes, ...] | None, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidParams("invalid argument 0: topics must be a list")
    if len(value) > 4:
        raise InvalidParams("invalid argument 0: too many topics, at most 4")
    parsed: list[tuple[bytes, ...] | None] = []
    for position in value:
        if position is None:
            parsed.append(None)
        elif isinstance(position, str):
            parsed.append((p.hash32(position, "topic"),))
        elif isinstance(position, list):
            options = tuple(p.hash32(item, "topic") for item in position if item is not None)
            parsed.append(options if options and len(options) == len(position) else None)
        else:
            raise InvalidParams("invalid argument 0: a topic must be a hash, null or a list of hashes")
    return tuple(parsed)


def parse_topics_and_addresses(query: Any) -> tuple[tuple[bytes, ...], tuple[tuple[bytes, ...] | None, ...]]:
    """Parse the address and topic parts of a filter object."""
    if not isinstance(query, dict):
        raise InvalidParams("invalid argument 1: filter object expected")
    return _parse_addresses(query.get("address")), _parse_topics(query.get("topics"))


def parse_criteria(ctx: RpcContext, query: Any, *, open_ended: bool = False) -> tuple[LogCriteria, bytes | None]:
    """Parse a filter object; returns criteria and the blockHash if one was given."""
    if not isinstance(query, dict):
        raise InvalidParams("invalid argument 0: filter object expected")
    addresses = _parse_addresses(query.get("address"))
    topics = _parse_topics(query.get("topics"))
    head = ctx.chain.head.block_number
    if query.get("blockHash") is not None:
        if query.get("fromBlock") is not None or query.get("toBlock") is not None:
            raise InvalidParams(
                "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
            )
        block_hash = p.hash32(query["blockHash"], "blockHash")
        header = ctx.chain.header_by_hash(block_hash)
        if header is None:
            raise ResourceNotFound("unknown block")
        return LogCriteria(header.block_number, header.block_number, addresses, topics), block_hash
    first = _bound(ctx, query.get("fromBlock"), head)
    last = _bound(ctx, query.get("toBlock"), head)
    if open_ended and query.get("toBlock") in (None, "latest", "pending", "safe", "finalized"):
        last = -1
    if last != -1 and first > last:
        raise InvalidParams("invalid block range params")
    return LogCriteria(first, last, addresses, topics), None


def _bound(ctx: RpcContext, value: Any, head: int) -> int:
    if value is None:
        return head
    header = header_or_none(ctx, p.block_ref(value, "fromBlock/toBlock"))
    if header is None:
        ref = p.block_ref(value)
        return ref.number if ref.number is not None else head
    return header.block_number


def collect_logs(ctx: RpcContext, criteria: LogCriteria, first: int, last: int) -> list[dict[str, Any]]:
    chain = ctx.chain
    last = min(last, chain.head.block_number)
    if last < first:
        return []
    if last - first + 1 > ctx.limits.max_log_range:
        raise RpcError(
            -32005, f"block range is too wide: {last - first + 1} blocks, the limit is {ctx.limits.max_log_range}"
        )

    candidates: set[int] | None = None
    if criteria.addresses:
        candidates = set()
        for address in criteria.addresses:
            candidates.update(chain.store.blocks_with_log_address(address, first, last))
    numbers = sorted(candidates) if candidates is not None else range(first, last + 1)

    logs: list[dict[str, Any]] = []
    for number in numbers:
        header = chain.header_by_number(number)
        if header is None or header.bloom == 0 or not criteria.bloom_may_match(header.bloom):
            continue
        _append_block_logs(ctx, header, criteria, logs)
        if len(logs) > ctx.limits.max_log_results:
            raise RpcError(
                -32005, f"query returned more than {ctx.limits.max_log_results} results; narrow the block range"
            )
    return logs


def _append_block_logs(ctx: RpcContext, header: KuraHeader, criteria: LogCriteria, out: list[dict[str, Any]]) -> None:
    transactions = ctx.chain.transactions(header)
    receipts = ctx.chain.receipts(header)
    log_index = 0
    for tx_index, (tx, receipt) in enumerate(zip(transactions, receipts, strict=True)):
        for log in receipt.logs:
            topics = [topic.to_bytes(32, "big") for topic in log.topics]
            if criteria.matches(log.address, topics):
                out.append(format_log(log, header, tx, tx_index, log_index))
            log_index += 1


@method("eth_getLogs", blocking=True)
def get_logs(ctx: RpcContext, params: list[Any]) -> list[dict[str, Any]]:
    (query,) = p.expect(params, 1, 1)
    criteria, _ = parse_criteria(ctx, query)
    return collect_logs(ctx, criteria, criteria.first, criteria.last)


@dataclass
class _Filter:
    kind: str
    #: Last block number already reported.
    cursor: int
    criteria: LogCriteria | None = None
    #: The filter object as installed; eth_getFilterLogs resolves its tags again at each call.
    query: dict[str, Any] | None = None
    last_poll: float = field(default_factory=time.monotonic)
    pending: list[str] = field(default_factory=list)


class FilterManager:
    """Installed filters, each with the last block it reported."""

    def __init__(self) -> None:
        self._filters: dict[str, _Filter] = {}
        self._lock = threading.Lock()

    def install(self, entry: _Filter) -> str:
        with self._lock:
            self._expire()
            if len(self._filters) >= MAX_FILTERS:
                raise RpcError(-32000, f"too many filters installed (limit {MAX_FILTERS}); uninstall unused ones")
            filter_id = "0x" + secrets.token_hex(16)
            self._filters[filter_id] = entry
            return filter_id

    def get(self, filter_id: Any) -> _Filter:
        with self._lock:
            entry = self._filters.get(filter_id) if isinstance(filter_id, str) else None
            if entry is None:
                raise RpcError(-32000, "filter not found")
            entry.last_poll = time.monotonic()
            return entry

    def remove(self, filter_id: Any) -> bool:
        with self._lock:
            return self._filters.pop(filter_id, None) is not None if isinstance(filter_id, str) else False

    def on_pending_transaction(self, tx: SignedTransactionAPI) -> None:
        with self._lock:
            for entry in self._filters.values():
                if entry.kind == "pending" and len(entry.pending) < 10_000:
                    entry.pending.append(hex_bytes(tx.hash))

    def _expire(self) -> None:
        deadline = time.monotonic() - FILTER_TIMEOUT_SECONDS
        for filter_id in [k for k, v in self._filters.items() if v.last_poll < deadline]:
            del self._filters[filter_id]


@method("eth_newFilter")
def new_filter(ctx: RpcContext, params: list[Any]) -> str:
    (query,) = p.expect(params, 1, 1)
    criteria, _ = parse_criteria(ctx, query, open_ended=True)
    # As geth: changes cover only blocks added after the filter is installed.
    return ctx.filters.install(_Filter("logs", ctx.chain.head.block_number, criteria, query))


@method("eth_newBlockFilter")
def new_block_filter(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 0)
    return ctx.filters.install(_Filter("blocks", ctx.chain.head.block_number))


@method("eth_newPendingTransactionFilter")
def new_pending_filter(ctx: RpcContext, params: list[Any]) -> str:
    p.expect(params, 0, 1)
    return ctx.filters.install(_Filter("pending", ctx.chain.head.block_number))


@method("eth_uninstallFilter")
def uninstall_filter(ctx: RpcContext, params: list[Any]) -> bool:
    (filter_id,) = p.expect(params, 1, 1)
    return ctx.filters.remove(filter_id)


@method("eth_getFilterChanges", blocking=True)
def get_filter_changes(ctx: RpcContext, params: list[Any]) -> list[Any]:
    (filter_id,) = p.expect(params, 1, 1)
    entry = ctx.filters.get(filter_id)
    head = ctx.chain.head.block_number
    if entry.kind == "pending":
        changes, entry.pending = entry.pending, []
        return changes
    if entry.kind == "blocks":
        hashes = []
        for number in range(entry.cursor + 1, head + 1):
            header = ctx.chain.header_by_number(number)
            if header is not None:
                hashes.append(hex_bytes(header.hash))
        entry.cursor = head
        return hashes
    assert entry.criteria is not None
    last = head if entry.criteria.last == -1 else min(head, entry.criteria.last)
    first = max(entry.cursor + 1, entry.criteria.first)
    logs = collect_logs(ctx, entry.criteria, first, last) if first <= last else []
    entry.cursor = max(entry.cursor, last)
    return logs


@method("eth_getFilterLogs", blocking=True)
def get_filter_logs(ctx: RpcContext, params: list[Any]) -> list[Any]:
    (filter_id,) = p.expect(params, 1, 1)
    entry = ctx.filters.get(filter_id)
    if entry.kind != "logs" or entry.query is None:
        raise RpcError(-32000, "filter not found")
    criteria, _ = parse_criteria(ctx, entry.query)
    return collect_logs(ctx, criteria, criteria.first, criteria.last)

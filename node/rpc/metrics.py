"""Prometheus metrics of a node, served at ``GET /metrics`` in the text exposition format.

Gauges (height, peers, pool, QBFT round, shelter age) are read from the
node when Prometheus scrapes, so they cost nothing between scrapes.
Durations (block build and import, JSON-RPC calls) are histograms in
seconds. Each node has its own registry, so several nodes in one test
process do not mix their numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node.rpc.registry import METHODS

#: Content type of the text exposition format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Label for JSON-RPC method names the node does not have, so clients cannot grow the label set.
UNKNOWN_METHOD = "unknown"
#: Bucket bounds in seconds: JSON-RPC calls run from well under a millisecond to the call time cap.
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Bucket bounds in seconds for building or importing a block (the dev block period is 1 s).
BLOCK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

T = TypeVar("T")


@dataclass
class NodeGauges:
    """Readers of the node's current state. A reader left None leaves its metric out (no network, not a validator)."""

    height: Callable[[], int]
    head_timestamp: Callable[[], int]
    #: (pending, queued) transaction counts.
    txpool: Callable[[], tuple[int, int]]
    peers: Callable[[], int] | None = None
    qbft_round: Callable[[], int] | None = None
    #: Unix time of the last shelter; None until the first one.
    shelter_time: Callable[[], float | None] | None = None


class _GaugeCollector(Collector):
    def __init__(self, gauges: NodeGauges) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        gauges = self.gauges
        yield GaugeMetricFamily("kura_chain_height", "Number of the head block.", value=gauges.height())
        age = max(0.0, time.time() - gauges.head_timestamp())
        yield GaugeMetricFamily("kura_chain_head_age_seconds", "Seconds since the head block's timestamp.", value=age)

        pending, queued = gauges.txpool()
        pool = GaugeMetricFamily("kura_txpool_transactions", "Transactions in the pool.", labels=["state"])
        pool.add_metric(["pending"], pending)
        pool.add_metric(["queued"], queued)
        yield pool

        if gauges.peers is not None:
            yield GaugeMetricFamily("kura_p2p_peers", "Connected peers.", value=gauges.peers())
        if gauges.qbft_round is not None:
            yield GaugeMetricFamily(
                "kura_qbft_round", "QBFT round at the height being decided.", value=gauges.qbft_round()
            )
        if gauges.shelter_time is not None:
            last = gauges.shelter_time()
            if last is not None:
                yield GaugeMetricFamily(
                    "kura_shelter_age_seconds", "Seconds since the last shelter.", value=max(0.0, time.time() - last)
                )


class NodeMetrics:
    """The metrics of one node and the registry that exposes them."""

    def __init__(self, gauges: NodeGauges | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if gauges is not None:
            self.registry.register(_GaugeCollector(gauges))
        self.block_build_seconds = Histogram(
            "kura_block_build_seconds",
            "Time to execute and assemble a block this node proposes or seals.",
            buckets=BLOCK_BUCKETS,
            registry=self.registry,
        )
        self.block_import_seconds = Histogram(
            "kura_block_import_seconds",
            "Time to execute a block received from a peer or a proposer.",
            buckets=BLOCK_BUCKETS,
            registry=self.registry,
        )
        self.rpc_seconds = Histogram(
            "kura_rpc_request_duration_seconds",
            "Time to answer one JSON-RPC call, by method.",
            ["method"],
            buckets=RPC_BUCKETS,
            registry=self.registry,
        )
        self.rpc_errors = Counter(
            "kura_rpc_errors",
            "JSON-RPC calls answered with an error object, by method.",
            ["method"],
            registry=self.registry,
        )
        self.rpc_rate_limited = Counter(
            "kura_rpc_rate_limited",
            "HTTP requests and WebSocket messages rejected by the per-client rate limit.",
            registry=self.registry,
        )

    def observe_call(self, method: str, seconds: float, failed: bool) -> None:
        label = method if method in METHODS else UNKNOWN_METHOD
        self.rpc_seconds.labels(label).observe(seconds)
        if failed:
            self.rpc_errors.labels(label).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def timed(histogram: Histogram, function: Callable[..., T]) -> Callable[..., T]:
    """Wrap ``function`` so each call's duration is observed in ``histogram``, also when it raises."""

    def wrapper(*args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            histogram.observe(time.perf_counter() - started)

    return wrapper

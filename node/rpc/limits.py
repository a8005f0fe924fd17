"""Access rules of the JSON-RPC server: Host allowlist, WebSocket origins and a per-client rate limit.

The Host check protects a node on loopback from DNS rebinding: a web page
served from an attacker's domain that resolves to 127.0.0.1 reaches the
node with its own domain in the Host header. geth does the same with
``--http.vhosts``. As in geth, a request without a Host header passes,
because only browsers are the threat and browsers always send one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

#: JSON-RPC error code for a client over its rate limit (the code Infura and others use for "limit exceeded").
RATE_LIMITED = -32005
#: Clients tracked by the rate limiter before idle ones are dropped.
MAX_TRACKED_CLIENTS = 10_000


def _host_name(host_header: str) -> str:
    """Strip the port from a Host header value: ``[::1]:8545`` becomes ``[::1]``, ``node:8545`` becomes ``node``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostAllowlist:
    """Host header names the server accepts, where ``*`` accepts every name."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = {name.strip().lower() for name in names if name.strip()}
        self.any = "*" in self.names

    def allows(self, host_header: str | None) -> bool:
        if self.any or not host_header:
            return True
        return _host_name(host_header) in self.names


class OriginAllowlist:
    """Browser origins allowed by CORS and on the WebSocket, where ``*`` allows every origin.

    A WebSocket handshake without an Origin header passes: browsers always
    send one, and other clients can send anything, so checking theirs adds
    nothing (geth's reasoning for ``--ws.origins``).
    """

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = tuple(origin.strip().rstrip("/") for origin in origins if origin.strip())
        self.any = "*" in self.origins

    def allows(self, origin: str | None) -> bool:
        if origin is None or self.any:
            return True
        return origin.rstrip("/").lower() in {allowed.lower() for allowed in self.origins}


class RateLimiter:
    """A token bucket per client address: ``rate`` requests a second, bursts of up to ``burst``.

    One HTTP request or one WebSocket message takes one token, whatever
    the number of calls in it, since the batch size has its own cap.
    A rate of 0 turns the limiter off. Not thread-safe: the server calls it
    only from its event loop.
    """

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self._clock = clock
        #: Per address: tokens left and the time they were counted.
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def allow(self, address: str) -> bool:
        """Take a token for ``address``, returning False when its bucket is empty."""
        if not self.enabled:
            return True
        now = self._clock()
        tokens, counted = self._buckets.get(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - counted) * self.rate)
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return False
        if address not in self._buckets and len(self._buckets) >= MAX_TRACKED_CLIENTS:
            self._drop_idle(now)
        self._buckets[address] = (tokens - 1, now)
        return True

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` has a token again."""
        tokens, _counted = self._buckets.get(address, (self.burst, 0.0))
        return max(0.0, (1 - tokens) / self.rate) if self.enabled else 0.0

    def _drop_idle(self, now: float) -> None:
        # A client whose bucket has refilled since its last request is
        # indistinguishable from a new one, so forgetting it changes nothing.
        refill_seconds = self.burst / self.rate
        for address, (_tokens, counted) in list(self._buckets.items()):
            if now - counted >= refill_seconds:
                del self._buckets[address]
        if len(self._buckets) >= MAX_TRACKED_CLIENTS:
            # Every tracked client is active: forget the oldest half rather than grow without bound.
            oldest = sorted(self._buckets.items(), key=lambda item: item[1][1])
            for address, _bucket in oldest[: len(oldest) // 2]:
                del self._buckets[address]

"""A progress line for long replays and imports: height, blocks/s and transactions/s on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: Seconds between progress lines when stderr is not a terminal (a log file or a pipe).
LOG_INTERVAL = 10.0
#: Seconds between redraws of the line on a terminal.
TERMINAL_INTERVAL = 0.5


class Progress:
    """Draws ``height N/M  X blocks/s  Y txs/s`` on a terminal, or logs it every LOG_INTERVAL seconds.

    ``format_line`` receives (height, total or None, blocks/s, txs/s), so the caller can
    translate the line.
    """

    def __init__(
        self,
        format_line: Callable[[int, int | None, float, float], str],
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._format = format_line
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._terminal = self._stream.isatty()
        self._interval = TERMINAL_INTERVAL if self._terminal else LOG_INTERVAL
        self._total: int | None = None
        self._started = 0.0
        self._last_draw = 0.0
        self._blocks = 0
        self._transactions = 0
        self._height = 0

    def start(self, total: int | None) -> None:
        self._total = total
        self._started = self._last_draw = self._clock()

    def update(self, height: int, transactions: int) -> None:
        self._height = height
        self._blocks += 1
        self._transactions += transactions
        now = self._clock()
        if now - self._last_draw >= self._interval:
            self._last_draw = now
            self._draw(now, final=False)

    def finish(self) -> None:
        self._draw(self._clock(), final=True)

    def _draw(self, now: float, *, final: bool) -> None:
        elapsed = max(now - self._started, 1e-9)
        line = self._format(self._height, self._total, self._blocks / elapsed, self._transactions / elapsed)
        if self._terminal:
            self._stream.write("\r" + line + "\x1b[K" + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

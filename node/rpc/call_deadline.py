"""A wall-clock time cap for ``eth_call`` and ``eth_estimateGas``, like geth's ``--rpc.evmtimeout``.

The gas cap alone does not bound a call's time: py-evm runs on the order
of a million gas a second, so a 50M-gas loop can hold a worker thread for
most of a minute. While a deadline is set on a thread, the EVM on that
thread checks the clock every :data:`CHECK_EVERY_OPCODES` opcodes and at
the start of every call frame, and raises :class:`CallTimeout` once the
deadline has passed. The exception is not a py-evm ``VMError``, so no
frame swallows it and the whole call unwinds.

NOTE: this hooks ``CodeStream.__iter__`` of py-evm 0.12.1b1, which the
project pins. A version bump must re-check the hook; tests/rpc/test_security.py
covers it. Time spent outside the opcode loop (one large precompile input)
is not interrupted, but the gas cap bounds it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from eth.vm.code_stream import CodeStream

#: Opcodes run between two clock reads.
CHECK_EVERY_OPCODES = 1_024

T = TypeVar("T")

_local = threading.local()
_original_iter = CodeStream.__iter__
_installed = False


class CallTimeout(Exception):
    """A call ran past its deadline. Raised inside the EVM and caught by :func:`run_with_deadline`'s caller."""


def _checked_iter(stream: CodeStream, deadline: float) -> Iterator[int]:
    if time.monotonic() > deadline:
        raise CallTimeout
    countdown = CHECK_EVERY_OPCODES
    for opcode in _original_iter(stream):
        countdown -= 1
        if countdown == 0:
            if time.monotonic() > deadline:
                raise CallTimeout
            countdown = CHECK_EVERY_OPCODES
        yield opcode


def _iter(stream: CodeStream) -> Iterator[int]:
    # Threads without a deadline (block building and import) get py-evm's
    # own iterator, so they pay one attribute lookup per call frame.
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return _original_iter(stream)
    return _checked_iter(stream, deadline)


def install() -> None:
    """Hook the deadline check into py-evm. Calling it again changes nothing."""
    global _installed
    if not _installed:
        CodeStream.__iter__ = _iter  # type: ignore[method-assign]
        _installed = True


def run_with_deadline(seconds: float, function: Callable[[], T]) -> T:
    """Run ``function`` on this thread with the EVM stopped after ``seconds``.

    Raises :class:`CallTimeout` when the deadline passes. Nested use keeps
    the earlier deadline.
    """
    install()
    previous: float | None = getattr(_local, "deadline", None)
    deadline = time.monotonic() + seconds
    _local.deadline = deadline if previous is None else min(previous, deadline)
    try:
        return function()
    finally:
        _local.deadline = previous

"""Sampling a node process with py-spy and summarising the collapsed stacks it writes."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SAMPLE_RATE_HZ = 200
#: Share of samples above which ``is_pass_through`` calls a frame "nearly all".
PASS_THROUGH_SHARE = 0.97


@contextmanager
def py_spy(pid: int, output: Path, *, gil_only: bool) -> Iterator[bool]:
    """Sample ``pid`` into ``output`` (py-spy's raw collapsed format) for the duration of the block.

    Yields False, and samples nothing, when py-spy is missing or cannot attach.
    py-spy runs with --nonblocking, so it never pauses the node; stacks may
    then be slightly inconsistent, which a profile tolerates.
    """
    executable = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(executable).exists():
        print("py-spy not found; install it with 'pip install py-spy' to profile the node", file=sys.stderr)
        yield False
        return
    command = [
        executable,
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(SAMPLE_RATE_HZ),
        "--threads",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    if gil_only:
        command.append("--gil")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(1.0)  # py-spy takes a moment to attach
    if process.poll() is not None:
        message = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
        print(f"py-spy failed to attach to pid {pid}: {message}", file=sys.stderr)
        yield False
        return
    try:
        yield True
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def summarize_profile(raw_path: Path, top: int = 25) -> dict[str, Any]:
    """Compute per-thread sample shares and top functions from py-spy's collapsed stacks.

    Shares are percentages of all samples. A function's cumulative share
    counts every stack it is on (once per stack, even when recursive); its
    self share counts the stacks it tops. The per-thread lists leave out
    pass-through frames (see ``is_pass_through``).
    """
    thread_samples: Counter[str] = Counter()
    cumulative: dict[str, Counter[str]] = {}
    calls: dict[str, Counter[tuple[str, str]]] = {}
    self_samples: Counter[str] = Counter()
    for line in raw_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *frames = stack.split(";")
        thread = re.sub(r"^thread \(\w+\): ", "", thread)
        thread_samples[thread] += count
        names = [shorten_frame(frame) for frame in frames]
        if names:
            self_samples[names[-1]] += count
        per_thread = cumulative.setdefault(thread, Counter())
        for name in set(names):
            per_thread[name] += count
        edges = calls.setdefault(thread, Counter())
        for edge in set(zip(names, names[1:], strict=False)):
            edges[edge] += count

    total = sum(thread_samples.values())
    if total == 0:
        return {"samples": 0, "threads": [], "top_self": []}
    threads = []
    for thread, samples in thread_samples.most_common():
        busiest_callee: Counter[str] = Counter()
        for (caller, _callee), count in calls[thread].items():
            busiest_callee[caller] = max(busiest_callee[caller], count)
        functions = [
            (name, round(100.0 * count / total, 1))
            for name, count in cumulative[thread].most_common()
            if not is_pass_through(count, busiest_callee[name], samples)
        ]
        threads.append(
            {"thread": thread, "percent": round(100.0 * samples / total, 1), "top_cumulative": functions[:top]}
        )
    return {
        "samples": total,
        "threads": threads,
        "top_self": [(name, round(100.0 * count / total, 1)) for name, count in self_samples.most_common(top)],
    }


def is_pass_through(count: int, busiest_callee_count: int, thread_samples: int) -> bool:
    """Tell whether a frame adds nothing to a profile summary.

    That is a frame on nearly every stack of its thread (thread start, event
    loop), or one whose time nearly all goes to a single callee (middleware,
    dispatch wrappers): the callee's line shows the same share.
    """
    return count >= PASS_THROUGH_SHARE * thread_samples or busiest_callee_count >= PASS_THROUGH_SHARE * count


def shorten_frame(frame: str) -> str:
    """'func (/venv/lib/python3.11/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py)'."""
    match = re.fullmatch(r"(.*) \((.*?)(?::\d+)?\)", frame)
    if match is None:
        return frame
    function, path = match.groups()
    path = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", path)
    return f"{function} ({path})"


def format_profile(title: str, summary: dict[str, Any], lines_per_thread: int = 20) -> list[str]:
    lines = [f"{title} ({summary['samples']} samples at {SAMPLE_RATE_HZ} Hz; % of all samples):"]
    for thread in summary["threads"]:
        lines.append(f"  thread {thread['thread']}: {thread['percent']:.1f}%")
        lines += [f"    {percent:5.1f}%  {name}" for name, percent in thread["top_cumulative"][:lines_per_thread]]
    if summary.get("top_self"):
        lines.append("  top self (function on top of the stack):")
        lines += [f"    {percent:5.1f}%  {name}" for name, percent in summary["top_self"][:15]]
    return lines

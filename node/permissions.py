"""File-backed allowlists of accounts and of nodes.

An allowlist is a text file with one 0x address per line (``#`` starts a
comment). Changes made over JSON-RPC are written back to the file
atomically (write a temporary file, then rename it over the old one), so
they survive a restart. A node started without an account allowlist file
allows every account.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from node.errors import ConfigError

logger = logging.getLogger(__name__)


def parse_address(text: str, where: str) -> bytes:
    raw = text.strip()
    try:
        address = bytes.fromhex(raw.removeprefix("0x").removeprefix("0X"))
    except ValueError:
        address = b""
    if len(address) != 20:
        raise ConfigError(f"{where}: {raw!r} is not a 20-byte 0x address")
    return address


class Allowlist:
    """A set of addresses kept in step with its file; thread-safe."""

    def __init__(self, path: Path | None, name: str, *, always: Iterable[bytes] = ()) -> None:
        """``always`` lists addresses that are allowed whatever the file says (the genesis validators for nodes)."""
        self.path = path
        self.name = name
        self._always = frozenset(always)
        self._lock = threading.Lock()
        self._entries: set[bytes] = set()
        if path is not None:
            self._entries = self._read(path)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def _read(self, path: Path) -> set[bytes]:
        if not path.exists():
            return set()
        entries = set()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            text = line.split("#", 1)[0].strip()
            if text:
                entries.add(parse_address(text, f"line {number} of {path}"))
        return entries

    def allows(self, address: bytes) -> bool:
        if self.path is None:
            return True
        with self._lock:
            return address in self._entries or address in self._always

    def entries(self) -> list[bytes]:
        with self._lock:
            return sorted(self._entries)

    def add(self, addresses: Iterable[bytes]) -> None:
        self._change(set(addresses), add=True)

    def remove(self, addresses: Iterable[bytes]) -> None:
        self._change(set(addresses), add=False)

    def _change(self, addresses: set[bytes], *, add: bool) -> None:
        if self.path is None:
            raise ConfigError(f"the {self.name} allowlist is off; start the node with its allowlist file to change it")
        with self._lock:
            updated = self._entries | addresses if add else self._entries - addresses
            self._write(self.path, updated)
            self._entries = updated
        logger.info(
            "%s allowlist %s count=%d addresses=%s",
            self.name,
            "extended" if add else "reduced",
            len(addresses),
            ",".join("0x" + a.hex() for a in sorted(addresses)),
        )

    @staticmethod
    def _write(path: Path, entries: set[bytes]) -> None:
        temporary = path.with_name(path.name + ".tmp")
        text = "".join(f"0x{address.hex()}\n" for address in sorted(entries))
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

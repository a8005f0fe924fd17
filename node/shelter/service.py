"""ShelterService: shelters a running node's ledger every N blocks or T minutes.

The node owns the store; the service only reads it. Blocks up to the head
are final under QBFT and trie nodes are never deleted, so a snapshot taken
while the node keeps committing is still the exact ledger at its height.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from node.shelter.anchor import AnchorSettings
from node.shelter.catalog import load_catalogs
from node.shelter.config import ShelterConfig
from node.shelter.create import create_shelter
from node.shelter.errors import ShelterError
from node.store.backend import KeyValueBackend

logger = logging.getLogger(__name__)

#: Seconds between policy checks.
POLL_INTERVAL = 5.0
#: Seconds to wait after a failed shelter before trying again.
RETRY_DELAY = 60.0


class ShelterService:
    """Runs :func:`create_shelter` on a thread when the policy says a shelter is due."""

    def __init__(
        self,
        config: ShelterConfig,
        backend: KeyValueBackend,
        head_height: Callable[[], int],
        *,
        anchor: AnchorSettings | None = None,
        work_dir: Path | None = None,
    ) -> None:
        if config.every_blocks is None and config.every_minutes is None:
            raise ShelterError(f"{config.path}: the policy sets neither every_blocks nor every_minutes")
        self.config = config
        self.backend = backend
        self.head_height = head_height
        self.anchor = anchor
        self.work_dir = work_dir
        self._stop = threading.Event()
        self._now = threading.Event()
        self._thread: threading.Thread | None = None
        latest = load_catalogs(config.catalog_dir)
        self.last_height: int | None = latest[-1].height if latest else None
        self.last_time: float = float(latest[-1].created) if latest else 0.0
        self._retry_after = 0.0

    def due(self, height: int, now: float) -> bool:
        if now < self._retry_after:
            return False
        if self.last_height is None:
            return True
        if self.config.every_blocks is not None and height - self.last_height >= self.config.every_blocks:
            return True
        minutes = self.config.every_minutes
        return minutes is not None and now - self.last_time >= minutes * 60 and height > self.last_height

    def request_now(self) -> None:
        """Shelter at the next poll whatever the policy says."""
        self._now.set()

    def run_once(self) -> None:
        height = self.head_height()
        try:
            manifest = create_shelter(self.backend, self.config, height=height, anchor=self.anchor, work_dir=self.work_dir)
        except ShelterError as error:
            self._retry_after = time.time() + RETRY_DELAY
            logger.warning("shelter failed height=%d error=%s; retrying in %.0f s", height, error.message, RETRY_DELAY)
            return
        self.last_height = manifest.height
        self.last_time = time.time()

    def _loop(self) -> None:
        while not self._stop.is_set():
            forced = self._now.is_set()
            if forced or self.due(self.head_height(), time.time()):
                self._now.clear()
                self.run_once()
            self._stop.wait(POLL_INTERVAL)

    def start(self) -> None:
        logger.info(
            "shelter service starting every_blocks=%s every_minutes=%s k=%d n=%d",
            self.config.every_blocks,
            self.config.every_minutes,
            self.config.k,
            self.config.n,
        )
        self._thread = threading.Thread(target=self._loop, name="shelter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the shelter in progress, if any, finishes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        logger.info("shelter service stopped last_height=%s", self.last_height)

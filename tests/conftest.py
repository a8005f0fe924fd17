from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

from tests.support.process import NodeProcess, dev_node  # noqa: E402


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    """A fresh ``kura dev`` node process for one test."""
    process = dev_node(tmp_path).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """One ``kura dev`` node process shared by a test module."""
    process = dev_node(tmp_path_factory.mktemp("node")).start()
    try:
        yield process
    finally:
        process.stop()

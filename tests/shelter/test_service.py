"""ShelterService: its policy (every N blocks, every T minutes) on a fake clock, and inside a running node."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from node.shelter import service as service_module
from node.shelter.catalog import load_catalogs
from node.shelter.errors import ShelterError
from node.shelter.service import RETRY_DELAY, ShelterService
from node.store.backend import MemoryBackend
from tests.rpc.helpers import dev_account, nonce_of, sign_dynamic_fee
from tests.shelter.conftest import folder_sites, write_config
from tests.support.network import wait_for
from tests.support.process import dev_node, rpc


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(service_module, "time", fake)
    return fake


def policy_service(tmp_path: Path, keys: Path, head: list[int], **policy: float) -> ShelterService:
    config = write_config(tmp_path / "ops", keys, folder_sites(tmp_path / "sites", 5), policy=policy)
    return ShelterService(config, MemoryBackend(), lambda: head[0])


def test_policy_every_blocks_and_minutes(tmp_path: Path, shelter_keys: Path, clock: FakeClock, monkeypatch) -> None:
    head = [100]
    sheltered: list[int] = []

    def fake_create_shelter(_backend, _config, *, height, anchor, work_dir):  # type: ignore[no-untyped-def]
        sheltered.append(height)
        return SimpleNamespace(height=height)

    monkeypatch.setattr(service_module, "create_shelter", fake_create_shelter)
    service = policy_service(tmp_path, shelter_keys, head, every_blocks=10, every_minutes=5)

    # No shelter yet: the first one is due at once.
    assert service.due(100, clock.now)
    service.run_once()
    assert sheltered == [100]
    assert (service.last_height, service.last_time) == (100, clock.now)

    assert not service.due(109, clock.now + 60), "9 blocks and 1 minute later"
    assert service.due(110, clock.now + 60), "10 blocks later"
    assert service.due(101, clock.now + 300), "5 minutes and one block later"
    assert not service.due(100, clock.now + 3600), "an hour later but no new block"


def test_policy_minutes_only(tmp_path: Path, shelter_keys: Path, clock: FakeClock) -> None:
    service = policy_service(tmp_path, shelter_keys, [0], every_minutes=2)
    service.last_height, service.last_time = 50, clock.now
    assert not service.due(5_000, clock.now + 119)
    assert service.due(51, clock.now + 120)


def test_failed_shelter_waits_retry_delay(tmp_path: Path, shelter_keys: Path, clock: FakeClock, monkeypatch) -> None:
    def failing_create_shelter(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise ShelterError("site vault-0: cannot write")

    monkeypatch.setattr(service_module, "create_shelter", failing_create_shelter)
    service = policy_service(tmp_path, shelter_keys, [7], every_blocks=1)
    service.run_once()
    assert service.last_height is None
    assert not service.due(7, clock.now + RETRY_DELAY - 1)
    assert service.due(7, clock.now + RETRY_DELAY)


def test_policy_required(tmp_path: Path, shelter_keys: Path) -> None:
    with pytest.raises(ShelterError, match="neither every_blocks nor every_minutes"):
        policy_service(tmp_path, shelter_keys, [0])


def test_service_thread_follows_head(tmp_path: Path, shelter_keys: Path, monkeypatch) -> None:
    head = [3]
    sheltered: list[int] = []
    done = threading.Event()

    def fake_create_shelter(_backend, _config, *, height, anchor, work_dir):  # type: ignore[no-untyped-def]
        sheltered.append(height)
        if len(sheltered) == 1:
            head[0] = 5
        else:
            done.set()
        return SimpleNamespace(height=height)

    monkeypatch.setattr(service_module, "create_shelter", fake_create_shelter)
    monkeypatch.setattr(service_module, "POLL_INTERVAL", 0.01)
    service = policy_service(tmp_path, shelter_keys, head, every_blocks=2)
    service.start()
    try:
        assert done.wait(10), f"second shelter not made; sheltered {sheltered}"
    finally:
        service.stop()
    assert sheltered == [3, 5]


def _height(url: str) -> int:
    return int(rpc(url, "eth_blockNumber")["result"], 16)


def test_node_shelters_every_few_blocks(tmp_path: Path, shelter_keys: Path) -> None:
    sites = tmp_path / "sites"
    config = write_config(tmp_path / "shelter", shelter_keys, folder_sites(sites, 5), policy={"every_blocks": 2})
    node = dev_node(tmp_path, "--shelter-config", str(config.path)).start()
    try:
        account = dev_account(4)
        for _ in range(3):
            before = _height(node.url)
            raw = sign_dynamic_fee(account, nonce_of(node.url, account.address, "pending"), to=account.address)
            rpc(node.url, "eth_sendRawTransaction", [raw])
            wait_for(lambda before=before: _height(node.url) > before, 30, "the next block")
        wait_for(
            lambda: any(item.height >= 2 for item in load_catalogs(config.catalog_dir)), 60, "a shelter past block 2"
        )
        heights = [item.height for item in load_catalogs(config.catalog_dir)]
        assert heights == sorted(set(heights)), "one shelter per height, in order"
        for index in range(5):
            assert any((sites / f"vault-{index}").iterdir()), f"site {index} holds no fragment"
    finally:
        node.stop()

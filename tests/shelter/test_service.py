"""A running node shelters on its policy (every N blocks) without stopping."""

from __future__ import annotations

from pathlib import Path

from node.shelter.catalog import load_catalogs
from tests.rpc.helpers import dev_account, nonce_of, sign_dynamic_fee
from tests.shelter.conftest import folder_sites, write_config
from tests.support.network import wait_for
from tests.support.process import dev_node, rpc


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

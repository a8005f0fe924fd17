"""Validator and RPC node processes over mutual TLS: gossip, sync, allowlist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from eth_account import Account
from eth_keyfile import decode_keyfile_json

from node.cli.devaccounts import dev_keys
from node.cli.network import DEVNET_PASSWORD
from node.p2p.identity import NetworkCA
from tests.support.network import Devnet, wait_for
from tests.support.process import rpc

CHAIN_ID = 1337


def _transfer(nonce: int) -> str:
    account = Account.from_key(dev_keys()[0])
    signed = account.sign_transaction(
        {
            "to": "0x000000000000000000000000000000000000bEEF",
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 1,
            "nonce": nonce,
            "chainId": CHAIN_ID,
        }
    )
    return "0x" + signed.raw_transaction.hex()


def test_rpc_node_follows_validator(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "devnet", validators=1, rpc_nodes=1)
    try:
        devnet.start()
        validator, follower = devnet.processes

        # A transaction sent to the RPC node reaches the validator by gossip.
        tx_hash = rpc(follower.url, "eth_sendRawTransaction", [_transfer(0)])["result"]
        wait_for(lambda: rpc(follower.url, "eth_getTransactionReceipt", [tx_hash])["result"] is not None, 20, "receipt")
        on_validator = rpc(validator.url, "eth_getTransactionReceipt", [tx_hash])["result"]
        on_follower = rpc(follower.url, "eth_getTransactionReceipt", [tx_hash])["result"]
        assert on_validator["blockHash"] == on_follower["blockHash"]
        assert rpc(follower.url, "net_peerCount")["result"] == "0x1"
        assert rpc(follower.url, "eth_syncing")["result"] is False

        number = on_follower["blockNumber"]
        validator_block = rpc(validator.url, "eth_getBlockByNumber", [number, False])["result"]
        follower_block = rpc(follower.url, "eth_getBlockByNumber", [number, False])["result"]
        assert validator_block["stateRoot"] == follower_block["stateRoot"]

        # An RPC node restarted with an empty data directory syncs from genesis.
        follower.stop()
        devnet.wipe(1)
        follower.start()
        wait_for(lambda: int(devnet.head(1)["number"], 16) >= int(number, 16), 30, "resync")
        assert rpc(follower.url, "eth_getTransactionReceipt", [tx_hash])["result"]["blockHash"] == on_validator["blockHash"]
    finally:
        devnet.stop()


def test_node_not_on_allowlist_cannot_connect(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "devnet", validators=1, rpc_nodes=1)
    try:
        # The RPC node holds a valid certificate from the network CA, but its
        # address is taken off the allowlist.
        (devnet.root / "node-allowlist").write_text("# nobody\n")
        devnet.start()
        validator, outsider = devnet.processes
        wait_for(lambda: "not on the node allowlist" in validator.log(), 20, "allowlist rejection in the log")
        assert int(devnet.head(1)["number"], 16) == 0
    finally:
        devnet.stop()


def test_certificate_from_other_ca_rejected(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "devnet", validators=1, rpc_nodes=1)
    try:
        # Re-issue the RPC node's certificate from a CA the network does not trust.
        tls_dir = devnet.root / "node1" / "tls"
        shutil.rmtree(tls_dir)
        keystore = json.loads((devnet.root / "node1" / "keystore.json").read_text())
        key = bytes(decode_keyfile_json(keystore, DEVNET_PASSWORD.encode()))
        NetworkCA.create("rogue CA").issue(key, tls_dir)
        devnet.start()
        validator = devnet.processes[0]
        wait_for(lambda: int(devnet.head(0)["number"], 16) >= 1, 20, "validator progress")
        assert int(devnet.head(1)["number"], 16) == 0
        assert "peer connected" not in validator.log()
    finally:
        devnet.stop()

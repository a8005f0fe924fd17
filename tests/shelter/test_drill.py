"""Restore drill on real processes: four validators lose every data dir and two of five sites."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from eth_account import Account
from eth_keyfile import create_keyfile_json

from node.cli.devaccounts import dev_keys
from node.shelter.anchor import AnchorClient
from tests.shelter.conftest import destroy_bucket, folder_sites, make_bucket, passphrase
from tests.support.network import Devnet, wait_for
from tests.support.process import REPO


def kura(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "node.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "ETH_HASH_BACKEND": "pysha3"},
        timeout=300,
    )
    assert result.returncode == 0, f"kura {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_drill_restores_network(tmp_path: Path, shelter_keys: Path, moto_endpoint: str) -> None:
    devnet = Devnet(tmp_path / "devnet", validators=4, rpc_nodes=0, empty_block_period=2)
    devnet.start()
    try:
        node0 = devnet.processes[0]
        wait_for(lambda: int(node0.call("eth_blockNumber"), 16) >= 1, 30, "the first block")

        # The anchor contract, paid for and written by dev account 0.
        payer = dev_keys()[0]
        client = AnchorClient(node0.url)
        anchor_address = client.deploy_anchor(payer, [bytes.fromhex(Account.from_key(payer).address[2:])])
        keystore = tmp_path / "anchor-key.json"
        keystore.write_text(json.dumps(create_keyfile_json(payer, b"anchor", kdf="pbkdf2", iterations=1000)))
        (tmp_path / "anchor-password").write_text("anchor")

        # Move coin: a few transfers between dev accounts.
        recipients = [Account.from_key(key).address for key in dev_keys()[5:8]]
        for index, recipient in enumerate(recipients):
            signed = Account.from_key(dev_keys()[1 + index]).sign_transaction(
                {
                    "to": recipient,
                    "value": 10**18 * (index + 1),
                    "gas": 21_000,
                    "maxFeePerGas": 10**11,
                    "maxPriorityFeePerGas": 1,
                    "nonce": 0,
                    "chainId": int(node0.call("eth_chainId"), 16),
                    "type": 2,
                }
            )
            tx_hash = node0.call("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
            wait_for(lambda h=tx_hash: node0.call("eth_getTransactionReceipt", [h]) is not None, 30, "a transfer")

        # Sites: three folders and two buckets; config with the anchor.
        sites = folder_sites(tmp_path / "sites", 3) + [
            make_bucket(moto_endpoint, "shelter-east"),
            make_bucket(moto_endpoint, "shelter-west"),
        ]
        config = {
            "public_key": str(shelter_keys / "shelter.pub"),
            "k": 3,
            "n": 5,
            "sites": sites,
            "catalog_dir": str(tmp_path / "catalog"),
            "anchor": {
                "address": "0x" + anchor_address.hex(),
                "rpc_url": node0.url,
                "keystore": str(keystore),
                "password_file": str(tmp_path / "anchor-password"),
            },
        }
        config_path = tmp_path / "shelter.json"
        config_path.write_text(json.dumps(config))

        # Shelter validator 3's ledger while the other three keep finalizing.
        devnet.processes[3].stop()
        output = kura("shelter", "now", "--config", str(config_path), "--data-dir", str(tmp_path / "devnet/node3/data"))
        assert "Anchored in block" in output.stdout
        catalog = kura("shelter", "status", "--config", str(config_path)).stdout
        height = int(output.stdout.split("at height ")[1].split(" ")[0])
        block = node0.call("eth_getBlockByNumber", [hex(height), False])
        balances = {address: node0.call("eth_getBalance", [address, hex(height)]) for address in recipients}
        assert "5 of 5 fragments present" in catalog
    finally:
        devnet.stop()

    # Disaster: every data dir and two sites are gone.
    for node in devnet.nodes:
        shutil.rmtree(tmp_path / "devnet" / node["name"] / "data")
    shutil.rmtree(tmp_path / "sites" / "vault-1")
    destroy_bucket(moto_endpoint, "shelter-west")

    # Three of five custodians release their shares for this restore request.
    kura("shelter", "request", "--config", str(config_path), "--out", str(tmp_path / "request"))
    shares = []
    for index in (1, 3, 5):
        (tmp_path / f"pass-{index}").write_text(passphrase(index))
        out = tmp_path / "request" / f"share-{index}.json"
        kura(
            "custodian", "unseal-share",
            "--share", str(shelter_keys / f"custodian-{index}.json"),
            "--request", str(tmp_path / "request" / "restore-request.json"),
            "--out", str(out),
            "--passphrase-file", str(tmp_path / f"pass-{index}"),
        )  # fmt: skip
        shares.append(str(out))
    data_dirs = [str(tmp_path / "devnet" / node["name"] / "data") for node in devnet.nodes]
    restored = kura(
        "shelter", "restore", "--config", str(config_path),
        "--request-key", str(tmp_path / "request" / "restore-request.key"),
        "--share", *shares, "--data-dir", *data_dirs,
    )  # fmt: skip
    assert block["hash"][2:] in restored.stdout

    # The network resumes from the shelter's block with the same state.
    devnet.start()
    try:
        node0 = devnet.processes[0]
        assert node0.call("eth_getBlockByNumber", [hex(height), False])["hash"] == block["hash"]
        assert node0.call("eth_getBlockByNumber", [hex(height), False])["stateRoot"] == block["stateRoot"]
        for address, balance in balances.items():
            assert node0.call("eth_getBalance", [address, "latest"]) == balance
        wait_for(lambda: int(node0.call("eth_blockNumber"), 16) > height, 30, "a block after the restored head")
        for process in devnet.processes[1:]:
            assert process.call("eth_getBlockByNumber", [hex(height), False])["hash"] == block["hash"]
    finally:
        devnet.stop()

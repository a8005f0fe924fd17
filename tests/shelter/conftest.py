"""Fixtures for shelter tests: custodian keys, an anchored in-process ledger, a moto S3 server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth._utils.address import generate_contract_address
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_abi import encode
from eth_utils import to_checksum_address

from node.chain.chain import Chain
from node.coin.artifacts import load_artifact
from node.shelter.anchor import anchor_calldata
from node.shelter.config import ShelterConfig
from node.shelter.create import create_shelter
from node.shelter.custodians import (
    create_restore_request,
    generate_shelter_key,
    open_custodian_file,
    release_share,
    write_json,
)
from node.shelter.manifest import AnchorRecord, Manifest
from node.store.backend import LevelDBBackend
from tests.support.chains import CHAIN_ID, USERS, new_chain, seal_and_commit, transfer
from tests.support.process import free_port

CUSTODIANS = 5
THRESHOLD = 3


def passphrase(index: int) -> str:
    return f"custodian-{index}-passphrase"


@pytest.fixture(scope="session")
def shelter_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """shelter.pub and custodian-1..5.json, threshold 3."""
    out = tmp_path_factory.mktemp("shelter-keys")
    generate_shelter_key(CUSTODIANS, THRESHOLD, [passphrase(i) for i in range(1, CUSTODIANS + 1)], out)
    return out


@pytest.fixture(scope="session")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second shelter key, 2-of-3, whose shares must never unlock the first."""
    out = tmp_path_factory.mktemp("other-keys")
    generate_shelter_key(3, 2, [passphrase(i) for i in range(1, 4)], out)
    return out


def release_shares(keys: Path, request_dir: Path, indexes: list[int], *, request_json: Path | None = None) -> list[Path]:
    """Custodians ``indexes`` open their files and release their shares to the request in ``request_dir``."""
    from node.shelter.custodians import read_restore_request

    request = read_restore_request(request_json or request_dir / "restore-request.json")
    paths = []
    for index in indexes:
        share = open_custodian_file(keys / f"custodian-{index}.json", passphrase(index))
        path = request_dir / f"released-{keys.name}-{index}.json"
        write_json(path, release_share(share, request))
        paths.append(path)
    return paths


def new_request(keys: Path, out: Path) -> Path:
    """Write a restore request for the key in ``keys``; return the request key path."""
    from node.shelter.custodians import read_public_key

    _request, key_path = create_restore_request(read_public_key(keys / "shelter.pub").key_id, out)
    return key_path


def write_config(
    root: Path, keys: Path, sites: list[dict[str, Any]], *, anchor: bytes | None = None, **extra: Any
) -> ShelterConfig:
    document: dict[str, Any] = {
        "public_key": str(keys / "shelter.pub"),
        "k": 3,
        "n": 5,
        "sites": sites,
        "catalog_dir": str(root / "catalog"),
        **extra,
    }
    if anchor is not None:
        document["anchor"] = {"address": "0x" + anchor.hex()}
    root.mkdir(parents=True, exist_ok=True)
    (root / "shelter.json").write_text(json.dumps(document, indent=2))
    return ShelterConfig.load(root / "shelter.json")


def folder_sites(root: Path, count: int) -> list[dict[str, Any]]:
    return [{"name": f"vault-{i}", "type": "folder", "path": str(root / f"vault-{i}")} for i in range(count)]


def _signed(sender: int, nonce: int, to: bytes | None, data: bytes, gas: int) -> Any:
    transaction: dict[str, Any] = {
        "value": 0,
        "gas": gas,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": nonce,
        "chainId": CHAIN_ID,
        "type": 2,
        "data": data,
    }
    if to is not None:
        transaction["to"] = to_checksum_address(to)
    signed = USERS[sender].sign_transaction(transaction)
    return PragueTransactionBuilder.decode(bytes(signed.raw_transaction))


@dataclass
class Ledger:
    """An in-process chain on LevelDB with ShelterAnchor deployed by user 0, and its shelter config."""

    root: Path
    backend: LevelDBBackend
    chain: Chain
    anchor_address: bytes
    anchor_nonce: int = 1

    def anchor(self, manifest: Manifest) -> AnchorRecord:
        """Anchor ``manifest`` in a new block and return the proof, as AnchorClient does over RPC."""
        transaction = _signed(
            0, self.anchor_nonce, self.anchor_address, anchor_calldata(manifest.shelter_id, manifest.commitment()), 100_000
        )
        self.anchor_nonce += 1
        executed = seal_and_commit(self.chain, [transaction])
        assert executed.receipts[0].state_root == b"\x01", "the anchor transaction reverted"
        number = executed.header.block_number
        headers = [rlp.encode(self.chain.header_by_number(n)) for n in range(manifest.height + 1, number + 1)]
        return AnchorRecord(self.anchor_address, number, transaction.hash, 0, headers, [transaction.encode()])

    def shelter(self, config: ShelterConfig) -> Manifest:
        return create_shelter(self.backend, config, anchor=self.anchor)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    backend = LevelDBBackend(tmp_path / "source" / "chaindata", create=True)
    chain = new_chain(backend)
    artefact = load_artifact("ShelterAnchor")
    deploy = _signed(0, 0, None, artefact.bytecode + encode(["address[]"], [[USERS[0].address]]), 1_500_000)
    address = generate_contract_address(bytes.fromhex(USERS[0].address[2:]), 0)
    seal_and_commit(chain, [deploy])
    for nonce in range(3):
        seal_and_commit(chain, [transfer(1, nonce, value=10**18 + nonce), transfer(2, nonce, value=7 * 10**17)])
    try:
        yield Ledger(tmp_path, backend, chain, bytes(address))
    finally:
        backend.close()


# The S3-compatible server: moto in server mode on loopback.


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    moto_server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    port = free_port()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "shelter-test",
        "AWS_SECRET_ACCESS_KEY": "shelter-test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(name, value)
    process = subprocess.Popen(
        [moto_server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("moto_server did not start within 30 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def make_bucket(endpoint: str, bucket: str) -> dict[str, Any]:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {"name": bucket, "type": "s3", "bucket": bucket, "endpoint_url": endpoint}


def destroy_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)

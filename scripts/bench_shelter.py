#!/usr/bin/env python3
"""Measure the shelter pipeline: encode and decode throughput, and a full restore.

Encode: compress (zstd level 1), encrypt (AES-256-GCM) and erasure-code
(zfec k=3 n=5) a snapshot held in memory into five fragment files, hashing
each fragment. Decode: rebuild the snapshot bytes from fragments 2, 3 and 4
(two of them parity), decrypt and decompress. Both run on two inputs of the
same size, generated before any timing starts:

- ``random``: msgpack records of random bytes, which zstd cannot shrink;
- ``ledger``: the snapshot of a synthetic ledger (tests/shelter/synthetic_ledger.py):
  sealed blocks of ERC-20 transfers with receipts and logs, and a state trie
  of token holders.

Each is encoded and decoded ``--repeats`` times; the fastest run counts,
because other jobs on a shared machine only ever slow a run down.

With ``--restore``, the synthetic ledger is also imported into a LevelDB
store, sheltered onto five folder sites with ``create_shelter`` and
restored with ``restore`` into an empty data directory, each timed end to
end. The restore fetches three fragments, checks their hashes, decodes,
imports with every check (seals, transaction and receipt roots, state
root) and moves the store into place. The synthetic ledger has no
ShelterAnchor contract, so the restore runs with ``allow_unanchored`` and
skips the anchor proof check.

Usage:
    scripts/bench_shelter.py                                  # 1 GiB inputs, codec only
    scripts/bench_shelter.py --restore --dir /var/tmp/bench   # and the 1 GiB restore
    scripts/bench_shelter.py --size-mb 8 --restore --repeats 1   # the short variant the tests run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

import msgpack  # noqa: E402

from node.shelter.codec import FRAGMENT_TAG_SIZE, FragmentEncoder, decode_fragments  # noqa: E402
from node.shelter.config import ShelterConfig  # noqa: E402
from node.shelter.create import create_shelter  # noqa: E402
from node.shelter.custodians import (  # noqa: E402
    create_restore_request,
    generate_shelter_key,
    open_custodian_file,
    release_share,
    write_json,
)
from node.shelter.restore import restore, unlock_private_key  # noqa: E402
from node.store.backend import LevelDBBackend  # noqa: E402
from tests.shelter.synthetic_ledger import LedgerShape, build_ledger, write_snapshot_file  # noqa: E402

K, N = 3, 5
MIB = 1024 * 1024


def random_records(size: int) -> list[bytes]:
    """Packed records of about 10 KiB of random bytes each, ``size`` bytes in all."""
    packer = msgpack.Packer(use_bin_type=True)
    pool = memoryview(os.urandom(size))
    records = []
    offset = 0
    number = 0
    while offset < size:
        piece = pool[offset : offset + 10_000]
        records.append(packer.pack(["block", number, piece[:540], piece[540:9_000], piece[9_000:]]))
        offset += len(piece)
        number += 1
    return records


def file_pieces(path: Path, piece_size: int = MIB) -> list[bytes]:
    with open(path, "rb") as handle:
        return list(iter(lambda: handle.read(piece_size), b""))


def measure_codec(records: list[bytes], directory: Path, repeats: int) -> dict[str, float]:
    """Encode ``records`` into fragment files and decode them back, ``repeats`` times; keep the fastest."""
    best: dict[str, float] = {}
    for _ in range(repeats):
        shelter_id, data_key = secrets.token_bytes(16), secrets.token_bytes(32)
        tags = [secrets.token_bytes(FRAGMENT_TAG_SIZE) for _ in range(N)]
        paths = [directory / f"fragment-{index}" for index in range(N)]

        started, cpu = time.perf_counter(), time.process_time()
        with ExitStack() as stack:
            outputs = [stack.enter_context(open(path, "wb")) for path in paths]
            encoder = stack.enter_context(FragmentEncoder(shelter_id, data_key, K, N, outputs, tags))
            for record in records:
                encoder.write(record)
            result = encoder.finish()
        encode = (time.perf_counter() - started, time.process_time() - cpu)

        restored = 0

        def count(data: bytes) -> None:
            nonlocal restored
            restored += len(data)

        started, cpu = time.perf_counter(), time.process_time()
        with ExitStack() as stack:
            inputs = {}
            for index in (2, 3, 4):
                handle = stack.enter_context(open(paths[index], "rb"))
                handle.seek(FRAGMENT_TAG_SIZE)
                inputs[index] = handle
            decode_fragments(
                inputs,
                shelter_id=shelter_id,
                data_key=data_key,
                k=K,
                n=N,
                stripes=result.stripes,
                ciphertext_length=result.ciphertext_length,
                chunks=result.chunks,
                emit=count,
            )
        decode = (time.perf_counter() - started, time.process_time() - cpu)
        assert restored == result.plaintext_length, (restored, result.plaintext_length)
        for path in paths:
            path.unlink()

        megabytes = result.plaintext_length / 1e6
        run = {
            "snapshot_mb": megabytes,
            "compressed_ratio": result.compressed_length / result.plaintext_length,
            "fragment_mb": result.fragment_size / 1e6,
            "encode_seconds": encode[0],
            "encode_cpu_seconds": encode[1],
            "encode_mb_s": megabytes / encode[0],
            "decode_seconds": decode[0],
            "decode_cpu_seconds": decode[1],
            "decode_mb_s": megabytes / decode[0],
        }
        for name, value in run.items():
            if name.endswith("_mb_s"):
                best[name] = max(best.get(name, 0.0), value)
            elif name.endswith("seconds"):
                best[name] = min(best.get(name, float("inf")), value)
            else:
                best[name] = value
    return best


def measure_restore(snapshot: Path, directory: Path) -> dict[str, float]:
    """Import the snapshot into a ledger, shelter it onto five folders, and restore it into an empty data dir."""
    started = time.perf_counter()
    source = directory / "source" / "chaindata"
    info = build_ledger(source, snapshot)
    build_seconds = time.perf_counter() - started

    keys = directory / "keys"
    passphrases = [f"bench-custodian-{index}" for index in range(1, 4)]
    public = generate_shelter_key(3, 2, passphrases, keys)
    config_path = directory / "shelter.json"
    config_path.write_text(
        json.dumps(
            {
                "public_key": str(keys / "shelter.pub"),
                "k": K,
                "n": N,
                "sites": [{"name": f"vault-{i}", "type": "folder", "path": str(directory / f"vault-{i}")} for i in range(N)],
                "catalog_dir": str(directory / "catalog"),
            }
        )
    )
    config = ShelterConfig.load(config_path)

    backend = LevelDBBackend(source)
    try:
        started = time.perf_counter()
        manifest = create_shelter(backend, config, work_dir=directory)
        shelter_seconds = time.perf_counter() - started
    finally:
        backend.close()

    # Custodians release their shares offline, before the restore clock starts.
    request, request_key = create_restore_request(public.key_id, directory / "request")
    shares = []
    for index in (1, 3):
        path = directory / "request" / f"share-{index}.json"
        write_json(path, release_share(open_custodian_file(keys / f"custodian-{index}.json", passphrases[index - 1]), request))
        shares.append(path)

    data_dir = directory / "restored" / "node0" / "data"
    started = time.perf_counter()
    private = unlock_private_key(config, request_key, shares)
    report = restore(config, private, [data_dir], work_dir=directory, allow_unanchored=True)
    restore_seconds = time.perf_counter() - started
    assert report.manifest.block_hash == info.block_hash

    return {
        "ledger_blocks": info.height,
        "ledger_store_mb": _tree_size(source) / 1e6,
        "ledger_build_seconds": build_seconds,
        "shelter_seconds": shelter_seconds,
        "shelter_snapshot_mb": manifest.plaintext_length / 1e6,
        "restore_seconds": restore_seconds,
        **{f"restore_{step}_seconds": value for step, value in report.seconds.items()},
        "restored_store_mb": _tree_size(data_dir) / 1e6,
    }


def _tree_size(path: Path) -> int:
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of each input in MiB (default 1024)")
    parser.add_argument("--repeats", type=int, default=3, help="encode and decode runs per input; the fastest counts (default 3)")
    parser.add_argument("--restore", action="store_true", help="also build, shelter and restore the synthetic ledger")
    parser.add_argument("--dir", help="directory for the scratch files (default: a temporary one in the system's)")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args()

    report: dict[str, Any] = {"machine": machine(), "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="kura-bench-shelter-", dir=args.dir) as name:
        directory = Path(name)
        records = random_records(args.size_mb * MIB)
        report["random"] = measure_codec(records, directory, args.repeats)
        del records

        shape = LedgerShape.for_size(args.size_mb)
        snapshot = directory / "snapshot.msgpack"
        started = time.perf_counter()
        write_snapshot_file(snapshot, shape)
        report["ledger_shape"] = {**shape.__dict__, "generate_seconds": time.perf_counter() - started}
        pieces = file_pieces(snapshot)
        report["ledger"] = measure_codec(pieces, directory, args.repeats)
        del pieces

        if args.restore:
            report["restore"] = measure_restore(snapshot, directory / "restore")
            shutil.rmtree(directory / "restore", ignore_errors=True)
    report["load_after"] = os.getloadavg()

    print(f"date: {report['machine']['date']}")
    print(f"machine: {report['machine']['cpus']} CPUs ({report['machine']['cpu_model']}), Python {report['machine']['python']}")
    print("load average before (1/5/15 min): " + " / ".join(f"{value:.2f}" for value in report["load_before"]))
    for section in ("random", "ledger", "restore"):
        for name, value in report.get(section, {}).items():
            print(f"{section}.{name}: {value:.2f}")
    print("load average after (1/5/15 min): " + " / ".join(f"{value:.2f}" for value in report["load_after"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

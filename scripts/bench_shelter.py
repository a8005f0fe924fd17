#!/usr/bin/env python3
"""Measure the shelter byte pipeline on a synthetic snapshot.

Encode: compress (zstd), encrypt (AES-256-GCM) and erasure-code (zfec k=3
n=5) a synthetic snapshot into five fragment files. Decode: rebuild it from
fragments 2, 3 and 4 (two of them parity), decrypt and decompress.

The synthetic snapshot is msgpack records shaped like the real ones: 32-byte
hashes and 65-byte signatures (incompressible) with RLP-like framing.
NOTE: decode measures the fragment-to-snapshot path of a restore, not the
LevelDB import and seal checks, which depend on the ledger's block count.

Usage: scripts/bench_shelter.py [--size-mb 1024] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.shelter.codec import FRAGMENT_TAG_SIZE, FragmentEncoder, decode_fragments  # noqa: E402

K, N = 3, 5


def synthetic_records(size: int, seed_block: bytes):
    """Yield packed records until ``size`` bytes: mostly random hashes and signatures."""
    packer = msgpack.Packer(use_bin_type=True)
    produced = 0
    number = 0
    while produced < size:
        body = seed_block[number % 64 :] + os.urandom(8192)
        record = packer.pack(["block", number, os.urandom(540), body, os.urandom(1024)])
        produced += len(record)
        number += 1
        yield record


def run(size_mb: int, directory: Path) -> dict[str, float]:
    size = size_mb * 1024 * 1024
    shelter_id, data_key = secrets.token_bytes(16), secrets.token_bytes(32)
    tags = [secrets.token_bytes(FRAGMENT_TAG_SIZE) for _ in range(N)]
    paths = [directory / f"fragment-{index}" for index in range(N)]

    started = time.perf_counter()
    with ExitStack() as stack:
        outputs = [stack.enter_context(open(path, "wb")) for path in paths]
        encoder = FragmentEncoder(shelter_id, data_key, K, N, outputs, tags)
        for record in synthetic_records(size, secrets.token_bytes(4096)):
            encoder.write(record)
        result = encoder.finish()
    encode_seconds = time.perf_counter() - started

    restored = 0

    def count(data: bytes) -> None:
        nonlocal restored
        restored += len(data)

    started = time.perf_counter()
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
    decode_seconds = time.perf_counter() - started
    assert restored == result.plaintext_length, (restored, result.plaintext_length)
    megabytes = result.plaintext_length / 1e6
    return {
        "snapshot_mb": megabytes,
        "fragment_mb": result.fragment_size / 1e6,
        "encode_seconds": encode_seconds,
        "encode_mb_s": megabytes / encode_seconds,
        "decode_seconds": decode_seconds,
        "decode_mb_s": megabytes / decode_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="synthetic snapshot size in MiB (default 1024)")
    parser.add_argument("--dir", help="directory for the fragment files (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kura-bench-shelter-", dir=args.dir) as directory:
        results = run(args.size_mb, Path(directory))
    for name, value in results.items():
        print(f"{name}: {value:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

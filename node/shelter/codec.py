"""The byte pipeline between a snapshot stream and n equal-size fragments.

Encoding runs four steps on a stream, chunk by chunk, so memory stays at a
few MiB whatever the snapshot size:

1. compress with zstd;
2. encrypt in AES-256-GCM chunks of :data:`CHUNK_SIZE` plaintext bytes
   under a random data key, each chunk's nonce its counter and its
   associated data the shelter id, the counter and a last-chunk flag, so
   chunks cannot be reordered, dropped or cut off unnoticed;
3. erasure-code the ciphertext with zfec: each stripe of k blocks of
   :data:`BLOCK_SIZE` bytes becomes n blocks, any k of which rebuild it;
4. append block i of every stripe to fragment i, after the fragment's
   16-byte random tag.

The last stripe is padded with random bytes, so all fragments have the same
size and no fragment holds a run of zeros; the manifest records the
ciphertext length to cut the padding off.
Encryption comes before coding: every fragment holds only ciphertext or
linear combinations of ciphertext, so no set of fragments reveals anything
without the data key, which exists only inside the sealed manifest.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import zfec
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from node.shelter import errors
from node.shelter.errors import ShelterRejected

#: Plaintext bytes per AES-GCM chunk.
CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
#: Bytes per zfec block; a stripe holds k blocks of ciphertext.
BLOCK_SIZE = 1024 * 1024
#: Random bytes at the start of each fragment, listed in the manifest, that tell a fragment of
#: this shelter from one of another shelter.
FRAGMENT_TAG_SIZE = 16
#: Level 1: ledger data is mostly hashes and signatures, which higher levels barely shrink, and level 1
#: runs about 3.8 times faster than level 3 on incompressible input (scripts/bench_shelter.py).
ZSTD_LEVEL = 1


def chunk_nonce(counter: int) -> bytes:
    return bytes(4) + counter.to_bytes(8, "big")


def chunk_associated_data(shelter_id: bytes, counter: int, last: bool) -> bytes:
    return shelter_id + counter.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


@dataclass
class EncodeResult:
    """What the manifest needs from an encoding run."""

    plaintext_length: int
    compressed_length: int
    ciphertext_length: int
    chunks: int
    stripes: int
    fragment_size: int
    fragment_hashes: list[bytes]


class FragmentEncoder:
    """Streams snapshot bytes into n fragment files; call :meth:`write` then :meth:`finish` once."""

    def __init__(
        self, shelter_id: bytes, data_key: bytes, k: int, n: int, outputs: Sequence[BinaryIO], tags: Sequence[bytes]
    ) -> None:
        if not 1 <= k < n <= 256:
            raise ValueError(f"need 1 <= k < n <= 256, got k={k} n={n}")
        if len(outputs) != n or len(tags) != n:
            raise ValueError(f"need {n} outputs and tags, got {len(outputs)} and {len(tags)}")
        self.shelter_id = shelter_id
        self.k, self.n = k, n
        self._aead = AESGCM(data_key)
        self._compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
        self._encoder = zfec.Encoder(k, n)
        self._outputs = outputs
        self._hashes = [hashlib.sha256() for _ in range(n)]
        self._compressed = bytearray()
        self._ciphertext = bytearray()
        self._counter = 0
        self._stripes = 0
        self.plaintext_length = 0
        self.compressed_length = 0
        self.ciphertext_length = 0
        for index, tag in enumerate(tags):
            self._emit(index, tag)

    def _emit(self, index: int, data: bytes) -> None:
        self._outputs[index].write(data)
        self._hashes[index].update(data)

    def write(self, data: bytes) -> None:
        self.plaintext_length += len(data)
        self._take_compressed(self._compressor.compress(data))

    def _take_compressed(self, data: bytes) -> None:
        self.compressed_length += len(data)
        self._compressed += data
        while len(self._compressed) > CHUNK_SIZE:
            # Keep at least one byte back, so the last chunk is never empty and is known to be last.
            self._encrypt_chunk(bytes(self._compressed[:CHUNK_SIZE]), last=False)
            del self._compressed[:CHUNK_SIZE]

    def _encrypt_chunk(self, plaintext: bytes, *, last: bool) -> None:
        counter = self._counter
        sealed = self._aead.encrypt(
            chunk_nonce(counter), plaintext, chunk_associated_data(self.shelter_id, counter, last)
        )
        self._counter += 1
        self.ciphertext_length += len(sealed)
        self._ciphertext += sealed
        stripe_size = self.k * BLOCK_SIZE
        while len(self._ciphertext) >= stripe_size:
            self._code_stripe(bytes(self._ciphertext[:stripe_size]))
            del self._ciphertext[:stripe_size]

    def _code_stripe(self, stripe: bytes) -> None:
        blocks = tuple(stripe[i * BLOCK_SIZE : (i + 1) * BLOCK_SIZE] for i in range(self.k))
        for index, block in enumerate(self._encoder.encode(blocks)):
            self._emit(index, block)
        self._stripes += 1

    def finish(self) -> EncodeResult:
        self._take_compressed(self._compressor.flush())
        self._encrypt_chunk(bytes(self._compressed), last=True)
        self._compressed.clear()
        if self._ciphertext:
            padding = secrets.token_bytes(self.k * BLOCK_SIZE - len(self._ciphertext))
            self._code_stripe(bytes(self._ciphertext) + padding)
            self._ciphertext.clear()
        return EncodeResult(
            plaintext_length=self.plaintext_length,
            compressed_length=self.compressed_length,
            ciphertext_length=self.ciphertext_length,
            chunks=self._counter,
            stripes=self._stripes,
            fragment_size=FRAGMENT_TAG_SIZE + self._stripes * BLOCK_SIZE,
            fragment_hashes=[digest.digest() for digest in self._hashes],
        )


def decode_fragments(
    inputs: Mapping[int, BinaryIO],
    *,
    shelter_id: bytes,
    data_key: bytes,
    k: int,
    n: int,
    stripes: int,
    ciphertext_length: int,
    chunks: int,
    emit: Callable[[bytes], None],
) -> None:
    """Rebuild the snapshot bytes from any k fragment files and pass them to ``emit``, in order.

    ``inputs`` maps fragment index to a file positioned after its tag. Raises
    ShelterRejected(ciphertext_invalid) if a chunk fails authentication.
    """
    if len(inputs) < k:
        raise ShelterRejected(errors.TOO_FEW_FRAGMENTS, f"found {len(inputs)} fragments, needed {k}")
    indexes = tuple(sorted(inputs)[:k])
    decoder = zfec.Decoder(k, n)
    aead = AESGCM(data_key)
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    sealed_size = CHUNK_SIZE + TAG_SIZE
    pending = bytearray()
    remaining = ciphertext_length
    counter = 0

    def open_chunk(sealed: bytes) -> None:
        nonlocal counter
        last = counter == chunks - 1
        try:
            plaintext = aead.decrypt(
                chunk_nonce(counter), sealed, chunk_associated_data(shelter_id, counter, last)
            )
        except InvalidTag:
            raise ShelterRejected(
                errors.CIPHERTEXT_INVALID, f"ciphertext chunk {counter} of {chunks} failed authentication"
            ) from None
        counter += 1
        emit(decompressor.decompress(plaintext))

    for _stripe in range(stripes):
        blocks = tuple(inputs[index].read(BLOCK_SIZE) for index in indexes)
        if any(len(block) != BLOCK_SIZE for block in blocks):
            raise ShelterRejected(errors.FRAGMENT_SIZE, "a fragment ended before its last stripe")
        stripe = b"".join(decoder.decode(blocks, indexes))
        take = min(remaining, len(stripe))
        pending += stripe[:take]
        remaining -= take
        while len(pending) >= sealed_size and counter < chunks - 1:
            open_chunk(bytes(pending[:sealed_size]))
            del pending[:sealed_size]
    if remaining or counter != chunks - 1:
        raise ShelterRejected(errors.CIPHERTEXT_INVALID, "the fragments hold less ciphertext than the manifest says")
    open_chunk(bytes(pending))
    emit(decompressor.flush())


def iter_file(handle: BinaryIO, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk

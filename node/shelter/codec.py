"""The byte pipeline between a snapshot stream and n equal-size fragments.

Encoding runs four steps on a stream, chunk by chunk, so memory stays under
about 64 MiB whatever the snapshot size:

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

Both directions use threads. Encoding compresses and encrypts on the
caller's thread (which also builds the snapshot), erasure-codes on a worker
and hashes and writes each fragment on a thread of its own. Decoding reads,
erasure-decodes, decrypts and decompresses on a worker while the caller
imports. zfec, hashlib, zstd and file I/O release the GIL, so the threads
run in parallel on the free cores; AES-GCM in ``cryptography`` 50 holds it.
"""

from __future__ import annotations

import hashlib
import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
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
#: Level 1: on the synthetic ledger of scripts/bench_shelter.py it compresses at 517 MB/s to 43.7%,
#: level 3 at 253 MB/s to 41.6% (zstandard 0.25, one core of the machine in docs/benchmarks.md).
#: On random bytes level 1 runs at 3.6 GB/s, so skipping compression would gain little.
ZSTD_LEVEL = 1
#: Snapshot bytes gathered before one call into zstd, so small records cost one call per MiB.
INPUT_BATCH = 1024 * 1024
#: Columns of a stripe that zfec codes per call. Reed-Solomon coding works byte by byte at equal
#: offsets, so coding a stripe in column slices gives the same blocks. zfec 1.6 coded 64 KiB
#: slices at 1,190 MB/s of stripe input and whole 1 MiB blocks at 860 MB/s (k=3, n=5, one core
#: of the machine in docs/benchmarks.md), because the slices stay in the CPU cache.
CODE_SLICE = 64 * 1024
#: Items of about 1 MiB (sealed chunks, fragment blocks, decoded pieces) queued for each worker thread.
QUEUE_DEPTH = 8


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


class _Pieces:
    """Byte pieces of a stream, cut into equal parts with one join per run of parts."""

    def __init__(self) -> None:
        self.pieces: list[bytes | memoryview] = []
        self.size = 0

    def add(self, data: bytes | memoryview) -> None:
        if data:
            self.pieces.append(data)
            self.size += len(data)

    def take(self, part: int, *, keep: int = 0) -> list[memoryview]:
        """Remove and return as many whole parts as leave at least ``keep`` bytes behind."""
        count = (self.size - keep) // part if self.size > keep else 0
        if count == 0:
            return []
        joined = b"".join(self.pieces)
        view = memoryview(joined)
        rest = joined[count * part :]
        self.pieces = [rest] if rest else []
        self.size = len(rest)
        return [view[index * part : (index + 1) * part] for index in range(count)]

    def take_all(self) -> bytes:
        joined = b"".join(self.pieces)
        self.pieces = []
        self.size = 0
        return joined


class _Worker(threading.Thread):
    """A thread that runs ``handle`` on each queued item, in order, until :meth:`close`.

    An exception in ``handle`` is kept and raised on the caller's next
    :meth:`put` or :meth:`close`; the worker then drains the queue so the
    caller never blocks on it.
    """

    def __init__(
        self, name: str, handle: Callable[[bytes | memoryview], None], finish: Callable[[], None] | None = None
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(QUEUE_DEPTH)
        self._handle = handle
        self._finish = finish
        self._aborted = False
        self.error: BaseException | None = None

    def run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is None and not self._aborted:
                try:
                    self._handle(item)
                except BaseException as error:  # handed to the caller's thread by put() and close()
                    self.error = error
        if self.error is None and not self._aborted and self._finish is not None:
            try:
                self._finish()
            except BaseException as error:
                self.error = error

    def put(self, item: bytes | memoryview) -> None:
        self._raise()
        self._queue.put(item)

    def close(self) -> None:
        """Let the worker finish the queued items, wait for it, and raise its error if it had one."""
        if self.is_alive():
            self._queue.put(None)
            self.join()
        self._raise()

    def abort(self) -> None:
        """Stop the worker, dropping queued items and the final step; its error, if any, is not raised."""
        if self.is_alive():
            self._aborted = True
            self._queue.put(None)
            self.join()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


class FragmentEncoder:
    """Streams snapshot bytes into n fragment files.

    Call :meth:`write` for the snapshot bytes, then :meth:`finish` once.
    Use it as a context manager, so its threads stop when the snapshot
    fails halfway.
    """

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
        self._parity = tuple(range(k, n))
        self._outputs = outputs
        self._hashes = [hashlib.sha256() for _ in range(n)]
        self._input = _Pieces()
        self._compressed = _Pieces()
        self._ciphertext = _Pieces()
        self._counter = 0
        self._stripes = 0
        self.plaintext_length = 0
        self.compressed_length = 0
        self.ciphertext_length = 0
        # Threads: the caller compresses and encrypts, one worker erasure-codes, and one writer per
        # fragment hashes and writes it, so the work spreads over the cores that are free.
        self._writers = [_Worker(f"shelter-write-{index}", self._writer_of(index)) for index in range(n)]
        self._coder = _Worker("shelter-code", self._code_ciphertext, self._code_last_stripe)
        for thread in (*self._writers, self._coder):
            thread.start()
        for index, tag in enumerate(tags):
            self._emit(index, tag)

    def __enter__(self) -> FragmentEncoder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        # After finish() the threads have stopped; otherwise the fragments are incomplete anyway.
        self._coder.abort()
        for writer in self._writers:
            writer.abort()

    def _writer_of(self, index: int) -> Callable[[bytes | memoryview], None]:
        output, digest = self._outputs[index], self._hashes[index]

        def write(data: bytes | memoryview) -> None:
            output.write(data)
            digest.update(data)

        return write

    def _emit(self, index: int, data: bytes | memoryview) -> None:
        self._writers[index].put(data)

    def write(self, data: bytes) -> None:
        self.plaintext_length += len(data)
        self._input.add(data)
        if self._input.size >= INPUT_BATCH:
            self._take_compressed(self._compressor.compress(self._input.take_all()))

    def _take_compressed(self, data: bytes) -> None:
        self.compressed_length += len(data)
        self._compressed.add(data)
        # Keep at least one byte back, so the last chunk is never empty and is known to be last.
        for plaintext in self._compressed.take(CHUNK_SIZE, keep=1):
            self._encrypt_chunk(plaintext, last=False)

    def _encrypt_chunk(self, plaintext: bytes | memoryview, *, last: bool) -> None:
        counter = self._counter
        sealed = self._aead.encrypt(chunk_nonce(counter), plaintext, chunk_associated_data(self.shelter_id, counter, last))
        self._counter += 1
        self.ciphertext_length += len(sealed)
        self._coder.put(sealed)

    # The coder thread: erasure-code and hand each block to its fragment's writer.

    def _code_ciphertext(self, sealed: bytes | memoryview) -> None:
        self._ciphertext.add(sealed)
        for stripe in self._ciphertext.take(self.k * BLOCK_SIZE):
            self._code_stripe(stripe)

    def _code_last_stripe(self) -> None:
        rest = self._ciphertext.take_all()
        if rest:
            self._code_stripe(memoryview(rest + secrets.token_bytes(self.k * BLOCK_SIZE - len(rest))))

    def _code_stripe(self, stripe: memoryview) -> None:
        blocks = [stripe[i * BLOCK_SIZE : (i + 1) * BLOCK_SIZE] for i in range(self.k)]
        for index, block in enumerate(blocks):
            self._emit(index, block)
        parity: list[list[bytes]] = [[] for _ in self._parity]
        for offset in range(0, BLOCK_SIZE, CODE_SLICE):
            columns = [block[offset : offset + CODE_SLICE] for block in blocks]
            for pieces, piece in zip(parity, self._encoder.encode(columns, self._parity), strict=True):
                pieces.append(piece)
        for index, pieces in zip(self._parity, parity, strict=True):
            self._emit(index, b"".join(pieces))
        self._stripes += 1

    def finish(self) -> EncodeResult:
        self._take_compressed(self._compressor.compress(self._input.take_all()) + self._compressor.flush())
        self._encrypt_chunk(self._compressed.take_all(), last=True)
        self._coder.close()
        for writer in self._writers:
            writer.close()
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

    ``inputs`` maps fragment index to a file positioned after its tag. A
    worker thread reads, decodes, decrypts and decompresses while ``emit``
    runs on the caller's thread. Raises ShelterRejected(ciphertext_invalid)
    if a chunk fails authentication, and whatever ``emit`` raises.
    """
    if len(inputs) < k:
        raise ShelterRejected(errors.TOO_FEW_FRAGMENTS, f"found {len(inputs)} fragments, needed {k}")
    decoder = _StripeDecoder(inputs, shelter_id=shelter_id, data_key=data_key, k=k, n=n, chunks=chunks)
    plaintext: queue.Queue[bytes | BaseException | None] = queue.Queue(QUEUE_DEPTH)
    stop = threading.Event()

    def produce() -> None:
        try:
            for piece in decoder.plaintext(stripes, ciphertext_length):
                if stop.is_set():
                    return
                plaintext.put(piece)
            plaintext.put(None)
        except BaseException as error:  # handed to the caller's thread through the queue
            plaintext.put(error)

    worker = threading.Thread(target=produce, name="shelter-decode", daemon=True)
    worker.start()
    try:
        while (item := plaintext.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            emit(item)
    finally:
        stop.set()
        # Unblock a worker waiting on a full queue, then wait for it.
        while worker.is_alive():
            try:
                plaintext.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()


class _StripeDecoder:
    """Fragments to snapshot bytes: zfec decode, AES-GCM open, zstd decompress."""

    def __init__(
        self, inputs: Mapping[int, BinaryIO], *, shelter_id: bytes, data_key: bytes, k: int, n: int, chunks: int
    ) -> None:
        self.indexes = tuple(sorted(inputs)[:k])
        self.inputs = [inputs[index] for index in self.indexes]
        self.shelter_id = shelter_id
        self.chunks = chunks
        self.k = k
        self._decoder = zfec.Decoder(k, n)
        self._aead = AESGCM(data_key)
        self._decompressor = zstandard.ZstdDecompressor().decompressobj()
        self._counter = 0

    def plaintext(self, stripes: int, ciphertext_length: int) -> Iterator[bytes]:
        sealed_size = CHUNK_SIZE + TAG_SIZE
        pending = _Pieces()
        remaining = ciphertext_length
        for _stripe in range(stripes):
            stripe = self._decode_stripe()
            take = min(remaining, len(stripe))
            pending.add(stripe[:take] if take < len(stripe) else stripe)
            remaining -= take
            # The last chunk may be shorter; it is opened after the loop, with the last-chunk flag.
            ready = min(pending.size // sealed_size, self.chunks - 1 - self._counter)
            if ready > 0:
                for sealed in pending.take(sealed_size, keep=pending.size - ready * sealed_size):
                    yield self._open(sealed)
        if remaining or self._counter != self.chunks - 1:
            raise ShelterRejected(errors.CIPHERTEXT_INVALID, "the fragments hold less ciphertext than the manifest says")
        yield self._open(pending.take_all())
        yield self._decompressor.flush()

    def _decode_stripe(self) -> bytes:
        blocks = [handle.read(BLOCK_SIZE) for handle in self.inputs]
        if any(len(block) != BLOCK_SIZE for block in blocks):
            raise ShelterRejected(errors.FRAGMENT_SIZE, "a fragment ended before its last stripe")
        if self.indexes == tuple(range(self.k)):
            return b"".join(blocks)
        columns: list[list[bytes]] = [[] for _ in range(self.k)]
        views = [memoryview(block) for block in blocks]
        for offset in range(0, BLOCK_SIZE, CODE_SLICE):
            decoded = self._decoder.decode([view[offset : offset + CODE_SLICE] for view in views], self.indexes)
            for pieces, piece in zip(columns, decoded, strict=True):
                pieces.append(piece)
        return b"".join(piece for pieces in columns for piece in pieces)

    def _open(self, sealed: bytes | memoryview) -> bytes:
        counter = self._counter
        last = counter == self.chunks - 1
        try:
            plaintext = self._aead.decrypt(
                chunk_nonce(counter), sealed, chunk_associated_data(self.shelter_id, counter, last)
            )
        except InvalidTag:
            raise ShelterRejected(
                errors.CIPHERTEXT_INVALID, f"ciphertext chunk {counter} of {self.chunks} failed authentication"
            ) from None
        self._counter += 1
        return self._decompressor.decompress(plaintext)


def iter_file(handle: BinaryIO, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk

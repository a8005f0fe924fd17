"""The fragment codec: round trips at chunk and stripe boundaries, tampering, and errors on its threads."""

from __future__ import annotations

import io
import os
import secrets
import threading

import pytest

from node.shelter import errors
from node.shelter.codec import BLOCK_SIZE, CHUNK_SIZE, FRAGMENT_TAG_SIZE, TAG_SIZE, FragmentEncoder, decode_fragments
from node.shelter.errors import ShelterRejected

K, N = 3, 5


def encode(data: bytes, *, piece: int = 100_003):
    shelter_id, key = secrets.token_bytes(16), secrets.token_bytes(32)
    tags = [secrets.token_bytes(FRAGMENT_TAG_SIZE) for _ in range(N)]
    outputs = [io.BytesIO() for _ in range(N)]
    with FragmentEncoder(shelter_id, key, K, N, outputs, tags) as encoder:
        for offset in range(0, len(data), piece):
            encoder.write(data[offset : offset + piece])
        result = encoder.finish()
    return shelter_id, key, tags, [output.getvalue() for output in outputs], result


def decode(shelter_id, key, fragments, result, indexes, emit=None) -> bytes:  # type: ignore[no-untyped-def]
    pieces: list[bytes] = []
    inputs = {}
    for index in indexes:
        handle = io.BytesIO(fragments[index])
        handle.seek(FRAGMENT_TAG_SIZE)
        inputs[index] = handle
    decode_fragments(
        inputs,
        shelter_id=shelter_id,
        data_key=key,
        k=K,
        n=N,
        stripes=result.stripes,
        ciphertext_length=result.ciphertext_length,
        chunks=result.chunks,
        emit=emit or pieces.append,
    )
    return b"".join(pieces)


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, K * BLOCK_SIZE, K * BLOCK_SIZE + 17, 7 * CHUNK_SIZE + 5],
)
def test_round_trip_from_any_k_fragments(size: int) -> None:
    # Random bytes do not compress, so the ciphertext lands on the chunk and stripe boundaries named above.
    data = os.urandom(size)
    shelter_id, key, tags, fragments, result = encode(data)

    assert result.plaintext_length == size
    assert {len(fragment) for fragment in fragments} == {result.fragment_size}
    assert [fragment[:FRAGMENT_TAG_SIZE] for fragment in fragments] == tags
    for indexes in [(0, 1, 2), (2, 3, 4), (0, 3, 4), (1, 2, 4)]:
        assert decode(shelter_id, key, fragments, result, indexes) == data, f"fragments {indexes}"


def test_compressible_input_round_trip() -> None:
    data = b"".join(index.to_bytes(4, "big") * 64 for index in range(100_000))
    shelter_id, key, _tags, fragments, result = encode(data, piece=300)
    assert result.compressed_length < len(data) // 10
    assert decode(shelter_id, key, fragments, result, (1, 3, 4)) == data


def test_flipped_ciphertext_byte_is_ciphertext_invalid() -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    shelter_id, key, _tags, fragments, result = encode(data)
    # Chunk 1 starts CHUNK_SIZE + TAG_SIZE bytes into the ciphertext: in block 1, which fragment 1 holds.
    damaged = bytearray(fragments[1])
    damaged[FRAGMENT_TAG_SIZE + CHUNK_SIZE + TAG_SIZE + 10 - BLOCK_SIZE] ^= 1
    fragments[1] = bytes(damaged)
    with pytest.raises(ShelterRejected) as raised:
        decode(shelter_id, key, fragments, result, (0, 1, 2))
    assert raised.value.rule == errors.CIPHERTEXT_INVALID
    assert "chunk 1 " in raised.value.message


def test_short_fragment_is_fragment_size() -> None:
    shelter_id, key, _tags, fragments, result = encode(os.urandom(5 * BLOCK_SIZE))
    fragments[4] = fragments[4][:-1]
    with pytest.raises(ShelterRejected) as raised:
        decode(shelter_id, key, fragments, result, (2, 3, 4))
    assert raised.value.rule == errors.FRAGMENT_SIZE


def test_emit_error_stops_decode_thread() -> None:
    shelter_id, key, _tags, fragments, result = encode(os.urandom(20 * CHUNK_SIZE))
    before = threading.active_count()

    def refuse(_data: bytes) -> None:
        raise RuntimeError("import failed")

    with pytest.raises(RuntimeError, match="import failed"):
        decode(shelter_id, key, fragments, result, (0, 1, 2), emit=refuse)
    assert threading.active_count() == before


class _FullDisk(io.BytesIO):
    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        if self.tell() > 2 * BLOCK_SIZE:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_write_error_reaches_caller() -> None:
    outputs = [io.BytesIO() for _ in range(N - 1)] + [_FullDisk()]
    tags = [secrets.token_bytes(FRAGMENT_TAG_SIZE) for _ in range(N)]
    before = threading.active_count()
    with pytest.raises(OSError, match="No space left"):
        with FragmentEncoder(secrets.token_bytes(16), secrets.token_bytes(32), K, N, outputs, tags) as encoder:
            for _ in range(40):
                encoder.write(os.urandom(CHUNK_SIZE))
            encoder.finish()
    assert threading.active_count() == before


def test_snapshot_error_stops_encode_thread() -> None:
    outputs = [io.BytesIO() for _ in range(N)]
    tags = [secrets.token_bytes(FRAGMENT_TAG_SIZE) for _ in range(N)]
    before = threading.active_count()
    with pytest.raises(ValueError, match="snapshot failed"):
        with FragmentEncoder(secrets.token_bytes(16), secrets.token_bytes(32), K, N, outputs, tags) as encoder:
            encoder.write(os.urandom(5 * CHUNK_SIZE))
            raise ValueError("snapshot failed")
    assert threading.active_count() == before

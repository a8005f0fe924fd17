"""The shelter manifest, its on-chain commitment and the fragment Merkle root.

The manifest holds everything a restore needs: where the fragments are,
their hashes and tags, the coding parameters, the data key and the anchor
proof. It is sealed to the shelter public key (node.shelter.kem) before it
leaves the node. The node keeps a catalog, the manifest without the data
key, so verify and repair run without any custodian.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import msgpack
from eth_hash.auto import keccak

from node.shelter import errors
from node.shelter.errors import ShelterRejected
from node.shelter.kem import PrivateKey, PublicKey, SealError, open_sealed, seal

MANIFEST_FORMAT = 1
_MANIFEST_CONTEXT = b"kura-shelter-manifest-v1"
_COMMITMENT_DOMAIN = b"kura-shelter-commitment-v1"


@dataclass(frozen=True)
class FragmentEntry:
    index: int
    name: str
    sha256: bytes
    tag: bytes
    #: Site the fragment was first written to; repair may place it elsewhere under the same name.
    site: str


@dataclass(frozen=True)
class AnchorRecord:
    """Where the commitment was anchored, and the proof a restore checks without a live node.

    ``headers`` are the RLP headers from the snapshot block's child up to the
    anchor block; ``transactions`` are the anchor block's transactions in
    consensus encoding, and ``index`` points at the anchor transaction.
    """

    address: bytes
    block_number: int
    tx_hash: bytes
    index: int
    headers: list[bytes]
    transactions: list[bytes]


@dataclass(frozen=True)
class Manifest:
    shelter_id: bytes
    created: int
    chain_id: int
    height: int
    block_hash: bytes
    state_root: bytes
    k: int
    n: int
    key_id: str
    stripes: int
    chunks: int
    ciphertext_length: int
    plaintext_length: int
    fragment_size: int
    fragments: list[FragmentEntry]
    fragments_root: bytes
    #: AES-256 key of the ciphertext; b"" in a catalog.
    data_key: bytes = b""
    anchor: AnchorRecord | None = None
    format: int = MANIFEST_FORMAT
    compression: str = "zstd"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shelter_id_hex(self) -> str:
        return self.shelter_id.hex()

    def commitment(self) -> bytes:
        """Keccak-256 of the fields the anchor fixes: id, chain, height, block, state root, k, n, fragments, key."""
        return commitment_of(self)

    def catalog(self) -> Manifest:
        """This manifest without the data key: what the node keeps for verify and repair."""
        return replace(self, data_key=b"")

    def to_bytes(self) -> bytes:
        return msgpack.packb(asdict(self), use_bin_type=True)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        try:
            fields = msgpack.unpackb(raw, raw=False)
            fragments = [FragmentEntry(**entry) for entry in fields.pop("fragments")]
            anchor = fields.pop("anchor")
            return cls(fragments=fragments, anchor=None if anchor is None else AnchorRecord(**anchor), **fields)
        except (ValueError, TypeError, KeyError) as error:
            raise ShelterRejected(errors.MANIFEST_INVALID, f"the manifest cannot be decoded: {error}") from None


def commitment_of(manifest: Manifest) -> bytes:
    return keccak(
        _COMMITMENT_DOMAIN
        + anchor_id(manifest.shelter_id)
        + manifest.chain_id.to_bytes(8, "big")
        + manifest.height.to_bytes(8, "big")
        + manifest.block_hash
        + manifest.state_root
        + bytes([manifest.k, manifest.n])
        + manifest.fragments_root
        + bytes.fromhex(manifest.key_id)
    )


def anchor_id(shelter_id: bytes) -> bytes:
    """The shelter id as the contract's bytes32 key: the 16-byte id, zero-padded on the right."""
    return shelter_id.ljust(32, b"\x00")


def fragments_root(hashes: list[bytes]) -> bytes:
    """Binary SHA-256 Merkle root over (index, fragment hash) leaves; an odd node moves up unchanged."""
    level = [hashlib.sha256(b"\x00" + index.to_bytes(2, "big") + digest).digest() for index, digest in enumerate(hashes)]
    if not level:
        return bytes(32)
    while len(level) > 1:
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def seal_manifest(manifest: Manifest, public: PublicKey) -> bytes:
    return seal(public, manifest.to_bytes(), _MANIFEST_CONTEXT)


def open_manifest(sealed: bytes, private: PrivateKey) -> Manifest:
    try:
        return Manifest.from_bytes(open_sealed(private, sealed, _MANIFEST_CONTEXT))
    except SealError as error:
        raise ShelterRejected(errors.MANIFEST_INVALID, f"the sealed manifest cannot be opened: {error}") from None


def manifest_prefix_matches(private: PrivateKey, prefix: bytes) -> bool:
    """Whether an object starting with ``prefix`` is a manifest sealed to ``private``'s public key."""
    from node.shelter.kem import sealed_length

    try:
        sealed_length(private, prefix, _MANIFEST_CONTEXT)
    except SealError:
        return False
    return True

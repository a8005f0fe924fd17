"""Hybrid public-key sealing: X25519 and ML-KEM-768, combined with HKDF-SHA256.

Both KEMs run on every seal, and the AEAD key is HKDF over both shared
secrets together with both ciphertexts and the recipient's public key (the
combiner of the X-Wing and IETF hybrid-KEM drafts). Recovering the key
needs both secrets, so a sealed object stays confidential while either
X25519 or ML-KEM-768 holds. Both come from ``cryptography`` (ML-KEM from
version 46 on, backed by OpenSSL 3.5 or AWS-LC).

Sealed layout (all sizes in bytes)::

    x25519 ephemeral public key (32) | ML-KEM-768 ciphertext (1088)
    | AES-256-GCM(length of body, 8) + tag (16) | AES-256-GCM(body) + tag (16)

The short length record lets a restore recognise its own sealed objects
among fragments by reading only the first :data:`SEALED_PREFIX_SIZE` bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

X25519_SIZE = 32
MLKEM_CIPHERTEXT_SIZE = 1088
MLKEM_PUBLIC_SIZE = 1184
MLKEM_SEED_SIZE = 64
PUBLIC_KEY_SIZE = X25519_SIZE + MLKEM_PUBLIC_SIZE
PRIVATE_KEY_SIZE = X25519_SIZE + MLKEM_SEED_SIZE
_LENGTH_RECORD_SIZE = 8 + 16
SEALED_PREFIX_SIZE = X25519_SIZE + MLKEM_CIPHERTEXT_SIZE + _LENGTH_RECORD_SIZE
_INFO = b"kura-shelter-hybrid-kem-v1"
# Each derived key seals exactly one object, so fixed nonces never repeat under a key.
_LENGTH_NONCE = bytes(11) + b"\x01"
_BODY_NONCE = bytes(11) + b"\x02"


class SealError(ValueError):
    """The object was not sealed to this key, or it was altered."""


@dataclass(frozen=True)
class PublicKey:
    """A shelter (or restore request) public key: X25519 then ML-KEM-768 encapsulation key."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise ValueError(f"a hybrid public key has {PUBLIC_KEY_SIZE} bytes, got {len(self.raw)}")

    @property
    def key_id(self) -> str:
        """First 16 bytes of SHA-256 over the raw key, in hex: names the key in files and messages."""
        return hashlib.sha256(self.raw).hexdigest()[:32]


@dataclass(frozen=True)
class PrivateKey:
    """X25519 private key then the 64-byte ML-KEM-768 seed."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PRIVATE_KEY_SIZE:
            raise ValueError(f"a hybrid private key has {PRIVATE_KEY_SIZE} bytes, got {len(self.raw)}")

    @classmethod
    def generate(cls) -> PrivateKey:
        classical = x25519.X25519PrivateKey.generate().private_bytes_raw()
        post_quantum = mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
        return cls(classical + post_quantum)

    def public_key(self) -> PublicKey:
        classical = x25519.X25519PrivateKey.from_private_bytes(self.raw[:X25519_SIZE])
        post_quantum = mlkem.MLKEM768PrivateKey.from_seed_bytes(self.raw[X25519_SIZE:])
        return PublicKey(classical.public_key().public_bytes_raw() + post_quantum.public_key().public_bytes_raw())


def _derive_key(classical_secret: bytes, quantum_secret: bytes, ephemeral: bytes, ciphertext: bytes, public: PublicKey) -> bytes:
    context = _INFO + ephemeral + ciphertext + hashlib.sha256(public.raw).digest()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context).derive(classical_secret + quantum_secret)


def seal(public: PublicKey, body: bytes, associated_data: bytes = b"") -> bytes:
    """Encrypt ``body`` so only the holder of ``public``'s private key can read it."""
    ephemeral = x25519.X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    classical_secret = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(public.raw[:X25519_SIZE]))
    recipient = mlkem.MLKEM768PublicKey.from_public_bytes(public.raw[X25519_SIZE:])
    quantum_secret, ciphertext = recipient.encapsulate()

    key = AESGCM(_derive_key(classical_secret, quantum_secret, ephemeral_public, ciphertext, public))
    header = ephemeral_public + ciphertext
    length_record = key.encrypt(_LENGTH_NONCE, len(body).to_bytes(8, "big"), header + associated_data)
    return header + length_record + key.encrypt(_BODY_NONCE, body, header + associated_data)


def _open_key(private: PrivateKey, prefix: bytes, associated_data: bytes) -> tuple[AESGCM, int]:
    if len(prefix) < SEALED_PREFIX_SIZE:
        raise SealError(f"a sealed object has at least {SEALED_PREFIX_SIZE} bytes, got {len(prefix)}")
    ephemeral_public = prefix[:X25519_SIZE]
    ciphertext = prefix[X25519_SIZE : X25519_SIZE + MLKEM_CIPHERTEXT_SIZE]
    classical = x25519.X25519PrivateKey.from_private_bytes(private.raw[:X25519_SIZE])
    try:
        classical_secret = classical.exchange(x25519.X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError as error:  # an all-zero shared secret: not a sealed object
        raise SealError(str(error)) from None
    # ML-KEM decapsulation never fails: a foreign ciphertext yields a random secret, and the tag check below rejects it.
    quantum_secret = mlkem.MLKEM768PrivateKey.from_seed_bytes(private.raw[X25519_SIZE:]).decapsulate(ciphertext)
    key = AESGCM(_derive_key(classical_secret, quantum_secret, ephemeral_public, ciphertext, private.public_key()))
    header = prefix[: X25519_SIZE + MLKEM_CIPHERTEXT_SIZE]
    try:
        length = key.decrypt(_LENGTH_NONCE, prefix[len(header) : SEALED_PREFIX_SIZE], header + associated_data)
    except InvalidTag:
        raise SealError("not sealed to this key, or altered") from None
    return key, int.from_bytes(length, "big")


def sealed_length(private: PrivateKey, prefix: bytes, associated_data: bytes = b"") -> int:
    """Body length of a sealed object from its first SEALED_PREFIX_SIZE bytes; SealError if not ours."""
    return _open_key(private, prefix, associated_data)[1]


def open_sealed(private: PrivateKey, sealed: bytes, associated_data: bytes = b"") -> bytes:
    """Decrypt an object made by :func:`seal`; SealError if it is not ours or was altered."""
    key, length = _open_key(private, sealed, associated_data)
    header = sealed[: X25519_SIZE + MLKEM_CIPHERTEXT_SIZE]
    body = sealed[SEALED_PREFIX_SIZE:]
    if len(body) != length + 16:
        raise SealError(f"sealed body has {len(body) - 16} bytes, its length record says {length}")
    try:
        return key.decrypt(_BODY_NONCE, body, header + associated_data)
    except InvalidTag:
        raise SealError("sealed body altered") from None

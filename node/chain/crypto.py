"""secp256k1 signing and recovery on coincurve, in Ethereum's 65-byte form.

Signatures are ``r || s || v`` with ``v`` in {0, 1}; addresses are the last
20 bytes of the Keccak-256 of the uncompressed public key.
"""

from __future__ import annotations

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

SIGNATURE_LENGTH = 65


class SignatureError(ValueError):
    """A signature is malformed or does not recover to a public key."""


def address_of_public_key(public_key: PublicKey) -> bytes:
    return keccak(public_key.format(compressed=False)[1:])[12:]


def address_of_private_key(private_key: bytes) -> bytes:
    return address_of_public_key(PrivateKey(private_key).public_key)


def sign_hash(private_key: bytes, message_hash: bytes) -> bytes:
    """Sign a 32-byte hash; return the 65-byte recoverable signature."""
    return PrivateKey(private_key).sign_recoverable(message_hash, hasher=None)


def recover_address(message_hash: bytes, signature: bytes) -> bytes:
    """Return the address that made ``signature`` over ``message_hash``.

    Raises SignatureError when the signature has the wrong length, a
    recovery id other than 0 or 1, or does not recover.
    """
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"signature is {len(signature)} bytes, expected {SIGNATURE_LENGTH}")
    if signature[64] > 1:
        raise SignatureError(f"recovery id is {signature[64]}, expected 0 or 1")
    try:
        public_key = PublicKey.from_signature_and_message(signature, message_hash, hasher=None)
    except Exception as error:  # coincurve raises plain Exception subclasses
        raise SignatureError(f"signature does not recover: {error}") from error
    return address_of_public_key(public_key)

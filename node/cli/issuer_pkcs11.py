"""Signing mint proposals with a secp256k1 key held in a PKCS#11 token (an HSM, or SoftHSM2).

The token signs the 32-byte EIP-712 digest with the raw ``CKM_ECDSA`` mechanism and returns
r‖s. Ethereum also needs a low s (EIP-2) and the recovery id v, which the token does not give.
So s is folded into the lower half of the curve order, and v is the recovery id whose recovered
public key matches the token's.

The key pair is found by its ``CKA_LABEL``: the private key to sign with and the public key of the
same label to derive the address from. python-pkcs11 is imported only here, when a command asks
for a token, so the other commands work without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_keys import KeyAPI
from eth_utils import keccak, to_checksum_address

from node.cli.i18n import _
from node.cli.issuer_support import IssuerError

#: Order n of the secp256k1 group.
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: DER encoding of the secp256k1 curve OID (1.3.132.0.10), the token's CKA_EC_PARAMS for such a key.
SECP256K1_EC_PARAMS = bytes.fromhex("06052b8104000a")


@dataclass(frozen=True)
class TokenKey:
    """A secp256k1 key pair in an open token session."""

    private_key: Any
    #: Uncompressed public key without the 0x04 prefix: x‖y, 64 bytes.
    public_key: bytes

    @property
    def address(self) -> str:
        return to_checksum_address(keccak(self.public_key)[12:])

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest; return the 65-byte Ethereum signature r‖s‖v with v in {27, 28}."""
        import pkcs11

        raw = self.private_key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
        r = int.from_bytes(raw[:32], "big")
        s = int.from_bytes(raw[32:], "big")
        if s > SECP256K1_ORDER // 2:
            s = SECP256K1_ORDER - s
        for recovery_id in (0, 1):
            signature = KeyAPI.Signature(vrs=(recovery_id, r, s))
            if signature.recover_public_key_from_msg_hash(digest).to_bytes() == self.public_key:
                return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + recovery_id])
        raise IssuerError(_("the token's signature does not match its public key; check the key label"))


def _uncompressed_point(ec_point: bytes) -> bytes:
    """Return x‖y from CKA_EC_POINT, which tokens store as a DER OCTET STRING around 04‖x‖y."""
    if len(ec_point) == 67 and ec_point[:2] == b"\x04\x41":
        ec_point = ec_point[2:]
    if len(ec_point) != 65 or ec_point[0] != 4:
        raise IssuerError(_("the token's public key is not an uncompressed secp256k1 point"))
    return ec_point[1:]


def _read_pin(pin_file: str | None, token_label: str) -> str:
    import getpass

    if pin_file:
        try:
            return Path(pin_file).read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            raise IssuerError(
                _("cannot read the PIN file {path}: {error}").format(path=pin_file, error=error)
            ) from None
    return getpass.getpass(_("User PIN of token {label}: ").format(label=token_label))


@contextmanager
def open_token_key(module: str, token_label: str, key_label: str, pin_file: str | None) -> Iterator[TokenKey]:
    """Log in to the token and yield its key pair labelled ``key_label``; log out afterwards."""
    try:
        import pkcs11
        from pkcs11 import Attribute, KeyType, ObjectClass
        from pkcs11.exceptions import MultipleObjectsReturned, NoSuchKey, NoSuchToken, PinIncorrect, PKCS11Error
    except ImportError:
        raise IssuerError(
            _("signing with a PKCS#11 token needs the python-pkcs11 package: pip install python-pkcs11")
        ) from None

    try:
        library = pkcs11.lib(module)
    except (OSError, RuntimeError, PKCS11Error) as error:
        raise IssuerError(
            _("cannot load the PKCS#11 module {path}: {error}").format(path=module, error=error)
        ) from None
    try:
        token = library.get_token(token_label=token_label)
    except NoSuchToken:
        raise IssuerError(_("no PKCS#11 token is labelled {label}").format(label=token_label)) from None

    pin = _read_pin(pin_file, token_label)
    try:
        session = token.open(user_pin=pin)
    except PinIncorrect:
        raise IssuerError(_("wrong user PIN for token {label}").format(label=token_label)) from None

    with session:
        try:
            private_key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=key_label)
            public_key = session.get_key(object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.EC, label=key_label)
        except NoSuchKey:
            raise IssuerError(
                _("token {token} has no EC key pair labelled {label}").format(token=token_label, label=key_label)
            ) from None
        except MultipleObjectsReturned:
            raise IssuerError(
                _("token {token} has more than one key labelled {label}").format(token=token_label, label=key_label)
            ) from None
        if bytes(public_key[Attribute.EC_PARAMS]) != SECP256K1_EC_PARAMS:
            raise IssuerError(_("key {label} is not on the secp256k1 curve").format(label=key_label))
        yield TokenKey(private_key, _uncompressed_point(bytes(public_key[Attribute.EC_POINT])))

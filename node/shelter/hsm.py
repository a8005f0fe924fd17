"""AES-256-GCM with a key that never leaves a PKCS#11 token (an HSM, a smart card or SoftHSM2).

A custodian may keep their share of the shelter wrapping key sealed under
such a key instead of a passphrase. The token encrypts the share at key
generation and decrypts it when the custodian releases it, after the
custodian logs in with the token's user PIN. The key is a token object
with ``CKA_SENSITIVE`` true and ``CKA_EXTRACTABLE`` false, so neither the
host nor anyone holding the PIN can copy it out. AES-256 keeps the
shelter's resistance to a quantum adversary, which an RSA or elliptic-curve
key in the token would lose.

A token key is named by a PKCS#11 URI (RFC 7512), for example
``pkcs11:token=custodian-2;object=kura-shelter?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin``.
Only the attributes ``token``, ``object``, ``module-path`` and ``pin-source``
are read; ``pin-value`` is rejected so that no PIN lands in a shell history.

python-pkcs11 is imported only when a token is used. A PKCS#11 module reads
its configuration (for SoftHSM2, the ``SOFTHSM2_CONF`` file) once, when it
is first loaded into the process.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from node.shelter import errors
from node.shelter.errors import ShelterError, ShelterRejected

URI_SCHEME = "pkcs11:"
KEY_BITS = 256
NONCE_SIZE = 12
_PATH_ATTRIBUTES = {"token", "object"}
_QUERY_ATTRIBUTES = {"module-path", "pin-source"}


@dataclass(frozen=True)
class TokenKeyRef:
    """Location of a custodian's AES key: PKCS#11 module, token label and key label (``CKA_LABEL``)."""

    module_path: str
    token_label: str
    key_label: str
    #: File holding the user PIN; None to prompt for it.
    pin_file: str | None = None

    @classmethod
    def parse(cls, uri: str) -> TokenKeyRef:
        """Read a PKCS#11 URI; ShelterError names the missing or unsupported attribute."""
        if not uri.startswith(URI_SCHEME):
            raise ShelterError(f"a token key is a PKCS#11 URI starting with {URI_SCHEME!r}, got {uri!r}")
        path, _, query = uri[len(URI_SCHEME) :].partition("?")
        attributes: dict[str, str] = {}
        for part, allowed, separator in ((path, _PATH_ATTRIBUTES, ";"), (query, _QUERY_ATTRIBUTES, "&")):
            for item in filter(None, part.split(separator)):
                name, equals, value = item.partition("=")
                if name == "pin-value":
                    raise ShelterError("a PKCS#11 URI must not carry the PIN (pin-value); use pin-source=file:PATH")
                if not equals or name not in allowed:
                    known = ", ".join(sorted(allowed))
                    raise ShelterError(f"unsupported PKCS#11 URI attribute {item!r} in {uri!r}; supported here: {known}")
                attributes[name] = unquote(value)
        missing = [name for name in ("token", "object", "module-path") if not attributes.get(name)]
        if missing:
            raise ShelterError(f"the PKCS#11 URI {uri!r} lacks {', '.join(missing)}")
        pin_file = attributes.get("pin-source")
        if pin_file is not None:
            if pin_file.startswith("|"):
                raise ShelterError("a pin-source that runs a program is not supported; give file:PATH")
            pin_file = pin_file.removeprefix("file://").removeprefix("file:")
        return cls(attributes["module-path"], attributes["token"], attributes["object"], pin_file)

    def uri(self) -> str:
        """Return the PKCS#11 URI of the key, without the PIN source."""
        return (
            f"{URI_SCHEME}token={quote(self.token_label, safe='')};object={quote(self.key_label, safe='')}"
            f"?module-path={quote(self.module_path, safe='/')}"
        )

    def read_pin(self) -> str | None:
        """The PIN from ``pin_file``, or None when the caller must prompt for it."""
        if self.pin_file is None:
            return None
        try:
            return Path(self.pin_file).read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            raise ShelterError(f"cannot read the PIN file {self.pin_file}: {error}") from None


@contextmanager
def _session(ref: TokenKeyRef, pin: str, *, read_write: bool = False) -> Iterator[Any]:
    """Log in to the token of ``ref`` as its user; ShelterRejected(pin_incorrect) on a wrong PIN."""
    try:
        import pkcs11
        from pkcs11.exceptions import NoSuchToken, PinIncorrect, PinInvalid, PinLenRange, PinLocked, PKCS11Error
    except ImportError:
        raise ShelterError("a PKCS#11 custodian needs the python-pkcs11 package: pip install python-pkcs11") from None

    try:
        library = pkcs11.lib(ref.module_path)
    except (OSError, RuntimeError) as error:
        raise ShelterError(f"cannot load the PKCS#11 module {ref.module_path}: {error}") from None
    try:
        token = library.get_token(token_label=ref.token_label)
    except NoSuchToken:
        raise ShelterError(f"no PKCS#11 token labelled {ref.token_label!r} in {ref.module_path}") from None
    try:
        session = token.open(user_pin=pin, rw=read_write)
    except (PinIncorrect, PinInvalid, PinLenRange):
        raise ShelterRejected(errors.PIN_INCORRECT, f"wrong user PIN for token {ref.token_label!r}") from None
    except PinLocked:
        raise ShelterError(
            f"the user PIN of token {ref.token_label!r} is locked; its security officer must unlock it"
        ) from None
    except PKCS11Error as error:
        raise ShelterError(f"cannot log in to token {ref.token_label!r}: {type(error).__name__} {error}") from None
    with session:
        yield session


def _share_key(session: Any, ref: TokenKeyRef) -> Any:
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.exceptions import MultipleObjectsReturned, NoSuchKey

    try:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=ref.key_label)
    except NoSuchKey:
        raise ShelterError(
            f"token {ref.token_label!r} has no AES key labelled {ref.key_label!r}; "
            "create one with 'kura custodian create-token-key'"
        ) from None
    except MultipleObjectsReturned:
        raise ShelterError(f"token {ref.token_label!r} has more than one key labelled {ref.key_label!r}") from None
    if key.key_length != KEY_BITS:
        raise ShelterError(f"key {ref.key_label!r} has {key.key_length} bits, expected an AES-{KEY_BITS} key")
    if key[Attribute.EXTRACTABLE] or not key[Attribute.SENSITIVE]:
        raise ShelterError(
            f"key {ref.key_label!r} in token {ref.token_label!r} can leave the token "
            "(CKA_EXTRACTABLE true or CKA_SENSITIVE false); create a new one with 'kura custodian create-token-key'"
        )
    return key


def create_token_key(ref: TokenKeyRef, pin: str) -> None:
    """Generate the AES-256 key of ``ref`` inside its token, sensitive and not extractable.

    Raises ShelterError if the token already contains a key of that label, so a
    key that seals shares is never shadowed by a second one.
    """
    from pkcs11 import Attribute, KeyType, ObjectClass

    with _session(ref, pin, read_write=True) as session:
        if list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: ref.key_label})):
            raise ShelterError(f"token {ref.token_label!r} already contains a key labelled {ref.key_label!r}; choose another label")
        session.generate_key(
            KeyType.AES,
            KEY_BITS,
            label=ref.key_label,
            store=True,
            template={
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.ENCRYPT: True,
                Attribute.DECRYPT: True,
                Attribute.PRIVATE: True,
            },
        )


def encrypt_in_token(ref: TokenKeyRef, pin: str, plaintext: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
    """Encrypt with the token's key; return (nonce, ciphertext with its 16-byte tag).

    The token decrypts the result once before it is returned, so a key that
    cannot decrypt (a broken or misconfigured token) fails here, at key
    generation, and not at a restore.
    """
    from pkcs11 import Mechanism
    from pkcs11.mechanisms import GCMParams

    nonce = secrets.token_bytes(NONCE_SIZE)
    with _session(ref, pin) as session:
        key = _share_key(session, ref)
        ciphertext = bytes(
            key.encrypt(plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, associated_data))
        )
        check = key.decrypt(ciphertext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, associated_data))
    if bytes(check) != plaintext:
        raise ShelterError(f"token {ref.token_label!r} does not decrypt what it encrypted with key {ref.key_label!r}")
    return nonce, ciphertext


def decrypt_in_token(ref: TokenKeyRef, pin: str, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
    """Decrypt with the token's key; ShelterRejected(token_key_wrong) if the tag does not verify."""
    from pkcs11 import Mechanism
    from pkcs11.exceptions import PKCS11Error
    from pkcs11.mechanisms import GCMParams

    with _session(ref, pin) as session:
        key = _share_key(session, ref)
        try:
            plaintext = key.decrypt(
                ciphertext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, associated_data)
            )
        except PKCS11Error as error:
            # SoftHSM2 2.6.1 reports a failed GCM tag check as CKR_GENERAL_ERROR, so any error here counts as a wrong key.
            raise ShelterRejected(
                errors.TOKEN_KEY_WRONG,
                f"key {ref.key_label!r} in token {ref.token_label!r} does not open this share, "
                f"or the share was altered ({type(error).__name__})",
            ) from None
    return bytes(plaintext)

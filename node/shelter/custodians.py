"""The shelter key pair, its t-of-m split among custodians, and share release for one restore.

Key generation makes a hybrid key pair (:mod:`node.shelter.kem`) and a random
256-bit wrapping key W. The private key is encrypted under W with
AES-256-GCM, and W is split t-of-m with Shamir's scheme from pycryptodome
(``Crypto.Protocol.SecretSharing.Shamir``, GF(2^128), so W's two 16-byte
halves are split separately with the same share indexes). Each custodian's
share of W and the wrapped private key are written to a custodian file,
the share sealed either under the custodian's passphrase (scrypt, then
AES-256-GCM) or under an AES-256 key inside the custodian's PKCS#11 token
(:mod:`node.shelter.hsm`). Nodes get only the public key file.

To release a share, the restore operator makes a restore request: a fresh
hybrid key pair whose private half stays with the operator. A custodian
opens their file offline and seals the share to the request's public key,
bound to the request id and the shelter key id. A copied released share is
useless without that request's private key, which the operator deletes
after the restore.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from node.shelter import errors
from node.shelter.errors import ShelterError, ShelterRejected
from node.shelter.hsm import TokenKeyRef, decrypt_in_token, encrypt_in_token
from node.shelter.kem import PrivateKey, PublicKey, SealError, open_sealed, seal

CUSTODIAN_FORMAT = "kura-shelter-custodian-share-v1"
PUBLIC_FORMAT = "kura-shelter-public-key-v1"
REQUEST_FORMAT = "kura-shelter-restore-request-v1"
RELEASED_FORMAT = "kura-shelter-released-share-v1"
#: scrypt cost for custodian passphrases: 2**17 x 8 x 1 takes about 128 MiB and a few hundred ms,
#: the cost geth's keystores use ("standard scrypt").
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
SEALED_WITH_PASSPHRASE = "passphrase"
SEALED_WITH_PKCS11 = "pkcs11"


@dataclass(frozen=True)
class CustodianShare:
    """One custodian's opened share: Shamir index, 32 share bytes and the wrapped private key."""

    key_id: str
    index: int
    threshold: int
    custodians: int
    share: bytes
    wrapped_private_key: bytes


def write_json(path: Path, document: dict[str, Any], *, private: bool = False) -> None:
    """Write ``document`` atomically; ``private`` files are created mode 0600."""
    temporary = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    with os.fdopen(os.open(temporary, flags, 0o600 if private else 0o644), "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temporary, path)


def read_json(path: Path, expected_format: str) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ShelterError(f"cannot read {path}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != expected_format:
        got = document.get("format") if isinstance(document, dict) else None
        raise ShelterError(f"{path} is not a {expected_format} file (format {got!r})")
    return document


# Key generation and the public key file


class ShareSealer(Protocol):
    """One custodian's way of sealing their share: a passphrase or a key in a PKCS#11 token."""

    def seal(self, share: CustodianShare) -> dict[str, Any]:
        """Seal ``share`` into the document of a custodian file."""
        ...


@dataclass(frozen=True)
class PassphraseSealer:
    passphrase: str = field(repr=False)

    def seal(self, share: CustodianShare) -> dict[str, Any]:
        return seal_custodian_share(share, self.passphrase)


@dataclass(frozen=True)
class TokenSealer:
    ref: TokenKeyRef
    pin: str = field(repr=False)

    def seal(self, share: CustodianShare) -> dict[str, Any]:
        return seal_custodian_share_in_token(share, self.ref, self.pin)


def generate_shelter_key(
    custodians: int, threshold: int, sealers: Sequence[str | ShareSealer], out: Path
) -> PublicKey:
    """Create the shelter key pair and write ``shelter.pub`` and one file per custodian into ``out``.

    ``sealers`` contains one entry per custodian, in order: a passphrase string
    or a :class:`ShareSealer`. The private key never reaches disk in the
    clear: only its wrapped form and the sealed shares of the wrapping key
    are written. Every share is sealed before any file is written, so a
    wrong PIN or a missing token key leaves ``out`` untouched.
    """
    if not 1 <= threshold <= custodians <= 255:
        raise ShelterError(f"need 1 <= threshold <= custodians <= 255, got threshold {threshold} of {custodians}")
    if len(sealers) != custodians:
        raise ShelterError(f"need one passphrase or token per custodian: {custodians} custodians, {len(sealers)} given")
    private = PrivateKey.generate()
    public = private.public_key()

    wrapping_key = secrets.token_bytes(32)
    nonce = secrets.token_bytes(12)
    wrapped = nonce + AESGCM(wrapping_key).encrypt(nonce, private.raw, public.key_id.encode())
    low_shares = Shamir.split(threshold, custodians, wrapping_key[:16], ssss=False)
    high_shares = Shamir.split(threshold, custodians, wrapping_key[16:], ssss=False)

    documents: dict[int, dict[str, Any]] = {}
    for (index, low), (same_index, high), sealer in zip(low_shares, high_shares, sealers, strict=True):
        assert index == same_index
        share = CustodianShare(public.key_id, index, threshold, custodians, low + high, wrapped)
        documents[index] = (PassphraseSealer(sealer) if isinstance(sealer, str) else sealer).seal(share)

    out.mkdir(parents=True, exist_ok=True)
    write_public_key(out / "shelter.pub", public)
    for index, document in documents.items():
        write_json(out / f"custodian-{index}.json", document, private=True)
    return public


def write_public_key(path: Path, public: PublicKey) -> None:
    write_json(path, {"format": PUBLIC_FORMAT, "key_id": public.key_id, "public_key": public.raw.hex()})


def read_public_key(path: Path) -> PublicKey:
    document = read_json(path, PUBLIC_FORMAT)
    public = PublicKey(bytes.fromhex(document["public_key"]))
    if public.key_id != document["key_id"]:
        raise ShelterError(f"{path}: key id {document['key_id']} does not match the key ({public.key_id})")
    return public


# Custodian files


def _passphrase_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _share_context(share_key_id: str, index: int) -> bytes:
    return f"{CUSTODIAN_FORMAT}|{share_key_id}|{index}".encode()


def _file_fields(share: CustodianShare) -> dict[str, Any]:
    return {
        "format": CUSTODIAN_FORMAT,
        "key_id": share.key_id,
        "index": share.index,
        "threshold": share.threshold,
        "custodians": share.custodians,
        "wrapped_private_key": share.wrapped_private_key.hex(),
    }


def _share_from_file(document: dict[str, Any], share: bytes) -> CustodianShare:
    return CustodianShare(
        document["key_id"],
        document["index"],
        document["threshold"],
        document["custodians"],
        share,
        bytes.fromhex(document["wrapped_private_key"]),
    )


def seal_custodian_share(share: CustodianShare, passphrase: str) -> dict[str, Any]:
    """The custodian file for ``share``: the share bytes encrypted under the passphrase."""
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    key = _passphrase_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(key).encrypt(nonce, share.share, _share_context(share.key_id, share.index))
    return {
        **_file_fields(share),
        "sealed_with": SEALED_WITH_PASSPHRASE,
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()},
        "cipher": {"name": "aes-256-gcm", "nonce": nonce.hex(), "ciphertext": ciphertext.hex()},
    }


def seal_custodian_share_in_token(share: CustodianShare, ref: TokenKeyRef, pin: str) -> dict[str, Any]:
    """Encrypt the share with the token's AES key, inside the token, and return the custodian file document."""
    nonce, ciphertext = encrypt_in_token(ref, pin, share.share, _share_context(share.key_id, share.index))
    return {
        **_file_fields(share),
        "sealed_with": SEALED_WITH_PKCS11,
        "token": {"module_path": ref.module_path, "token_label": ref.token_label, "key_label": ref.key_label},
        "cipher": {"name": "aes-256-gcm", "nonce": nonce.hex(), "ciphertext": ciphertext.hex()},
    }


def custodian_token(path: Path) -> TokenKeyRef | None:
    """Return the token key that seals the share in custodian file ``path``, or None for a passphrase file."""
    document = read_json(path, CUSTODIAN_FORMAT)
    if document.get("sealed_with", SEALED_WITH_PASSPHRASE) != SEALED_WITH_PKCS11:
        return None
    token = document["token"]
    return TokenKeyRef(token["module_path"], token["token_label"], token["key_label"])


def open_custodian_file(path: Path, passphrase: str) -> CustodianShare:
    """Decrypt a passphrase custodian file; ShelterRejected(passphrase_wrong) on a wrong passphrase."""
    document = read_json(path, CUSTODIAN_FORMAT)
    if document.get("sealed_with", SEALED_WITH_PASSPHRASE) != SEALED_WITH_PASSPHRASE:
        raise ShelterError(f"{path} is sealed with a PKCS#11 token key, not a passphrase")
    kdf, cipher = document["kdf"], document["cipher"]
    key = _passphrase_key(passphrase, bytes.fromhex(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])
    try:
        share = AESGCM(key).decrypt(
            bytes.fromhex(cipher["nonce"]),
            bytes.fromhex(cipher["ciphertext"]),
            _share_context(document["key_id"], document["index"]),
        )
    except InvalidTag:
        raise ShelterRejected(errors.PASSPHRASE_WRONG, f"wrong passphrase for {path}, or the file was altered") from None
    return _share_from_file(document, share)


def open_token_custodian_file(path: Path, ref: TokenKeyRef, pin: str) -> CustodianShare:
    """Decrypt a token custodian file inside the token of ``ref`` (see :func:`custodian_token`).

    Raises ShelterRejected(pin_incorrect) on a wrong PIN and
    ShelterRejected(token_key_wrong) when the token's key does not open the share.
    """
    document = read_json(path, CUSTODIAN_FORMAT)
    if document.get("sealed_with") != SEALED_WITH_PKCS11:
        raise ShelterError(f"{path} is sealed with a passphrase, not a PKCS#11 token key")
    cipher = document["cipher"]
    share = decrypt_in_token(
        ref,
        pin,
        bytes.fromhex(cipher["nonce"]),
        bytes.fromhex(cipher["ciphertext"]),
        _share_context(document["key_id"], document["index"]),
    )
    return _share_from_file(document, share)


# Restore requests and released shares


@dataclass(frozen=True)
class RestoreRequest:
    """What custodians see of a restore: its id, the shelter key it needs, and where to seal shares."""

    request_id: str
    key_id: str
    public_key: PublicKey
    note: str = ""


def create_restore_request(key_id: str, out: Path, note: str = "") -> tuple[RestoreRequest, Path]:
    """Write ``restore-request.json`` (for custodians) and ``restore-request.key`` (operator only) into ``out``."""
    private = PrivateKey.generate()
    request = RestoreRequest(secrets.token_hex(16), key_id, private.public_key(), note)
    out.mkdir(parents=True, exist_ok=True)
    document = {
        "format": REQUEST_FORMAT,
        "request_id": request.request_id,
        "key_id": key_id,
        "public_key": request.public_key.raw.hex(),
        "note": note,
    }
    write_json(out / "restore-request.json", document)
    key_path = out / "restore-request.key"
    write_json(
        key_path,
        {"format": REQUEST_FORMAT + "-key", "request_id": request.request_id, "private_key": private.raw.hex()},
        private=True,
    )
    return request, key_path


def read_restore_request(path: Path) -> RestoreRequest:
    document = read_json(path, REQUEST_FORMAT)
    return RestoreRequest(
        document["request_id"], document["key_id"], PublicKey(bytes.fromhex(document["public_key"])), document["note"]
    )


def read_request_key(path: Path) -> tuple[str, PrivateKey]:
    document = read_json(path, REQUEST_FORMAT + "-key")
    return document["request_id"], PrivateKey(bytes.fromhex(document["private_key"]))


def _release_context(request_id: str, key_id: str) -> bytes:
    return f"{RELEASED_FORMAT}|{request_id}|{key_id}".encode()


def release_share(share: CustodianShare, request: RestoreRequest) -> dict[str, Any]:
    """Seal an opened share to a restore request; ShelterRejected if the request needs another key."""
    if share.key_id != request.key_id:
        raise ShelterRejected(
            errors.SHARE_FOREIGN_KEY,
            "this custodian file holds a share of another shelter key than the request needs",
            got=share.key_id,
            expected=request.key_id,
        )
    body = json.dumps(
        {
            "key_id": share.key_id,
            "index": share.index,
            "threshold": share.threshold,
            "custodians": share.custodians,
            "share": share.share.hex(),
            "wrapped_private_key": share.wrapped_private_key.hex(),
        },
        sort_keys=True,
    ).encode()
    sealed = seal(request.public_key, body, _release_context(request.request_id, share.key_id))
    return {
        "format": RELEASED_FORMAT,
        "request_id": request.request_id,
        "key_id": share.key_id,
        "index": share.index,
        "sealed": sealed.hex(),
    }


def open_released_share(path: Path, request_id: str, request_key: PrivateKey) -> CustodianShare:
    """Open a released share with the request's private key."""
    document = read_json(path, RELEASED_FORMAT)
    if document["request_id"] != request_id:
        raise ShelterRejected(
            errors.SHARE_WRONG_REQUEST,
            f"{path} was released for another restore request",
            got=document["request_id"],
            expected=request_id,
        )
    try:
        body = open_sealed(
            request_key, bytes.fromhex(document["sealed"]), _release_context(request_id, document["key_id"])
        )
    except SealError as error:
        raise ShelterRejected(errors.SHARE_INVALID, f"{path} cannot be opened with this request key: {error}") from None
    fields = json.loads(body)
    return CustodianShare(
        fields["key_id"],
        fields["index"],
        fields["threshold"],
        fields["custodians"],
        bytes.fromhex(fields["share"]),
        bytes.fromhex(fields["wrapped_private_key"]),
    )


def combine_shares(shares: list[CustodianShare], key_id: str) -> PrivateKey:
    """Rebuild the shelter private key of ``key_id`` from at least ``threshold`` shares.

    Raises ShelterRejected naming the rule: a share of another key
    (share_foreign_key), fewer shares than the threshold (too_few_shares),
    or shares that do not rebuild the key (share_invalid).
    """
    for share in shares:
        if share.key_id != key_id:
            raise ShelterRejected(
                errors.SHARE_FOREIGN_KEY,
                f"custodian share {share.index} belongs to another shelter key",
                got=share.key_id,
                expected=key_id,
            )
    distinct = {share.index: share for share in shares}
    threshold = max((share.threshold for share in shares), default=0)
    if not shares or len(distinct) < threshold:
        raise ShelterRejected(
            errors.TOO_FEW_SHARES,
            f"found {len(distinct)} custodian share(s), needed {threshold or 'the threshold'}",
            got=len(distinct),
            expected=threshold or None,
        )
    chosen = sorted(distinct.values(), key=lambda share: share.index)[:threshold]
    low = Shamir.combine([(share.index, share.share[:16]) for share in chosen], ssss=False)
    high = Shamir.combine([(share.index, share.share[16:]) for share in chosen], ssss=False)
    wrapped = chosen[0].wrapped_private_key
    try:
        raw = AESGCM(low + high).decrypt(wrapped[:12], wrapped[12:], key_id.encode())
    except InvalidTag:
        raise ShelterRejected(
            errors.SHARE_INVALID, "the custodian shares do not rebuild the shelter key; one of them is wrong"
        ) from None
    private = PrivateKey(raw)
    if private.public_key().key_id != key_id:
        raise ShelterRejected(errors.SHARE_INVALID, "the rebuilt key is not the shelter key", got=private.public_key().key_id, expected=key_id)
    return private

"""Node identities: TLS certificates bound to secp256k1 node keys.

A network has its own certificate authority (CA), kept offline, which
issues each node a TLS certificate for a P-256 key. The certificate
carries a *binding* extension: the node's address and its secp256k1
signature over the certificate's public key. A peer's identity is the
address recovered from that signature, so a certificate is accepted only
if it chains to the network CA and was requested by the holder of an
allowlisted node key. TLS itself cannot use secp256k1 keys (no TLS 1.3
signature scheme exists for that curve), hence the two keys.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_hash.auto import keccak

from node.chain.crypto import SignatureError, address_of_private_key, recover_address, sign_hash

#: Private-use OID of the binding extension.
BINDING_OID = x509.ObjectIdentifier("1.3.6.1.4.1.99999.4242.1")
_BINDING_DOMAIN = b"kura-p2p-tls-binding-v1"
CERT_VALIDITY_DAYS = 3650


class IdentityError(ValueError):
    """A certificate has no valid binding to a node key."""


def _binding_digest(public_key_der: bytes) -> bytes:
    return keccak(_BINDING_DOMAIN + public_key_der)


def _public_key_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_private(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class NetworkCA:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str = "Kura network CA") -> NetworkCA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=CERT_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(directory / "ca.key", _key_pem(self.key))
        (directory / "ca.pem").write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    @classmethod
    def load(cls, directory: Path) -> NetworkCA:
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"{directory / 'ca.key'} is not an EC private key")
        certificate = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        return cls(key, certificate)

    def issue(self, node_key: bytes, directory: Path, *, name: str = "kura-node") -> bytes:
        """Write ``node.key`` and ``node.pem`` for the node whose secp256k1 key is ``node_key``.

        Returns the node's address.
        """
        address = address_of_private_key(node_key)
        tls_key = ec.generate_private_key(ec.SECP256R1())
        public_der = tls_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        binding = address + sign_hash(node_key, _binding_digest(public_der))
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} 0x{address.hex()}")]))
            .issuer_name(self.certificate.subject)
            .public_key(tls_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=CERT_VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("kura-node")]), critical=False)
            .add_extension(x509.UnrecognizedExtension(BINDING_OID, binding), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(directory / "node.key", _key_pem(tls_key))
        (directory / "node.pem").write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
            + self.certificate.public_bytes(serialization.Encoding.PEM)
        )
        (directory / "ca.pem").write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return address


def address_from_certificate(certificate_der: bytes) -> bytes:
    """Return the node address bound into a peer's certificate; raise IdentityError if unbound or forged."""
    certificate = x509.load_der_x509_certificate(certificate_der)
    try:
        extension = certificate.extensions.get_extension_for_oid(BINDING_OID)
    except x509.ExtensionNotFound:
        raise IdentityError("peer certificate has no node key binding") from None
    binding = extension.value.value  # type: ignore[attr-defined]
    if len(binding) != 20 + 65:
        raise IdentityError(f"node key binding is {len(binding)} bytes, expected 85")
    claimed, signature = binding[:20], binding[20:]
    try:
        signer = recover_address(_binding_digest(_public_key_der(certificate)), signature)
    except SignatureError as error:
        raise IdentityError(f"node key binding signature invalid: {error}") from None
    if signer != claimed:
        raise IdentityError(f"node key binding names 0x{claimed.hex()} but was signed by 0x{signer.hex()}")
    return claimed

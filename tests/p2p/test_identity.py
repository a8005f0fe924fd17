"""Node certificates: the binding names the node key's address and cannot be moved."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from node.chain.crypto import address_of_private_key
from node.p2p.identity import IdentityError, NetworkCA, address_from_certificate

NODE_KEY = bytes.fromhex("22" * 32)


def _leaf_der(directory: Path) -> bytes:
    leaf = x509.load_pem_x509_certificates((directory / "node.pem").read_bytes())[0]
    return leaf.public_bytes(serialization.Encoding.DER)


def test_issued_certificate_names_node(tmp_path: Path) -> None:
    ca = NetworkCA.create()
    address = ca.issue(NODE_KEY, tmp_path / "tls")

    assert address == address_of_private_key(NODE_KEY)
    assert address_from_certificate(_leaf_der(tmp_path / "tls")) == address
    assert oct((tmp_path / "tls" / "node.key").stat().st_mode & 0o777) == "0o600"


def test_ca_round_trips_through_files(tmp_path: Path) -> None:
    NetworkCA.create().save(tmp_path / "ca")
    loaded = NetworkCA.load(tmp_path / "ca")
    address = loaded.issue(NODE_KEY, tmp_path / "tls")
    assert address_from_certificate(_leaf_der(tmp_path / "tls")) == address


def test_certificate_without_binding_rejected() -> None:
    ca = NetworkCA.create()
    with pytest.raises(IdentityError) as caught:
        address_from_certificate(ca.certificate.public_bytes(serialization.Encoding.DER))
    assert "no node key binding" in str(caught.value)


def test_binding_copied_to_other_key_rejected(tmp_path: Path) -> None:
    """A binding lifted into a certificate for another TLS key does not verify."""
    ca = NetworkCA.create()
    ca.issue(NODE_KEY, tmp_path / "a")
    ca.issue(bytes.fromhex("33" * 32), tmp_path / "b")
    original = x509.load_der_x509_certificate(_leaf_der(tmp_path / "a"))
    binding = original.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.99999.4242.1")).value
    other = x509.load_der_x509_certificate(_leaf_der(tmp_path / "b"))

    from cryptography.hazmat.primitives import hashes

    forged = (
        x509.CertificateBuilder()
        .subject_name(other.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(other.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(other.not_valid_before_utc)
        .not_valid_after(other.not_valid_after_utc)
        .add_extension(binding, critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    with pytest.raises(IdentityError) as caught:
        address_from_certificate(forged.public_bytes(serialization.Encoding.DER))
    assert "signed by" in str(caught.value)

"""A test certificate and XML-DSig signing of real CAP documents (as IPAWS signs them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import methods
from signxml.signer import XMLSigner


@dataclass(frozen=True)
class TestCertificate:
    key_pem: bytes
    cert_pem: bytes


def make_certificate(common_name: str = "Test CAP signer") -> TestCertificate:
    """A self-signed ECDSA P-256 certificate valid 2000..2099 (the samples' sent times are old)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2099, 1, 1, tzinfo=UTC))
            .sign(key, hashes.SHA256()))
    return TestCertificate(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()),
        cert.public_bytes(serialization.Encoding.PEM))


def sign_cap_xml(cap: bytes, cert: TestCertificate) -> bytes:
    """``cap`` with an enveloped XML-DSig signature over the whole alert (URI="")."""
    root = etree.fromstring(cap)
    signed = XMLSigner(method=methods.enveloped, signature_algorithm="ecdsa-sha256",
                       digest_algorithm="sha256").sign(root, key=cert.key_pem, cert=cert.cert_pem)
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


def embedded_certificate(cap: bytes) -> bytes:
    """The X.509 certificate a signed document carries in its KeyInfo, as PEM."""
    root = etree.fromstring(cap)
    text = root.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
    assert text, "the document carries no certificate"
    body = "".join(text.split())
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()

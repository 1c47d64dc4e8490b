"""XML-DSig signed CAP (as IPAWS sends it) verified with signxml against configured certificates."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cap.conftest import SAMPLES

from tocsin.cap import parse_alert
from tocsin.follow.xmldsig import XmlSignatureError, has_signature, verify_xml_signature

from .signing import embedded_certificate, make_certificate, sign_cap_xml

UNSIGNED = SAMPLES / "valid-1.2" / "us-nws_multiple-polygons-update.xml"
IPAWS = sorted((SAMPLES / "valid-1.2").glob("us-ipaws-*-signed.xml"))


def _verify(cap: bytes, *certs: bytes) -> str:
    alert = parse_alert(cap, strict=False).alert
    return verify_xml_signature(cap, alert, tuple(certs)).subject


def test_a_document_signed_with_the_test_certificate_verifies() -> None:
    cert = make_certificate()
    signed = sign_cap_xml(UNSIGNED.read_bytes(), cert)
    assert has_signature(signed) and not has_signature(UNSIGNED.read_bytes())
    assert _verify(signed, cert.cert_pem) == "CN=Test CAP signer"


def test_a_tampered_document_is_refused() -> None:
    cert = make_certificate()
    signed = sign_cap_xml(UNSIGNED.read_bytes(), cert)
    alert = parse_alert(signed, strict=False).alert
    headline = alert.info[0].headline
    assert headline and headline.encode() in signed
    tampered = signed.replace(headline.encode(), b"ALL CLEAR - no danger", 1)
    with pytest.raises(XmlSignatureError, match=r"[Dd]igest"):
        _verify(tampered, cert.cert_pem)


def test_a_signature_by_another_certificate_is_refused() -> None:
    signed = sign_cap_xml(UNSIGNED.read_bytes(), make_certificate("Someone else"))
    with pytest.raises(XmlSignatureError):
        _verify(signed, make_certificate().cert_pem)
    with pytest.raises(XmlSignatureError, match="no certificate"):
        _verify(signed)


@pytest.mark.parametrize("path", IPAWS, ids=[p.name for p in IPAWS])
def test_real_ipaws_alerts_verify_against_their_certificate_at_sent_time(path: Path) -> None:
    """FEMA IPAWS's own signatures (RSA-SHA256), checked when the alert was sent (the
    certificates have long expired since), and refused once one byte of content changes."""
    data = path.read_bytes()
    cert = embedded_certificate(data)
    assert "O=FEMA IPAWS" in _verify(data, cert)
    alert = parse_alert(data, strict=False).alert
    tampered = data.replace(alert.identifier.encode(), alert.identifier[:-1].encode() + b"X", 1)
    with pytest.raises(XmlSignatureError):
        _verify(tampered, cert)

"""An XML-DSig signed CAP document (as IPAWS and several national feeds send) checked with ``signxml``.

What a good signature here proves, and no more: the document's content is what the holder
of one of the certificates configured for the feed signed. It is not a Tocsin issuer's
statement, the registry does not know the signer, and no jurisdiction rule applies; the
alert is shown as "XML signature verified (certificate SUBJECT)", never as verified by
this hub's log.

Rules, so that a signature over something else cannot pass for one over the alert:

* the certificate must be one of the feed's configured certificates (``x509_cert``),
  valid at the alert's ``sent`` time (IPAWS certificates expire; an alert is judged when
  it was sent, as issuer keys are);
* exactly one reference, and it must be the whole document (enveloped, ``URI=""``): the
  element signxml returns as signed is the document's root ``alert``;
* the CAP read from the signed element equals the CAP read from the bytes (a second copy
  of the alert wrapped elsewhere changes nothing that is shown).

The bytes reach this module only after :func:`tocsin.cap.parse_alert` accepted them (no
DOCTYPE, no entities, bounded size and depth), and signxml is handed the same hardened
parser settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from lxml import etree
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from tocsin.cap import CapError, parse_alert
from tocsin.cap.model import Alert, parse_cap_time

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"


class CertificateError(ValueError):
    """A configured certificate file is not one PEM X.509 certificate."""


class XmlSignatureError(ValueError):
    """The document's XML signature does not verify against any configured certificate."""


@dataclass(frozen=True, slots=True)
class XmlSignature:
    """A verified XML signature: who the certificate names."""

    subject: str


def load_certificate(pem: bytes) -> bytes:
    """Check ``pem`` holds one X.509 certificate; return it (PEM)."""
    try:
        x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM X.509 certificate ({exc})") from None
    return pem


def has_signature(cap: bytes) -> bool:
    """Whether the document carries an XML-DSig ``Signature`` (cheap: a byte search first)."""
    return DSIG_NS.encode() in cap


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, collect_ids=False)


def verify_xml_signature(cap: bytes, alert: Alert, certificates: tuple[bytes, ...]) -> XmlSignature:
    """The signature's certificate subject if it verifies; else :class:`XmlSignatureError`."""
    if not certificates:
        raise XmlSignatureError("no certificate is configured for this feed")
    try:
        when = parse_cap_time(alert.sent)
    except ValueError as exc:
        raise XmlSignatureError(f"sent time is unusable: {exc}") from None
    config = SignatureConfiguration(expect_references=1, verification_time=when)
    reasons: list[str] = []
    for pem in certificates:
        subject = x509.load_pem_x509_certificate(pem).subject.rfc4514_string()
        try:
            result = XMLVerifier().verify(cap, x509_cert=pem.decode("ascii"), parser=_parser(),
                                          expect_config=config)
        except (InvalidSignature, InvalidInput) as exc:
            reasons.append(f"{subject}: {exc}")
            continue
        except (ValueError, TypeError, etree.LxmlError) as exc:  # malformed signature parts
            reasons.append(f"{subject}: {type(exc).__name__}: {exc}")
            continue
        signed = result.signed_xml if not isinstance(result, list) else None
        if signed is None or etree.QName(signed).localname != "alert":
            raise XmlSignatureError("the signature does not cover the whole alert")
        try:
            signed_alert = parse_alert(etree.tostring(signed), strict=False).alert
        except CapError as exc:
            raise XmlSignatureError(f"the signed element is not the alert: {exc}") from None
        if _without_signature(signed_alert) != _without_signature(alert):
            raise XmlSignatureError("the signed alert differs from the document's alert")
        return XmlSignature(subject)
    raise XmlSignatureError("; ".join(reasons)[:1000])


def _without_signature(alert: Alert) -> Alert:
    import msgspec

    return msgspec.structs.replace(alert, signature=())


__all__ = ["CertificateError", "XmlSignature", "XmlSignatureError", "has_signature",
           "load_certificate", "verify_xml_signature"]



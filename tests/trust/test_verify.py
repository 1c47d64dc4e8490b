"""The offline verifier's four verdicts, each for the reason the docs give."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tocsin.regions import default_region_set
from tocsin.trust.note import Signer, sign_note
from tocsin.trust.registry import NATIONWIDE, IssuerKey, Registry
from tocsin.trust.statement import Statement
from tocsin.trust.verify import Verdict, VerifyInputError, verify_alert

from .alerts import (
    KYIV_CITY,
    KYIV_OBLAST,
    LVIV_OBLAST_ISO,
    area_xml,
    cap_xml,
    oblast_issuer,
    registry_with,
)
from .conftest import CAP_SAMPLES

ROOT = Signer.generate("tocsin.example/registry-root")
REGIONS = default_region_set()


def sign(cap: bytes, signer: Signer, **overrides: str) -> bytes:
    fields = {"identifier": "UA-KOVA-2026-0001", "sender": "alerts@koda.gov.ua",
              "sent": "2026-11-25T14:00:00+02:00"}
    fields.update(overrides)
    statement = Statement.for_cap(cap, issuer=signer.name, key_id=signer.key_id, **fields)
    return statement.sign(signer)


@pytest.fixture
def kova() -> Signer:
    return Signer.generate("ua.kova")


@pytest.fixture
def registry(kova: Signer) -> Registry:
    return registry_with(ROOT, oblast_issuer(kova))


def check(cap: bytes, sig: bytes, registry: Registry, **kw: object) -> Verdict:
    return verify_alert(cap, sig, registry, regions=REGIONS, **kw)  # type: ignore[arg-type]


def test_authentic(kova: Signer, registry: Registry) -> None:
    cap = cap_xml()
    verdict = check(cap, sign(cap, kova), registry)
    assert verdict.status == "authentic", verdict.reason
    assert verdict.issuer_id == "ua.kova" and verdict.key_id == kova.key_id
    assert verdict.alert is not None and verdict.alert.identifier == "UA-KOVA-2026-0001"


def test_every_single_byte_change_is_altered(kova: Signer, registry: Registry) -> None:
    cap = cap_xml()
    sig = sign(cap, kova)
    for i in range(0, len(cap), 7):
        tampered = cap[:i] + bytes([cap[i] ^ 0x01]) + cap[i + 1 :]
        verdict = check(tampered, sig, registry)
        assert verdict.status == "altered", (i, verdict.reason)


def test_statement_fields_must_match_the_cap(kova: Signer, registry: Registry) -> None:
    cap = cap_xml()
    verdict = check(cap, sign(cap, kova, identifier="UA-KOVA-2026-0002"), registry)
    assert verdict.status == "altered" and "identifier" in verdict.reason


def test_unknown_key_and_bad_signature_are_forged(kova: Signer, registry: Registry) -> None:
    cap = cap_xml()
    impostor = Signer.generate("ua.kova")  # same name, different key
    verdict = check(cap, sign(cap, impostor), registry)
    assert verdict.status == "forged" and "not in the registry" in verdict.reason
    good = sign(cap, kova)
    text, sigline = good.decode().split("\n\n")
    forged = (text.replace("UA-KOVA-2026-0001", "UA-KOVA-2026-0009") + "\n\n" + sigline).encode()
    verdict = check(cap, forged, registry)
    assert verdict.status == "forged" and "bad signature" in verdict.reason


def test_statement_naming_another_issuer_is_forged(kova: Signer) -> None:
    other = Signer.generate("ua.lova")
    registry = registry_with(ROOT, oblast_issuer(kova),
                             oblast_issuer(other, senders=("alerts@lviv.gov.ua",)))
    cap = cap_xml()
    statement = Statement.for_cap(cap, issuer="ua.kova", key_id=kova.key_id,
                                  identifier="UA-KOVA-2026-0001", sender="alerts@koda.gov.ua",
                                  sent="2026-11-25T14:00:00+02:00")
    verdict = check(cap, sign_note(statement.text(), [other]), registry)
    assert verdict.status == "forged" and "claims key ua.kova" in verdict.reason


@pytest.mark.parametrize(
    "areas",
    [
        [area_xml("Львівська область", [("ISO3166-2", LVIV_OBLAST_ISO)])],
        [area_xml("Київ", [("KATOTTG", KYIV_CITY)])],  # the city is not inside the oblast
        [area_xml("ok", [("KATOTTG", KYIV_OBLAST)]),
         area_xml("Львів", [("KATOTTG", "UA46000000000026241")])],
        [area_xml("polygon over Lviv", [], polygon="49.8,24.0 49.9,24.1 49.8,24.2 49.8,24.0")],
        [area_xml("nonsense", [("KATOTTG", "UA99999999999999999")])],
    ],
)
def test_outside_the_jurisdiction_is_unauthorised(
    kova: Signer, registry: Registry, areas: list[str]
) -> None:
    cap = cap_xml(areas=areas)
    verdict = check(cap, sign(cap, kova), registry)
    assert verdict.status == "unauthorised", verdict.reason


def test_iso_code_and_other_geocodes_inside(kova: Signer, registry: Registry) -> None:
    cap = cap_xml(areas=[area_xml("Київська область", [("ISO3166-2", "UA-32"), ("SAME", "x")])])
    assert check(cap, sign(cap, kova), registry).status == "authentic"


def test_nationwide_issuer_may_send_shapes(kova: Signer) -> None:
    registry = registry_with(ROOT, oblast_issuer(kova, jurisdiction=(NATIONWIDE,)))
    cap = cap_xml(areas=[area_xml("p", [], polygon="50.1,30.1 50.2,30.2 50.1,30.3 50.1,30.1")])
    assert check(cap, sign(cap, kova), registry).status == "authentic"


def test_wrong_or_missing_kind_is_unauthorised(kova: Signer, registry: Registry) -> None:
    for kind in ("missile", None):
        cap = cap_xml(kind=kind)
        verdict = check(cap, sign(cap, kova), registry)
        assert verdict.status == "unauthorised" and "kind" in verdict.reason


def test_key_validity_is_judged_at_sent(kova: Signer, registry: Registry) -> None:
    early = "2025-06-01T10:00:00+03:00"  # before the key's not_before (2026-01-01)
    cap = cap_xml(sent=early)
    verdict = check(cap, sign(cap, kova, sent=early), registry)
    assert verdict.status == "unauthorised" and "not valid before" in verdict.reason

    cutoff = datetime(2026, 11, 25, 13, tzinfo=UTC)
    revoked = registry.with_key_revoked("ua.kova", kova.key_id, cutoff)
    cap = cap_xml()  # sent 12:00 UTC, before the revocation: still valid ...
    sig = sign(cap, kova)
    assert check(cap, sig, revoked).status == "authentic"
    # ... unless it was only seen after the revocation (a stolen key can backdate `sent`).
    late = check(cap, sig, revoked, at=datetime(2026, 11, 25, 14, tzinfo=UTC))
    assert late.status == "unauthorised" and "revoked" in late.reason
    after = "2026-11-25T16:00:00+02:00"
    cap = cap_xml(sent=after)
    verdict = check(cap, sign(cap, kova, sent=after), revoked)
    assert verdict.status == "unauthorised" and "revoked" in verdict.reason


def test_signed_non_cap_is_unauthorised(kova: Signer, registry: Registry) -> None:
    junk = b"<not-cap/>"
    assert check(junk, sign(junk, kova), registry).status == "unauthorised"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[: len(s) // 2],
        lambda s: s.replace(b"\xe2\x80\x94 ua.kova ", b"\xe2\x80\x94 ua.kova !"),
        lambda s: b"",
        lambda s: s.rstrip(b"\n"),
        lambda s: b"\xff\xfe" + s,
    ],
)
def test_unusable_signatures_raise(kova: Signer, registry: Registry, mangle: object) -> None:
    cap = cap_xml()
    with pytest.raises(VerifyInputError):
        check(cap, mangle(sign(cap, kova)), registry)  # type: ignore[operator]


def test_signed_non_statement_is_unusable(kova: Signer, registry: Registry) -> None:
    with pytest.raises(VerifyInputError, match="not an alert statement"):
        check(cap_xml(), sign_note("hello\n", [kova]), registry)


def test_without_regions_the_default_region_set_judges(kova: Signer, registry: Registry) -> None:
    cap = cap_xml()  # a raion inside the oblast: the hierarchy says so
    assert verify_alert(cap, sign(cap, kova), registry).status == "authentic"
    inside = cap_xml(areas=[area_xml("polygon only", [],
                                     polygon="50.1,30.1 50.2,30.2 50.1,30.3 50.1,30.1")])
    verdict = verify_alert(inside, sign(inside, kova), registry)
    assert verdict.status == "authentic", verdict.reason  # a shape inside the oblast


def _bare(msg_type: str, references: str | None) -> bytes:
    refs = f"<references>{references}</references>" if references else ""
    return (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        "<identifier>UA-KOVA-2026-0002</identifier><sender>alerts@koda.gov.ua</sender>"
        "<sent>2026-11-25T14:05:00+02:00</sent><status>Actual</status>"
        f"<msgType>{msg_type}</msgType><scope>Public</scope>{refs}</alert>"
    ).encode()


def test_bare_cancel_of_own_alert_only(kova: Signer, registry: Registry) -> None:
    fields = {"identifier": "UA-KOVA-2026-0002", "sent": "2026-11-25T14:05:00+02:00"}
    own = _bare("Cancel", "alerts@koda.gov.ua,UA-KOVA-2026-0001,2026-11-25T14:00:00+02:00")
    verdict = check(own, sign(own, kova, **fields), registry)
    assert verdict.status == "authentic", verdict.reason
    foreign = _bare("Cancel", "alerts@lviv.gov.ua,UA-LOVA-1,2026-11-25T14:00:00+02:00")
    verdict = check(foreign, sign(foreign, kova, **fields), registry)
    assert verdict.status == "unauthorised" and "own alerts" in verdict.reason
    nothing = _bare("Cancel", None)
    assert check(nothing, sign(nothing, kova, **fields), registry).status == "unauthorised"
    bare_alert = _bare("Alert", None)
    verdict = check(bare_alert, sign(bare_alert, kova, **fields), registry)
    assert verdict.status == "unauthorised" and "kind" in verdict.reason


def test_real_signed_cap_sample_is_verified_byte_for_byte(kova: Signer) -> None:
    """A real IPAWS Cancel (with an enveloped XML-DSig, which carries no trust here)."""
    path = CAP_SAMPLES / "valid-1.2" / "us-ipaws-nv-dps_cancel-no-info-signed.xml"
    cap = path.read_bytes()
    fields = {"identifier": "AS-NV-58d33e3a-1f9a-4909-9d59-34e90b33b3e8",
              "sender": "bbrundage@dps.state.nv.us", "sent": "2019-04-19T11:46:20-06:00"}
    old_key = IssuerKey(kova.verifier(), datetime(2019, 1, 1, tzinfo=UTC))
    registry = registry_with(ROOT, oblast_issuer(kova, keys=(old_key,),
                                                 senders=("bbrundage@dps.state.nv.us",)))
    sig = sign(cap, kova, **fields)
    assert check(cap, sig, registry).status == "authentic"
    # Re-indenting or re-serialising the XML is an alteration, even if the CAP means the same.
    assert check(cap.replace(b"><", b">\n<", 1), sig, registry).status == "altered"

"""Builders for the CAP documents and registries the trust tests sign and verify."""

from __future__ import annotations

from datetime import UTC, datetime

from tocsin.trust.note import Signer
from tocsin.trust.registry import NATIONWIDE, Issuer, IssuerKey, Registry

KYIV_OBLAST = "UA32000000000030281"
KYIV_CITY = "UA80000000000093317"
BORYSPIL_RAION = "UA32040000000054694"  # inside Kyiv oblast
LVIV_OBLAST_ISO = "UA-46"


def area_xml(desc: str, geocodes: list[tuple[str, str]], polygon: str | None = None) -> str:
    codes = "".join(
        f"<geocode><valueName>{n}</valueName><value>{v}</value></geocode>" for n, v in geocodes
    )
    shape = f"<polygon>{polygon}</polygon>" if polygon else ""
    return f"<area><areaDesc>{desc}</areaDesc>{shape}{codes}</area>"


def cap_xml(
    *,
    identifier: str = "UA-KOVA-2026-0001",
    sender: str = "alerts@koda.gov.ua",
    sent: str = "2026-11-25T14:00:00+02:00",
    kind: str | None = "air-raid",
    areas: list[str] | None = None,
) -> bytes:
    """A valid CAP 1.2 air-raid alert (Ukrainian) for the given areas."""
    if areas is None:
        areas = [area_xml("Бориспільський район", [("KATOTTG", BORYSPIL_RAION)])]
    code = (
        f"<eventCode><valueName>TOCSIN</valueName><value>{kind}</value></eventCode>"
        if kind
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n'
        f"  <identifier>{identifier}</identifier>\n"
        f"  <sender>{sender}</sender>\n"
        f"  <sent>{sent}</sent>\n"
        "  <status>Actual</status>\n  <msgType>Alert</msgType>\n  <scope>Public</scope>\n"
        "  <info>\n    <language>uk-UA</language>\n    <category>Security</category>\n"
        "    <event>Повітряна тривога</event>\n    <responseType>Shelter</responseType>\n"
        "    <urgency>Immediate</urgency>\n    <severity>Extreme</severity>\n"
        "    <certainty>Observed</certainty>\n"
        f"    {code}\n"
        "    <headline>Повітряна тривога! Пройдіть в укриття.</headline>\n"
        f"    {''.join(areas)}\n"
        "  </info>\n</alert>\n"
    ).encode()


def oblast_issuer(signer: Signer, **changes: object) -> Issuer:
    """Kyiv oblast administration: air-raid and all-clear, Kyiv oblast only."""
    key = IssuerKey(signer.verifier(), not_before=datetime(2026, 1, 1, tzinfo=UTC))
    fields: dict[str, object] = dict(
        id=signer.name,
        name_uk="Київська обласна військова адміністрація",
        name_en="Kyiv Oblast Military Administration",
        aliases_uk=("КОВА",),
        aliases_en=("KOVA",),
        kinds=frozenset({"air-raid", "all-clear"}),
        jurisdiction=(KYIV_OBLAST,),
        keys=(key,),
        senders=("alerts@koda.gov.ua",),
    )
    fields.update(changes)
    return Issuer(**fields)  # type: ignore[arg-type]


def registry_with(root: Signer, *issuers: Issuer) -> Registry:
    registry = Registry.empty(root.verifier())
    for issuer in issuers:
        registry = registry.with_issuer(issuer)
    return registry


__all__ = ["NATIONWIDE", "area_xml", "cap_xml", "oblast_issuer", "registry_with"]

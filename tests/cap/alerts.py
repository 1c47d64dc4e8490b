"""A Tocsin-style CAP 1.2 alert written for these tests, with knobs to break it."""

from __future__ import annotations

NS = "urn:oasis:names:tc:emergency:cap:1.2"

INFO = """  <info>
    <language>uk-UA</language>
    <category>Security</category>
    <event>Повітряна тривога</event>
    <responseType>Shelter</responseType>
    <urgency>Immediate</urgency>
    <severity>Extreme</severity>
    <certainty>Observed</certainty>
    <eventCode><valueName>TOCSIN</valueName><value>air-raid</value></eventCode>
    <effective>{effective}</effective>
    <expires>{expires}</expires>
    <senderName>Київська ОВА</senderName>
    <headline>Повітряна тривога в Київській області</headline>
    <description>Негайно прямуйте до найближчого укриття.</description>
    <parameter><valueName>layer</valueName><value>1</value></parameter>
    <area>
      <areaDesc>Київська область</areaDesc>
{geometry}      <geocode><valueName>KATOTTG</valueName><value>UA32000000000030281</value></geocode>
{altitude}    </area>
  </info>
"""


def alert_xml(
    *,
    identifier: str = "ua-kyiv-ova-2024-000123",
    sender: str = "kyiv-ova@tocsin.example",
    sent: str = "2024-05-01T12:00:00+03:00",
    status: str = "Actual",
    msg_type: str = "Alert",
    scope: str = "Public",
    extra_alert: str = "",
    effective: str = "2024-05-01T12:00:00+03:00",
    expires: str = "2024-05-01T14:00:00+03:00",
    geometry: str = "",
    altitude: str = "",
    info: bool = True,
    tail: str = "",
) -> bytes:
    """The alert as UTF-8 bytes; each keyword replaces one part verbatim."""
    body = INFO.format(effective=effective, expires=expires, geometry=geometry, altitude=altitude)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<alert xmlns="{NS}">\n'
        f"  <identifier>{identifier}</identifier>\n"
        f"  <sender>{sender}</sender>\n"
        f"  <sent>{sent}</sent>\n"
        f"  <status>{status}</status>\n"
        f"  <msgType>{msg_type}</msgType>\n"
        f"  <scope>{scope}</scope>\n"
        f"{extra_alert}"
        f"{body if info else ''}"
        f"{tail}"
        "</alert>\n"
    )
    return text.encode("utf-8")


def polygon(text: str) -> str:
    return f"      <polygon>{text}</polygon>\n"


def circle(text: str) -> str:
    return f"      <circle>{text}</circle>\n"

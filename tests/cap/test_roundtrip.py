"""XML -> model -> JSON -> model -> XML keeps every value, for real and generated alerts."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from tests.cap.conftest import sample_params

from tocsin.cap import from_json, parse_alert, to_json, to_xml
from tocsin.cap import model as m
from tocsin.cap.parse import _schema
from tocsin.cap.write import cap_namespace


def _as_12(alert: m.Alert) -> m.Alert:
    return msgspec.structs.replace(alert, source_version="1.2")


@pytest.mark.parametrize("path", sample_params("valid-1.2") + sample_params("cap-1.1"))
def test_sample_round_trip_keeps_every_value(path: Path) -> None:
    original = parse_alert(path.read_bytes(), strict=False).alert
    via_json = from_json(to_json(original))
    assert via_json == original
    xml = to_xml(via_json)
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<alert")
    if cap_namespace(original) == m.CAP11_NS:  # CAP 1.1 only: a resource without mimeType
        assert etree.fromstring(xml).tag == f"{{{m.CAP11_NS}}}alert"
        assert parse_alert(xml, strict=False).alert == original
        return
    assert _schema().validate(etree.fromstring(xml).getroottree())
    again = parse_alert(xml, strict=False)
    assert again.alert == _as_12(original)
    assert again.warnings == ()
    assert to_xml(again.alert) == xml  # writing is deterministic


# --- generated alerts -------------------------------------------------------------

# XML 1.0 characters, minus CR (XML parsers normalise a literal CR to LF).
_TEXT = st.lists(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from(["\n", "\t", "<", "&", ">", '"', "]]>", " "]),
    max_size=20,
).map("".join)
_TOKEN = st.from_regex(r"[A-Za-z0-9@._:\-]{1,20}", fullmatch=True)
_HOUR = st.integers(0, 9)
_OFFSETS = st.sampled_from(["+03:00", "-05:00", "+00:00", "+05:30", "-00:00"])


def _time(hour: int, offset: str = "+03:00") -> str:
    return f"2024-05-01T1{hour}:00:00{offset}"


_PAIR = st.builds(m.ValuePair, value_name=_TEXT, value=_TEXT)
_DEC = st.decimals(min_value=-89, max_value=89, places=4, allow_nan=False)


@st.composite
def _polygon(draw: st.DrawFn) -> m.Polygon:
    points = draw(st.lists(st.tuples(_DEC, _DEC), min_size=3, max_size=8))
    points.append(points[0])
    text = " ".join(f"{lat},{lon}" for lat, lon in points)
    return m.Polygon(points=tuple((float(a), float(b)) for a, b in points), text=text)


@st.composite
def _circle(draw: st.DrawFn) -> m.Circle:
    lat, lon = draw(_DEC), draw(_DEC)
    radius = draw(st.decimals(min_value=0, max_value=500, places=2, allow_nan=False))
    text = f"{lat},{lon} {radius}"
    return m.Circle(lat=float(lat), lon=float(lon), radius_km=float(radius), text=text)


@st.composite
def _area(draw: st.DrawFn) -> m.Area:
    altitude = draw(st.none() | st.decimals(-100, 1000, places=1, allow_nan=False))
    ceiling = None
    if altitude is not None and draw(st.booleans()):
        ceiling = altitude + draw(st.decimals(0, 100, places=1, allow_nan=False))
    return m.Area(
        area_desc=draw(_TEXT),
        polygon=tuple(draw(st.lists(_polygon(), max_size=2))),
        circle=tuple(draw(st.lists(_circle(), max_size=2))),
        geocode=tuple(draw(st.lists(_PAIR, max_size=3))),
        altitude=None if altitude is None else float(altitude),
        altitude_text=None if altitude is None else str(altitude),
        ceiling=None if ceiling is None else float(ceiling),
        ceiling_text=None if ceiling is None else str(ceiling),
    )


@st.composite
def _info(draw: st.DrawFn) -> m.Info:
    given = draw(st.booleans())
    start = draw(_HOUR)  # effective hour; sent is 10:00+03:00, onset an hour after
    optional = st.none() | _TEXT
    return m.Info(
        language=draw(st.sampled_from(["uk-UA", "en-US", "fr-CA"])) if given else "en-US",
        language_given=given,
        category=tuple(draw(st.lists(st.sampled_from(m.CATEGORIES), min_size=1, max_size=3))),
        event=draw(_TEXT.filter(str.strip)),
        response_type=tuple(draw(st.lists(st.sampled_from(m.RESPONSE_TYPES), max_size=2))),
        urgency=draw(st.sampled_from(m.URGENCIES)),
        severity=draw(st.sampled_from(m.SEVERITIES)),
        certainty=draw(st.sampled_from(m.CERTAINTIES)),
        audience=draw(optional),
        event_code=tuple(draw(st.lists(_PAIR, max_size=2))),
        effective=draw(st.none() | st.just(_time(start))),
        onset=draw(st.none() | st.just(_time(start, "+02:00"))),
        expires=draw(st.none() | st.builds(_time, st.integers(start + 1, 9), st.just("+03:00")))
        if start < 9
        else None,
        sender_name=draw(optional),
        headline=draw(optional),
        description=draw(optional),
        instruction=draw(optional),
        web=draw(st.none() | st.just("https://tocsin.example/a?x=1&y=2")),
        contact=draw(optional),
        parameter=tuple(draw(st.lists(_PAIR, max_size=3))),
        resource=tuple(
            draw(
                st.lists(
                    st.builds(
                        m.Resource,
                        resource_desc=_TEXT,
                        mime_type=st.just("image/png"),
                        size=st.none() | st.integers(0, 10**12),
                        uri=st.none() | st.just("https://tocsin.example/r.png"),
                        deref_uri=st.none() | st.just("aGVsbG8="),
                        digest=st.none() | st.just("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"),
                    ),
                    max_size=2,
                )
            )
        ),
        area=tuple(draw(st.lists(_area(), max_size=3))),
    )


@st.composite
def alerts(draw: st.DrawFn) -> m.Alert:
    msg_type = draw(st.sampled_from(m.MSG_TYPES))
    scope = draw(st.sampled_from(m.SCOPES))
    references: tuple[m.Reference, ...] = ()
    if msg_type in ("Update", "Cancel") or draw(st.booleans()):
        references = tuple(
            draw(st.lists(st.builds(m.Reference, sender=_TOKEN, identifier=_TOKEN,
                                    sent=st.builds(_time, _HOUR, _OFFSETS)), min_size=1,
                          max_size=3))
        )
    return m.Alert(
        identifier=draw(_TOKEN),
        sender=draw(_TOKEN),
        sent=_time(0),
        status=draw(st.sampled_from(m.STATUSES)),
        msg_type=msg_type,
        source=draw(st.none() | _TEXT),
        scope=scope,
        restriction=draw(_TEXT.filter(str.strip)) if scope == "Restricted" else None,
        addresses=draw(_TEXT.filter(str.strip)) if scope == "Private" else None,
        code=tuple(draw(st.lists(_TEXT, max_size=2))),
        note=draw(st.none() | _TEXT),
        references=references,
        incidents=draw(st.none() | _TEXT),
        info=tuple(draw(st.lists(_info(), max_size=3))),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alerts())
def test_generated_alerts_round_trip_through_xml_and_json(alert: m.Alert) -> None:
    xml = to_xml(alert)
    parsed = parse_alert(xml, strict=False)
    assert parsed.alert == alert
    assert parsed.warnings == ()
    assert from_json(to_json(alert)) == alert
    assert parse_alert(to_xml(from_json(to_json(parsed.alert))), strict=False).alert == alert

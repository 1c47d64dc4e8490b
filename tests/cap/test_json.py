"""The JSON mapping: CAP element names as keys, and JSON held to the XML rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.cap.alerts import alert_xml, circle, polygon

from tocsin.cap import (
    CapError,
    circle_from,
    from_json,
    parse_alert,
    polygon_from_points,
    to_json,
)
from tocsin.cap.geo import parse_circle, parse_polygon

DOC = Path(__file__).parents[2] / "docs" / "cap-json.md"


def _json_of(data: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(to_json(parse_alert(data, strict=False).alert))
    return document


def _refused(document: dict[str, Any], expected: str, *, strict: bool = False) -> None:
    with pytest.raises(CapError) as caught:
        from_json(json.dumps(document).encode(), strict=strict)
    assert expected in str(caught.value)


def test_keys_are_cap_element_names() -> None:
    document = _json_of(
        alert_xml(geometry=polygon("50,30 51,30 51,31 50,30") + circle("50.45,30.52 10"),
                  altitude="      <altitude>100</altitude>\n")
    )
    assert {"identifier", "sender", "sent", "status", "msgType", "scope", "info"} <= set(document)
    info = document["info"][0]
    assert info["language"] == "uk-UA" and info["languageGiven"] is True
    assert info["eventCode"] == [{"valueName": "TOCSIN", "value": "air-raid"}]
    area = info["area"][0]
    assert area["areaDesc"] == "Київська область"
    assert area["polygon"][0]["points"][0] == [50.0, 30.0]
    assert area["circle"] == [{"lat": 50.45, "lon": 30.52, "radiusKm": 10.0,
                               "text": "50.45,30.52 10"}]
    assert (area["altitude"], area["altitudeText"]) == (100.0, "100")
    assert "sourceVersion" not in document and "note" not in document


def test_the_documented_example_is_valid_strict() -> None:
    block = re.search(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    alert = from_json(block.group(1).encode(), strict=True)
    assert alert.info[0].event_code[0].value == "air-raid"


def test_geometry_must_agree_with_its_text() -> None:
    document = _json_of(alert_xml(geometry=circle("50.45,30.52 10")))
    document["info"][0]["area"][0]["circle"][0]["radiusKm"] = 20.0
    _refused(document, "/alert/info[1]/area[1]/circle[1]: expected lat, lon, radiusKm matching")
    document = _json_of(alert_xml(geometry=polygon("50,30 51,30 51,31 50,30")))
    document["info"][0]["area"][0]["polygon"][0]["points"][1] = [0.0, 0.0]
    _refused(document, "/alert/info[1]/area[1]/polygon[1]: expected points matching text")


def test_altitude_needs_its_text() -> None:
    document = _json_of(alert_xml(altitude="      <altitude>100</altitude>\n"))
    del document["info"][0]["area"][0]["altitudeText"]
    _refused(document, "expected altitude and altitudeText, agreeing")


def test_language_needs_language_given() -> None:
    document = _json_of(alert_xml())
    del document["info"][0]["languageGiven"]
    _refused(document, "/alert/info[1]/language: expected languageGiven")


def test_json_is_held_to_the_xml_rules() -> None:
    document = _json_of(alert_xml())
    document["info"][0]["area"][0]["polygon"] = [
        {"points": [[95.0, 30.0]] * 4, "text": "95,30 95,30 95,30 95,30"}
    ]
    _refused(document, "latitude in [-90, 90]")
    document = _json_of(alert_xml())
    document["sent"] = "2024-05-01T09:00:00Z"
    assert from_json(json.dumps(document).encode()).sent == "2024-05-01T09:00:00Z"
    _refused(document, "/alert/sent: expected a time like", strict=True)


def test_text_that_xml_cannot_carry_is_refused() -> None:
    document = _json_of(alert_xml())
    document["info"][0]["description"] = "bell \x07"
    _refused(document, "cannot write as XML")


def test_json_round_trip_keeps_cap11_origin(tmp_path: Path) -> None:
    data = alert_xml().replace(b"cap:1.2", b"cap:1.1")
    alert = parse_alert(data, strict=False).alert
    assert alert.source_version == "1.1"
    assert json.loads(to_json(alert))["sourceVersion"] == "1.1"
    assert from_json(to_json(alert)) == alert


_COORD = st.floats(min_value=-90, max_value=90, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(_COORD, _COORD), min_size=3, max_size=10))
def test_polygon_from_points_reads_back_exactly(points: list[tuple[float, float]]) -> None:
    made = polygon_from_points(points)
    assert made.points[0] == made.points[-1]
    assert parse_polygon(made.text) == made
    assert "e" not in made.text.lower()


@given(_COORD, _COORD, st.floats(min_value=0, max_value=20000, allow_nan=False))
def test_circle_from_reads_back_exactly(lat: float, lon: float, radius: float) -> None:
    made = circle_from(lat, lon, radius)
    assert parse_circle(made.text) == made

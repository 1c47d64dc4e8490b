"""CAP as JSON: the model's structure with CAP's own element names.

The mapping (``docs/cap-json.md``) is msgspec's encoding of the model:
element names as keys, repeated elements as arrays under their singular
name, absent optional elements omitted, geometry as numbers *and* its exact
text. Reading JSON back holds it to every rule XML is held to, by writing the
alert as XML and parsing that, so JSON cannot smuggle in what XML would refuse.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import msgspec

from tocsin.cap.errors import DEFAULT_LIMITS, CapError, ParseLimits, Problem
from tocsin.cap.geo import GeometryError, parse_circle, parse_decimal, parse_polygon
from tocsin.cap.model import (
    Alert,
    Area,
    Circle,
    Info,
    Polygon,
    Reference,
    Resource,
    ValuePair,
)
from tocsin.cap.parse import parse_alert
from tocsin.cap.write import to_xml

#: The JSON form of a document is larger than its XML: each polygon and circle is held as
#: numbers *and* as its exact text, and JSON escapes quotes, backslashes and line breaks
#: (measured: about 2.1x for a polygon-heavy signed IPAWS alert; 2x is the bound for text
#: made only of characters JSON escapes). So ``limits.max_bytes``, which bounds a document
#: as XML, allows this many times as many bytes of JSON; the XML written from the JSON is
#: then read within the same allowance (its indentation adds to the original's size), with
#: depth and breadth limits unchanged. Whatever ``tocsin cap convert`` writes as JSON
#: therefore converts back with the same limits.
JSON_BYTES_PER_XML_BYTE = 4

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Alert)
_AT = re.compile(r" - at `\$(.*)`\Z")
_INDEX = re.compile(r"\[(\d+)\]")


def to_json(alert: Alert) -> bytes:
    """The JSON form of ``alert`` (UTF-8, compact, keys in model order)."""
    return _ENCODER.encode(alert)


def _json_path(where: str) -> str:
    """msgspec's ``$.info[0].area[1]`` as a CAP path ``/alert/info[1]/area[2]``."""
    steps = where.replace(".", "/")
    return "/alert" + _INDEX.sub(lambda m: f"[{int(m.group(1)) + 1}]", steps)


# For each struct, the structs its array members hold (to find unknown keys).
_NESTED: dict[type[msgspec.Struct], dict[str, type[msgspec.Struct]]] = {
    Alert: {"references": Reference, "info": Info},
    Info: {"eventCode": ValuePair, "parameter": ValuePair, "resource": Resource, "area": Area},
    Area: {"polygon": Polygon, "circle": Circle, "geocode": ValuePair},
}


def _unknown_keys(value: Any, kind: type[msgspec.Struct], path: str) -> list[Problem]:
    """Keys that are no CAP element name: refused, since ignoring them would lose data."""
    if not isinstance(value, dict):
        return []  # the typed decode reports the wrong type
    known = kind.__struct_encode_fields__
    problems = [
        Problem(f"{path}/{key}", None, f"expected only CAP element names ({', '.join(known)})")
        for key in value
        if key not in known
    ]
    for key, member in _NESTED.get(kind, {}).items():
        items = value.get(key)
        if isinstance(items, list):
            for number, item in enumerate(items, 1):
                problems += _unknown_keys(item, member, f"{path}/{key}[{number}]")
    return problems


def json_limits(limits: ParseLimits) -> ParseLimits:
    """``limits`` for a document given as JSON (see :data:`JSON_BYTES_PER_XML_BYTE`)."""
    return dataclasses.replace(limits, max_bytes=limits.max_bytes * JSON_BYTES_PER_XML_BYTE)


def _decode(data: bytes, limits: ParseLimits) -> Alert:
    if len(data) > limits.max_bytes:
        message = f"JSON document is {len(data)} bytes, expected at most {limits.max_bytes}"
        raise CapError((Problem("/", None, message),))
    try:
        unknown = _unknown_keys(msgspec.json.decode(data), Alert, "/alert")
        if unknown:
            raise CapError(unknown)
        alert = _DECODER.decode(data)
    except RecursionError:
        raise CapError((Problem("/", None, "expected JSON nested less deeply"),)) from None
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _AT.search(text)
        path = _json_path(match.group(1)) if match else "/alert"
        message = text[: match.start()] if match else text
        raise CapError((Problem(path, None, message),)) from None
    except msgspec.DecodeError as exc:
        raise CapError((Problem("/", None, f"malformed JSON: {exc}"),)) from None
    return alert


def _consistency(alert: Alert) -> list[Problem]:
    """Numbers that disagree with the exact text they were read from."""
    problems: list[Problem] = []
    for i, info in enumerate(alert.info, 1):
        if not info.language_given and info.language != "en-US":
            message = "expected languageGiven true with a language"
            problems.append(Problem(f"/alert/info[{i}]/language", None, message))
        for j, area in enumerate(info.area, 1):
            where = f"/alert/info[{i}]/area[{j}]"
            try:
                for k, polygon in enumerate(area.polygon, 1):
                    if parse_polygon(polygon.text) != polygon:
                        problems.append(
                            Problem(f"{where}/polygon[{k}]", None, "expected points matching text")
                        )
                for k, circle in enumerate(area.circle, 1):
                    if parse_circle(circle.text) != circle:
                        message = "expected lat, lon, radiusKm matching text"
                        problems.append(Problem(f"{where}/circle[{k}]", None, message))
                for name in ("altitude", "ceiling"):
                    value, text = getattr(area, name), getattr(area, f"{name}_text")
                    if (value is None) != (text is None) or (
                        text is not None and parse_decimal(text, name) != value
                    ):
                        message = f"expected {name} and {name}Text, agreeing"
                        problems.append(Problem(f"{where}/{name}", None, message))
            except GeometryError as exc:
                problems.append(Problem(where, None, str(exc)))
    return problems


def from_json(
    data: bytes, *, strict: bool = False, limits: ParseLimits = DEFAULT_LIMITS
) -> Alert:
    """Read an alert from its JSON form; raise :class:`CapError` naming what is wrong.

    Lenient by default (JSON is an exchange format); ``strict`` applies the
    rules for alerts Tocsin issues.
    """
    allowed = json_limits(limits)
    alert = _decode(bytes(data), allowed)
    problems = _consistency(alert)
    if problems:
        raise CapError(problems)
    try:
        parsed = parse_alert(to_xml(alert), strict=strict, limits=allowed)
    except CapError as exc:  # lines refer to the XML written internally: drop them
        unlined = [Problem(p.path, None, p.message, p.severity) for p in exc.problems]
        raise CapError(unlined) from None
    again = msgspec.structs.replace(parsed.alert, source_version=alert.source_version)
    if again != alert:
        raise CapError((Problem("/alert", None, "expected values that survive an XML round trip"),))
    return alert

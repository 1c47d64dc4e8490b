"""Build the typed model from an XSD-valid CAP 1.2 element tree, in one walk.

The schema has already checked element order, cardinality, enumerations and
numeric types, so this walk only converts: it strips the whitespace XML allows
around typed values, splits ``references`` into triples and reads geometry
text. Free text (descriptions, names) is kept exactly as written.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from tocsin.cap.errors import Problem, line_of
from tocsin.cap.geo import GeometryError, parse_circle, parse_decimal, parse_polygon
from tocsin.cap.model import (
    CAP12_NS,
    XMLDSIG_NS,
    Alert,
    Area,
    Circle,
    Info,
    Polygon,
    Reference,
    Resource,
    ValuePair,
)

_NS = "{" + CAP12_NS + "}"
_NS_LEN = len(_NS)
_DSIG = "{" + XMLDSIG_NS + "}"
_INFO = _NS + "info"
_AREA = _NS + "area"
_RESOURCE = _NS + "resource"

# Alert and info children that repeat (kept as tuples of strings or enums).
_ALERT_REPEATED = frozenset({"code"})
_INFO_REPEATED = frozenset({"category", "responseType"})
_ENUMS = frozenset(
    {"status", "msgType", "scope", "category", "responseType", "urgency", "severity", "certainty"}
)
_TIMES = frozenset({"sent", "effective", "onset", "expires"})
# CAP element name -> model field name, for the scalar children.
_FIELD = {
    "identifier": "identifier", "sender": "sender", "sent": "sent", "status": "status",
    "msgType": "msg_type", "source": "source", "scope": "scope", "restriction": "restriction",
    "addresses": "addresses", "note": "note", "incidents": "incidents",
    "language": "language", "event": "event", "urgency": "urgency", "severity": "severity",
    "certainty": "certainty", "audience": "audience", "effective": "effective", "onset": "onset",
    "expires": "expires", "senderName": "sender_name", "headline": "headline",
    "description": "description", "instruction": "instruction", "web": "web",
    "contact": "contact", "category": "category", "responseType": "response_type",
    "code": "code",
}


class _Walk:
    """One conversion; geometry problems are collected with their lines."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def alert(self, source_version: str) -> Alert:
        fields: dict[str, Any] = {"source_version": source_version}
        codes: list[str] = []
        infos: list[Info] = []
        signatures: list[str] = []
        for child in self.root:
            tag = child.tag
            if tag == _INFO:
                infos.append(self.info(child, len(infos) + 1))
            elif isinstance(tag, str) and tag.startswith(_DSIG):
                signatures.append(etree.tostring(child, encoding="unicode", with_tail=False))
            else:
                name = tag[_NS_LEN:]
                value = _value(child, name)
                if name == "code":
                    codes.append(value)
                elif name == "references":
                    fields["references"] = self.references(child, value)
                else:
                    fields[_FIELD[name]] = value
        return Alert(**fields, code=tuple(codes), info=tuple(infos), signature=tuple(signatures))

    def references(self, element: etree._Element, text: str) -> tuple[Reference, ...]:
        refs: list[Reference] = []
        for token in text.split():
            parts = token.split(",")
            if len(parts) != 3:
                self.problems.append(
                    Problem(
                        "/alert/references",
                        line_of(element),
                        f"expected 'sender,identifier,sent' triples, found {token!r}",
                    )
                )
                continue
            refs.append(Reference(sender=parts[0], identifier=parts[1], sent=parts[2]))
        return tuple(refs)

    def info(self, element: etree._Element, number: int) -> Info:
        path = f"/alert/info[{number}]"
        fields: dict[str, Any] = {}
        repeated: dict[str, list[str]] = {"category": [], "response_type": []}
        event_codes: list[ValuePair] = []
        parameters: list[ValuePair] = []
        resources: list[Resource] = []
        areas: list[Area] = []
        for child in element:
            tag = child.tag
            if tag == _AREA:
                areas.append(self.area(child, f"{path}/area[{len(areas) + 1}]"))
                continue
            if tag == _RESOURCE:
                resources.append(_resource(child))
                continue
            name = tag[_NS_LEN:]
            if name == "eventCode":
                event_codes.append(_pair(child))
            elif name == "parameter":
                parameters.append(_pair(child))
            elif name in _INFO_REPEATED:
                repeated[_FIELD[name]].append(_value(child, name))
            else:
                fields[_FIELD[name]] = _value(child, name)
                if name == "language":
                    fields["language_given"] = True
        return Info(
            **fields,
            category=tuple(repeated["category"]),  # type: ignore[arg-type]
            response_type=tuple(repeated["response_type"]),  # type: ignore[arg-type]
            event_code=tuple(event_codes),
            parameter=tuple(parameters),
            resource=tuple(resources),
            area=tuple(areas),
        )

    def area(self, element: etree._Element, path: str) -> Area:
        fields: dict[str, Any] = {}
        polygons: list[Polygon] = []
        circles: list[Circle] = []
        geocodes: list[ValuePair] = []
        for child in element:
            name = str(child.tag)[_NS_LEN:]
            text = child.text or ""
            try:
                if name == "polygon":
                    where = f"{path}/polygon[{len(polygons) + 1}]"
                    polygons.append(parse_polygon(text))
                elif name == "circle":
                    where = f"{path}/circle[{len(circles) + 1}]"
                    circles.append(parse_circle(text))
                elif name == "geocode":
                    geocodes.append(_pair(child))
                elif name == "areaDesc":
                    fields["area_desc"] = text
                else:  # altitude, ceiling: xs:decimal, so parse_decimal accepts them
                    where = f"{path}/{name}"
                    fields[name] = parse_decimal(text, name)
                    fields[f"{name}_text"] = text
            except GeometryError as exc:
                self.problems.append(Problem(where, line_of(child), str(exc)))
        return Area(
            **fields, polygon=tuple(polygons), circle=tuple(circles), geocode=tuple(geocodes)
        )


def _value(element: etree._Element, name: str) -> str:
    text = element.text or ""
    if name in _ENUMS or name in _TIMES or name == "language":
        return text.strip()
    return text


def _pair(element: etree._Element) -> ValuePair:
    name_el, value_el = element[0], element[1]
    return ValuePair(value_name=name_el.text or "", value=value_el.text or "")


def _resource(element: etree._Element) -> Resource:
    fields: dict[str, Any] = {}
    for child in element:
        name = str(child.tag)[_NS_LEN:]
        text = child.text or ""
        if name == "resourceDesc":
            fields["resource_desc"] = text
        elif name == "mimeType":
            fields["mime_type"] = text
        elif name == "size":
            fields["size"] = int(text.strip())
        elif name == "derefUri":
            fields["deref_uri"] = text
        else:
            fields[name] = text
    return Resource(**fields)


def build_alert(root: etree._Element, source_version: str) -> tuple[Alert, list[Problem]]:
    """The model of a schema-valid ``<alert>``, and any geometry/reference problems."""
    walk = _Walk(root)
    alert = walk.alert(source_version)
    return alert, walk.problems

"""Build the typed model from an XSD-valid CAP 1.2 element tree, in one walk.

The schema has already checked element order, cardinality, enumerations and
numeric types, so this walk only converts: it strips the whitespace XML allows
around typed values, splits ``references`` into triples and reads geometry
text. Free text (descriptions, names) is kept exactly as written.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from tocsin.cap.errors import Problem, ProblemSeverity, line_of
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
_DSIG = "{" + XMLDSIG_NS + "}"

# Scalar children: namespaced tag -> (model field, strip surrounding whitespace?).
# Typed values (enumerations, times, language) are stripped, as XSD collapses
# them; free text is kept exactly.
_TYPED = ("status", "msgType", "scope", "sent", "urgency", "severity", "certainty",
          "effective", "onset", "expires", "language")
_ALERT_FIELDS = {
    _NS + name: (field, name in _TYPED)
    for name, field in (
        ("identifier", "identifier"), ("sender", "sender"), ("sent", "sent"),
        ("status", "status"), ("msgType", "msg_type"), ("source", "source"), ("scope", "scope"),
        ("restriction", "restriction"), ("addresses", "addresses"), ("note", "note"),
        ("incidents", "incidents"),
    )
}
_INFO_FIELDS = {
    _NS + name: (field, name in _TYPED)
    for name, field in (
        ("language", "language"), ("event", "event"), ("urgency", "urgency"),
        ("severity", "severity"), ("certainty", "certainty"), ("audience", "audience"),
        ("effective", "effective"), ("onset", "onset"), ("expires", "expires"),
        ("senderName", "sender_name"), ("headline", "headline"),
        ("description", "description"), ("instruction", "instruction"), ("web", "web"),
        ("contact", "contact"),
    )
}
_RESOURCE_FIELDS = {
    _NS + name: field
    for name, field in (
        ("resourceDesc", "resource_desc"), ("mimeType", "mime_type"), ("uri", "uri"),
        ("derefUri", "deref_uri"), ("digest", "digest"),
    )
}
_INFO = _NS + "info"
_CODE = _NS + "code"
_REFERENCES = _NS + "references"
_CATEGORY = _NS + "category"
_RESPONSE_TYPE = _NS + "responseType"
_EVENT_CODE = _NS + "eventCode"
_PARAMETER = _NS + "parameter"
_RESOURCE = _NS + "resource"
_AREA = _NS + "area"
_AREA_DESC = _NS + "areaDesc"
_POLYGON = _NS + "polygon"
_CIRCLE = _NS + "circle"
_GEOCODE = _NS + "geocode"
_ALTITUDE = _NS + "altitude"
_CEILING = _NS + "ceiling"
_SIZE = _NS + "size"


def _pair(element: etree._Element) -> ValuePair:
    """valueName and value: the schema guarantees exactly these two children."""
    return ValuePair(value_name=element[0].text or "", value=element[1].text or "")



_SIGNATURE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                    huge_tree=False)


def kept_signature(element: etree._Element) -> str:
    """An enveloped ``<Signature>`` as the XML text that reads back the same once written.

    Serialised alone, a subtree declares every namespace in scope, in the order they were
    declared along its ancestors; written under a new ``<alert>`` (which declares the CAP
    namespace) and read again, the declaration the new root also makes moves to the end,
    so the text changed and the JSON of a signed document whose root declares more
    namespaces (NWS's carries three IPAWS ones) did not convert back. The text is taken
    as it stands under such a root: a fixed point. The declarations kept are the same set
    (only their order differs), so what the signature signed is unchanged.
    """
    parent = element.getparent()
    text = etree.tostring(element, encoding="unicode", with_tail=False)
    if parent is None:
        return text
    holder = etree.Element(parent.tag, nsmap={None: etree.QName(parent).namespace})  # type: ignore[dict-item]
    holder.append(etree.fromstring(text, _SIGNATURE_PARSER))
    return etree.tostring(holder[0], encoding="unicode", with_tail=False)

class _Walk:
    """One conversion; geometry and reference problems are collected with lines."""

    def __init__(self, strict: bool) -> None:
        self.problems: list[Problem] = []
        self.strict = strict

    def alert(self, root: etree._Element, source_version: str) -> Alert:
        # Defaults are left to the model: msgspec omits a default from JSON only
        # when it is the very default object, not an equal string.
        fields: dict[str, Any] = {} if source_version == "1.2" else {"source_version": source_version}
        codes: list[str] = []
        infos: list[Info] = []
        signatures: list[str] = []
        for child in root:
            tag = child.tag
            spec = _ALERT_FIELDS.get(tag)
            if spec is not None:
                text = child.text or ""
                fields[spec[0]] = text.strip() if spec[1] else text
            elif tag == _INFO:
                infos.append(self.info(child, len(infos) + 1))
            elif tag == _CODE:
                codes.append(child.text or "")
            elif tag == _REFERENCES:
                fields["references"] = self.references(child, child.text or "")
            elif isinstance(tag, str) and tag.startswith(_DSIG):
                signatures.append(kept_signature(child))
        return Alert(**fields, code=tuple(codes), info=tuple(infos), signature=tuple(signatures))

    def references(self, element: etree._Element, text: str) -> tuple[Reference, ...]:
        refs: list[Reference] = []
        for token in text.split():
            parts = token.split(",")
            if len(parts) == 3:
                refs.append(Reference(sender=parts[0], identifier=parts[1], sent=parts[2]))
            else:
                message = f"expected 'sender,identifier,sent' triples, found {token!r}"
                self.problems.append(Problem("/alert/references", line_of(element), message))
        return tuple(refs)

    def info(self, element: etree._Element, number: int) -> Info:
        fields: dict[str, Any] = {}
        categories: list[str] = []
        responses: list[str] = []
        event_codes: list[ValuePair] = []
        parameters: list[ValuePair] = []
        resources: list[Resource] = []
        areas: list[Area] = []
        for child in element:
            tag = child.tag
            spec = _INFO_FIELDS.get(tag)
            if spec is not None:
                text = child.text or ""
                fields[spec[0]] = text.strip() if spec[1] else text
            elif tag == _AREA:
                areas.append(self.area(child, number, len(areas) + 1))
            elif tag == _CATEGORY:
                categories.append((child.text or "").strip())
            elif tag == _EVENT_CODE:
                event_codes.append(_pair(child))
            elif tag == _PARAMETER:
                parameters.append(_pair(child))
            elif tag == _RESPONSE_TYPE:
                responses.append((child.text or "").strip())
            elif tag == _RESOURCE:
                resources.append(_resource(child))
        if "language" in fields:
            fields["language_given"] = True
            if fields["language"] == "en-US":
                del fields["language"]  # the model's default object (see alert())
        return Info(
            **fields,
            category=tuple(categories),  # type: ignore[arg-type]
            response_type=tuple(responses),  # type: ignore[arg-type]
            event_code=tuple(event_codes),
            parameter=tuple(parameters),
            resource=tuple(resources),
            area=tuple(areas),
        )

    def area(self, element: etree._Element, info_number: int, number: int) -> Area:
        area_desc = ""
        polygons: list[Polygon] = []
        circles: list[Circle] = []
        geocodes: list[ValuePair] = []
        numbers: dict[str, Any] = {}
        polygon_count = circle_count = 0
        for child in element:
            tag = child.tag
            if tag == _GEOCODE:
                geocodes.append(_pair(child))
                continue
            text = child.text or ""
            try:
                if tag == _AREA_DESC:
                    area_desc = text
                elif tag == _POLYGON:
                    polygon_count += 1
                    if text.strip():
                        polygons.append(parse_polygon(text))
                    else:
                        self._empty_polygon(child, f"/alert/info[{info_number}]/area[{number}]"
                                                   f"/polygon[{polygon_count}]")
                elif tag == _CIRCLE:
                    circle_count += 1
                    circles.append(parse_circle(text))
                elif tag == _ALTITUDE:
                    numbers["altitude"] = parse_decimal(text, "altitude")
                    numbers["altitude_text"] = text
                elif tag == _CEILING:
                    numbers["ceiling"] = parse_decimal(text, "ceiling")
                    numbers["ceiling_text"] = text
            except GeometryError as exc:
                name = etree.QName(child).localname
                step = {"polygon": f"polygon[{polygon_count}]", "circle": f"circle[{circle_count}]"}
                path = f"/alert/info[{info_number}]/area[{number}]/{step.get(name, name)}"
                self.problems.append(Problem(path, line_of(child), str(exc)))
        return Area(
            area_desc=area_desc,
            polygon=tuple(polygons),
            circle=tuple(circles),
            geocode=tuple(geocodes),
            **numbers,
        )


    def _empty_polygon(self, element: etree._Element, path: str) -> None:
        """US NWS CAP 1.1 feeds write ``<polygon></polygon>`` for zone-based alerts.

        Lenient: read as no polygon, with a warning. Strict (alerts Tocsin issues): an error,
        as a polygon of no points is no polygon CAP allows.
        """
        severity: ProblemSeverity = "error" if self.strict else "warning"
        message = ("empty polygon (expected 'lat,lon lat,lon ...')" if self.strict
                   else "empty polygon read as no polygon")
        self.problems.append(Problem(path, line_of(element), message, severity))


def _resource(element: etree._Element) -> Resource:
    fields: dict[str, Any] = {}
    for child in element:
        tag = child.tag
        if tag == _SIZE:
            fields["size"] = int((child.text or "").strip())
        else:
            fields[_RESOURCE_FIELDS[tag]] = child.text or ""
    return Resource(**fields)


def build_alert(root: etree._Element, source_version: str, *,
                strict: bool = True) -> tuple[Alert, list[Problem]]:
    """The model of a schema-valid ``<alert>``, and any geometry/reference problems.

    ``strict`` decides only what an empty ``<polygon>`` is: an error, or (lenient) a warning
    and no polygon.
    """
    walk = _Walk(strict)
    alert = walk.alert(root, source_version)
    return alert, walk.problems

"""Write the model as CAP 1.2 XML, element order exactly as the schema wants.

One exception: an alert read from CAP 1.1 with a ``<resource>`` that has no
``<mimeType>`` (optional in 1.1, required in 1.2) is written as the CAP 1.1 it
validly is, since no CAP 1.2 document can hold it and inventing a media type
would change the alert.

Values are written as the model holds them (times with their offsets,
geometry as its original text), so XML -> model -> XML keeps every value.
Never use this to rebuild a *signed* alert: Tocsin stores and serves the
exact signed bytes; this writer is for new alerts and conversions.
"""

from __future__ import annotations

from lxml import etree

from tocsin.cap.errors import DEFAULT_LIMITS, CapError, ParseLimits, Problem
from tocsin.cap.model import CAP11_NS, CAP12_NS, Alert, Area, Info, Resource, ValuePair
from tocsin.cap.parse import parse_xml


def cap_namespace(alert: Alert) -> str:
    """CAP 1.2's namespace, unless the alert can only be CAP 1.1 (see the module docstring)."""
    if alert.source_version == "1.1" and any(
            resource.mime_type is None for info in alert.info for resource in info.resource):
        return CAP11_NS
    return CAP12_NS


def _add(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, _ns(parent) + name).text = text


def _ns(element: etree._Element) -> str:
    """``{namespace}`` of a CAP element: children are written in their parent's namespace."""
    return str(element.tag).partition("}")[0] + "}"


def _pairs(parent: etree._Element, name: str, pairs: tuple[ValuePair, ...]) -> None:
    for pair in pairs:
        element = etree.SubElement(parent, _ns(parent) + name)
        _add(element, "valueName", pair.value_name)
        _add(element, "value", pair.value)


def _resource(parent: etree._Element, resource: Resource) -> None:
    element = etree.SubElement(parent, _ns(parent) + "resource")
    _add(element, "resourceDesc", resource.resource_desc)
    _add(element, "mimeType", resource.mime_type)
    _add(element, "size", None if resource.size is None else str(resource.size))
    _add(element, "uri", resource.uri)
    _add(element, "derefUri", resource.deref_uri)
    _add(element, "digest", resource.digest)


def _number(value: float | None, text: str | None) -> str | None:
    """The exact original text of a decimal when it still matches, else a plain decimal."""
    if value is None:
        return None
    if text is not None:
        return text
    return format(value, "f").rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _area(parent: etree._Element, area: Area) -> None:
    element = etree.SubElement(parent, _ns(parent) + "area")
    _add(element, "areaDesc", area.area_desc)
    for polygon in area.polygon:
        _add(element, "polygon", polygon.text)
    for circle in area.circle:
        _add(element, "circle", circle.text)
    _pairs(element, "geocode", area.geocode)
    _add(element, "altitude", _number(area.altitude, area.altitude_text))
    _add(element, "ceiling", _number(area.ceiling, area.ceiling_text))


def _info(parent: etree._Element, info: Info) -> None:
    element = etree.SubElement(parent, _ns(parent) + "info")
    if info.language_given or info.language != "en-US":
        _add(element, "language", info.language)
    for category in info.category:
        _add(element, "category", category)
    _add(element, "event", info.event)
    for response in info.response_type:
        _add(element, "responseType", response)
    _add(element, "urgency", info.urgency)
    _add(element, "severity", info.severity)
    _add(element, "certainty", info.certainty)
    _add(element, "audience", info.audience)
    _pairs(element, "eventCode", info.event_code)
    for name in ("effective", "onset", "expires"):
        _add(element, name, getattr(info, name))
    _add(element, "senderName", info.sender_name)
    for name in ("headline", "description", "instruction", "web", "contact"):
        _add(element, name, getattr(info, name))
    _pairs(element, "parameter", info.parameter)
    for resource in info.resource:
        _resource(element, resource)
    for area in info.area:
        _area(element, area)


def to_element(alert: Alert, *, indent: bool = False) -> etree._Element:
    """The ``<alert>`` element for ``alert`` (raises ``ValueError`` on non-XML text).

    With ``indent``, CAP elements are indented but kept signatures are not
    touched: whitespace inside a signature is part of what it signed.
    """
    namespace = cap_namespace(alert)
    root = etree.Element("{" + namespace + "}alert", nsmap={None: namespace})  # type: ignore[dict-item]
    for name in ("identifier", "sender", "sent", "status"):
        _add(root, name, getattr(alert, name))
    _add(root, "msgType", alert.msg_type)
    _add(root, "source", alert.source)
    _add(root, "scope", alert.scope)
    _add(root, "restriction", alert.restriction)
    _add(root, "addresses", alert.addresses)
    for code in alert.code:
        _add(root, "code", code)
    _add(root, "note", alert.note)
    if alert.references:
        _add(root, "references", " ".join(ref.text() for ref in alert.references))
    _add(root, "incidents", alert.incidents)
    for info in alert.info:
        _info(root, info)
    if indent:
        etree.indent(root, space="  ")
    for signature in alert.signature:
        if indent and len(root):
            root[-1].tail = "\n  "
        data = signature.encode("utf-8")
        # A kept signature was part of a document read within its limits; only size may
        # exceed the default (a large signed document), never depth or breadth.
        element = parse_xml(data, ParseLimits(max_bytes=max(DEFAULT_LIMITS.max_bytes, len(data))))
        element.tail = "\n" if indent else None
        root.append(element)
    return root


def to_xml(alert: Alert) -> bytes:
    """CAP 1.2 XML (UTF-8, with an XML declaration, indented) for ``alert`` (or 1.1, see above).

    Raises :class:`CapError` if a value cannot be written as XML at all
    (control characters, a malformed kept signature).
    """
    try:
        root = to_element(alert, indent=True)
    except ValueError as exc:  # lxml refuses control characters and the like
        raise CapError((Problem("/alert", None, f"cannot write as XML: {exc}"),)) from None
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

"""Read CAP 1.2 (and 1.1) XML safely: one hardened lxml parse, XSD, rules, model.

The parser never resolves entities, loads a DTD or touches the network, and a
document with any DOCTYPE is refused outright (no entity tricks, no XXE, no
billion laughs). Size is capped before parsing and depth right after. CAP 1.1
documents are moved into the 1.2 namespace and held to the 1.2 schema: the
element sets are the same, and 1.2 only added enumeration values.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from lxml import etree

from tocsin.cap.errors import (
    DEFAULT_LIMITS,
    CapError,
    ParseLimits,
    Problem,
    ProblemSeverity,
    errors_of,
    line_of,
)
from tocsin.cap.model import CAP11_NS, CAP12_NS, Alert
from tocsin.cap.reader import build_alert
from tocsin.cap.rules import check_alert

_NS12 = "{" + CAP12_NS + "}"
_NS11 = "{" + CAP11_NS + "}"
# At most this many schema problems, and as many rule problems, are located and
# reported per document.
MAX_REPORTED = 50
_TIME_ELEMENTS = frozenset({"sent", "effective", "onset", "expires"})
_ENUM_VALUES = {
    "status": ("Actual", "Exercise", "System", "Test", "Draft"),
    "msgType": ("Alert", "Update", "Cancel", "Ack", "Error"),
    "scope": ("Public", "Restricted", "Private"),
    "category": (
        "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
        "Infra", "CBRNE", "Other",
    ),
    "responseType": (
        "Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear",
        "None",
    ),
    "urgency": ("Immediate", "Expected", "Future", "Past", "Unknown"),
    "severity": ("Extreme", "Severe", "Moderate", "Minor", "Unknown"),
    "certainty": ("Observed", "Likely", "Possible", "Unlikely", "Unknown"),
}


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """A valid alert, what lenient reading tolerated in it, and its CAP version."""

    alert: Alert
    warnings: tuple[Problem, ...]
    version: str


_local = threading.local()


def _parser() -> etree.XMLParser:
    """The hardened parser (one per thread: lxml parsers are not shareable)."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            recover=False,
        )
        _local.parser = parser
    return parser


def _schema() -> etree.XMLSchema:
    """The official CAP 1.2 XSD shipped in the package (parsed once per thread)."""
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        data = resources.files("tocsin.cap").joinpath("schema/CAP-v1.2.xsd").read_bytes()
        schema = etree.XMLSchema(etree.fromstring(data, _parser()))
        _local.schema = schema
    return schema


@lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    """An XPath that finds any element nested deeper than ``max_depth``."""
    return etree.XPath("boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")")


# Documents this small cannot hold enough elements to make validation slow.
_COUNT_ABOVE_BYTES = 32 * 1024
_COUNT_ELEMENTS = etree.XPath("count(//*)")


@lru_cache(maxsize=8)
def _crowded(max_children: int) -> etree.XPath:
    """An XPath that finds the first element with more than ``max_children`` children."""
    return etree.XPath(f"(//*[count(*) > {int(max_children)}])[1]")


def _refuse(message: str, line: int | None = None, path: str = "/") -> CapError:
    return CapError((Problem(path, line, message),))


_WIDE_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)


_FIRST_ELEMENT = re.compile(rb"<[^?!]")
_FIRST_ELEMENT_TEXT = re.compile(r"<[^?!]")


def _declares_dtd(data: bytes) -> bool:
    """Whether the prolog declares a DTD, seen before the parser runs.

    A DOCTYPE can only stand before the root element, so only the prolog is
    scanned: text such as ``<![CDATA[<!DOCTYPE html>...]]>`` in a description
    is no reason to refuse. UTF-16/32 are decoded first so that a wide
    encoding cannot hide a DOCTYPE; anything else is caught after parsing
    (and libxml2 caps entity expansion meanwhile).
    """
    for prefix, codec in _WIDE_ENCODINGS:
        if data.startswith(prefix):
            text = data.decode(codec, errors="replace")
            found = _FIRST_ELEMENT_TEXT.search(text)
            return "<!DOCTYPE" in (text[: found.start()] if found else text)
    found_bytes = _FIRST_ELEMENT.search(data)
    return b"<!DOCTYPE" in (data[: found_bytes.start()] if found_bytes else data)


def parse_xml(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse bytes with every hardening applied; raise :class:`CapError` if unsafe or malformed."""
    if len(data) > limits.max_bytes:
        raise _refuse(f"document is {len(data)} bytes, expected at most {limits.max_bytes}")
    if _declares_dtd(data):
        raise _refuse("expected no DOCTYPE declaration (refused: CAP needs no DTD or entities)")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        message = str(exc.msg or exc)
        if "Excessive depth" in message or "maximum depth" in message:
            message = f"expected elements nested at most {limits.max_depth} deep"
        line = exc.lineno if isinstance(exc.lineno, int) else None
        raise _refuse(f"malformed XML: {message}", line) from None
    except ValueError as exc:  # e.g. an unknown or inconsistent declared encoding
        raise _refuse(f"unreadable XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise _refuse("expected no DOCTYPE declaration (refused: CAP needs no DTD)")
    if _too_deep(limits.max_depth)(root):
        raise _refuse(f"expected elements nested at most {limits.max_depth} deep")
    if len(data) > _COUNT_ABOVE_BYTES:
        _check_breadth(root, limits)
    return root


def _check_breadth(root: etree._Element, limits: ParseLimits) -> None:
    """Refuse documents whose schema errors could cost quadratic time (see ParseLimits)."""
    count = _COUNT_ELEMENTS(root)
    if isinstance(count, float) and count > limits.max_elements:
        raise _refuse(f"expected at most {limits.max_elements} elements, found {int(count)}")
    crowded = _crowded(limits.max_children)(root)
    if isinstance(crowded, list) and crowded and isinstance(crowded[0], etree._Element):
        raise _refuse(
            f"expected at most {limits.max_children} child elements, found {len(crowded[0])}",
            line_of(crowded[0]),
            element_path(crowded[0]),
        )


def element_path(element: etree._Element) -> str:
    """The CAP path of an element: ``/alert/info[1]/area[2]`` (1-based, like XPath)."""
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        tag = node.tag
        name = etree.QName(tag).localname if isinstance(tag, str) else "?"
        parent = node.getparent()
        if parent is None:
            steps.append(name)
        else:
            index = 1 + sum(1 for _ in node.itersiblings(tag, preceding=True))
            steps.append(f"{name}[{index}]")
        node = parent
    return "/" + "/".join(reversed(steps))


def _element_at(root: etree._Element, path: str) -> etree._Element | None:
    """Find the element a rule's path names (only used when there are problems)."""
    node = root
    for step in path.strip("/").split("/")[1:]:
        name, _, rest = step.partition("[")
        index = int(rest.rstrip("]")) if rest else 1
        found = node.find(f"{_NS12}{name}[{index}]")
        if found is None:
            return node
        node = found
    return node


def _error_element(root: etree._Element, entry: etree._LogEntry) -> etree._Element | None:
    """The element an XSD error is about (libxml2 gives a positional XPath)."""
    try:
        found = root.getroottree().xpath(entry.path) if entry.path else None
    except etree.XPathError:  # a prefix libxml2 invented for a moved CAP 1.1 element
        found = [el for el in root.iter() if el.sourceline == entry.line]
        found = found if len(found) == 1 else None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _schema_problems(root: etree._Element, strict: bool) -> list[Problem]:
    schema = _schema()
    if schema.validate(root.getroottree()):
        return []
    problems: list[Problem] = []
    entries = list(schema.error_log)  # type: ignore[call-overload]
    if len(entries) > MAX_REPORTED:
        # Locating each error costs a walk of the tree: a hostile document with
        # 40,000 bad values must not cost 40,000 walks.
        hidden = len(entries) - MAX_REPORTED
        entries = entries[:MAX_REPORTED]
        problems.append(Problem("/alert", None, f"{hidden} more schema errors not shown"))
    for entry in entries:
        element = _error_element(root, entry)
        path = element_path(element) if element is not None else "/alert"
        name = path.rsplit("/", 1)[-1].partition("[")[0]
        if entry.type_name == "SCHEMAV_CVC_PATTERN_VALID" and name in _TIME_ELEMENTS:
            continue  # the time rules say this better, with the lenient exceptions
        message = entry.message.replace(_NS12, "").replace(_NS11, "")
        if message.startswith("Element '"):
            message = message.split("': ", 1)[-1]
        severity: ProblemSeverity = "error"
        if (
            entry.type_name == "SCHEMAV_CVC_ENUMERATION_VALID"
            and element is not None
            and (element.text or "").strip() in _ENUM_VALUES.get(name, ())
        ):
            if strict:
                message = f"expected no whitespace around the value {element.text!r}"
            else:
                severity = "warning"
                message = f"whitespace around the value {element.text!r} (ignored)"
        problems.append(Problem(path, entry.line, message, severity))
    return problems


def _cap_version(root: etree._Element) -> tuple[etree._Element, str]:
    """The document's CAP version, and its root in the CAP 1.2 namespace.

    A CAP 1.1 root is rebuilt with the 1.2 namespace in place of the 1.1 one (its other
    declarations kept) and its children moved under it, so an enveloped ``<Signature>``
    keeps exactly the namespace context it would have in a 1.2 document: renaming in
    place would leave a generated ``xmlns:ns0`` declaration in every kept signature.
    """
    tag = root.tag
    if tag == _NS12 + "alert":
        return root, "1.2"
    if tag == _NS11 + "alert":
        nsmap: dict[Any, str] = {  # the default namespace's prefix is None
            prefix: CAP12_NS if uri == CAP11_NS else uri for prefix, uri in root.nsmap.items()}
        attrib = {str(key): str(value) for key, value in root.attrib.items()}
        moved = etree.Element(_NS12 + "alert", attrib=attrib, nsmap=nsmap)
        moved.sourceline = root.sourceline
        moved.text = root.text
        moved.extend(list(root))
        for el in moved.iter():
            if isinstance(el.tag, str) and el.tag.startswith(_NS11):
                el.tag = _NS12 + el.tag[len(_NS11):]
        return moved, "1.1"
    found = etree.QName(tag).text if isinstance(tag, str) else repr(tag)
    raise _refuse(
        f"expected root element alert in namespace {CAP12_NS} (or {CAP11_NS}), found {found}",
        line_of(root),
        "/" + (etree.QName(tag).localname if isinstance(tag, str) else "?"),
    )


def _lend_mime_types(root: etree._Element, strict: bool) -> tuple[list[etree._Element], list[Problem]]:
    """CAP 1.1 ``<resource>`` elements without ``<mimeType>``: optional in 1.1, required in 1.2.

    Each gets a placeholder ``<mimeType>`` so the 1.2 schema checks the rest of it; the caller
    removes the placeholders before the model is built (the model holds ``None``). Strict
    mode (alerts Tocsin issues, which are CAP 1.2) refuses such a resource.
    """
    lent: list[etree._Element] = []
    problems: list[Problem] = []
    for i, info in enumerate(root.iterfind(_NS12 + "info"), 1):
        for j, resource in enumerate(info.iterfind(_NS12 + "resource"), 1):
            if resource.find(_NS12 + "mimeType") is not None:
                continue
            placeholder = etree.Element(_NS12 + "mimeType")
            placeholder.text = "application/octet-stream"
            first = resource[0] if len(resource) else None
            at = 1 if first is not None and first.tag == _NS12 + "resourceDesc" else 0
            resource.insert(at, placeholder)
            lent.append(placeholder)
            if strict:
                problems.append(Problem(
                    f"/alert/info[{i}]/resource[{j}]", line_of(resource),
                    "expected mimeType: CAP 1.1 lets a resource omit it, CAP 1.2 (which Tocsin "
                    "issues) requires it"))
    return lent, problems


def parse_alert(
    data: bytes, *, strict: bool = True, limits: ParseLimits = DEFAULT_LIMITS
) -> ParsedAlert:
    """Parse and validate one CAP document; raise :class:`CapError` naming every problem.

    ``strict`` holds the document to the rules for alerts Tocsin issues;
    lenient mode (``strict=False``) reports what real feeds get wrong as warnings.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_alert expects bytes, got {type(data).__name__}")
    root, version = _cap_version(parse_xml(bytes(data), limits))
    lent, problems = _lend_mime_types(root, strict) if version == "1.1" else ([], [])
    problems += _schema_problems(root, strict)
    if errors_of(problems):
        raise CapError(problems)
    for placeholder in lent:
        parent = placeholder.getparent()
        if parent is not None:
            parent.remove(placeholder)
    alert, found = build_alert(root, version, strict=strict)
    problems.extend(found)
    found_by_rules = check_alert(alert, strict=strict)
    if len(found_by_rules) > MAX_REPORTED:
        hidden = len(found_by_rules) - MAX_REPORTED
        severity: ProblemSeverity = "error" if errors_of(found_by_rules[MAX_REPORTED:]) else "warning"
        problems.append(Problem("/alert", None, f"{hidden} more problems not shown", severity))
        found_by_rules = found_by_rules[:MAX_REPORTED]
    for problem in found_by_rules:
        element = _element_at(root, problem.path)
        line = line_of(element) if element is not None else None
        problems.append(Problem(problem.path, line, problem.message, problem.severity))
    if errors_of(problems):
        raise CapError(problems)
    return ParsedAlert(alert=alert, warnings=tuple(problems), version=version)

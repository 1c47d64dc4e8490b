"""OASIS CAP 1.2: the typed model, hardened parsing and validation, XML and JSON.

Read with :func:`parse_alert` (strict for alerts Tocsin issues, lenient for
other producers' feeds); write with :func:`to_xml` / :func:`to_json`; read
JSON with :func:`from_json`. Every refusal is a :class:`CapError` whose
``problems`` name the element path, the line and what was expected.
"""

from tocsin.cap.errors import DEFAULT_LIMITS, CapError, ParseLimits, Problem
from tocsin.cap.geo import circle_from, polygon_from_points
from tocsin.cap.json_codec import from_json, to_json
from tocsin.cap.parse import ParsedAlert, parse_alert
from tocsin.cap.rules import check_alert
from tocsin.cap.write import to_xml

__all__ = [
    "DEFAULT_LIMITS",
    "CapError",
    "ParseLimits",
    "ParsedAlert",
    "Problem",
    "check_alert",
    "circle_from",
    "from_json",
    "parse_alert",
    "polygon_from_points",
    "to_json",
    "to_xml",
]

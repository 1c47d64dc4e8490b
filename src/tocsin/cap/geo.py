"""CAP geometry text (``polygon``, ``circle``) to numbers, refusing anything odd.

CAP writes a point as ``lat,lon`` (WGS 84 decimal degrees), a polygon as
whitespace-separated points, a circle as ``lat,lon radius`` (kilometres).
Only plain decimals are accepted: ``float()`` alone would let ``nan``, ``inf``
and ``1e400`` through, and a NaN coordinate silently matches no region.
The range and shape rules (lat/lon bounds, closed rings) live in ``rules``;
this module only reads the text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal

from tocsin.cap.model import Circle, Polygon

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_DECIMAL = re.compile(_NUMBER + r"\Z", re.ASCII)
# A whole polygon in one match: points as lat,lon separated by whitespace.
# Possessive quantifiers: no backtracking, linear in the text.
_NUM = r"[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)"
_WS = r"[ \t\r\n]"  # XML whitespace only: no NBSP or other Unicode spaces
_POLYGON = re.compile(rf"{_WS}*+{_NUM},{_NUM}(?:{_WS}++{_NUM},{_NUM})*+{_WS}*+\Z", re.ASCII)
_SPLIT = re.compile(_WS + "+")


class GeometryError(ValueError):
    """Geometry text that does not follow CAP's lexical form."""


def parse_decimal(text: str, what: str) -> float:
    """A plain decimal number (no exponent, NaN or infinity)."""
    value = text.strip(" \t\r\n")
    if not _DECIMAL.match(value):
        raise GeometryError(f"expected a decimal number for {what}, found {text!r}")
    return float(value)


def parse_point(text: str) -> tuple[float, float]:
    """One ``lat,lon`` pair."""
    parts = text.split(",")
    if len(parts) != 2:
        raise GeometryError(f"expected a point as 'lat,lon', found {text!r}")
    return parse_decimal(parts[0], "latitude"), parse_decimal(parts[1], "longitude")


def parse_polygon(text: str) -> Polygon:
    """A CAP polygon, keeping its exact text; shape rules are checked elsewhere."""
    if _POLYGON.match(text):  # the fast path: one linear regex, then C-level float()s
        numbers = list(map(float, text.replace(",", " ").split()))
        points = tuple(zip(numbers[0::2], numbers[1::2], strict=True))
        return Polygon(points=points, text=text)
    tokens = text.split()
    if not tokens:
        raise GeometryError("expected polygon points as 'lat,lon lat,lon ...', found nothing")
    for token in tokens:
        parse_point(token)  # raises, naming the first bad point
    raise GeometryError(f"expected polygon points as 'lat,lon lat,lon ...', found {text!r}")


def parse_circle(text: str) -> Circle:
    """A CAP circle ``lat,lon radius``, keeping its exact text."""
    tokens = _SPLIT.split(text.strip(" \t\r\n"))
    if len(tokens) != 2:
        raise GeometryError(f"expected a circle as 'lat,lon radius', found {text!r}")
    lat, lon = parse_point(tokens[0])
    radius = parse_decimal(tokens[1], "radius")
    return Circle(lat=lat, lon=lon, radius_km=radius, text=text)


def format_decimal(value: float) -> str:
    """A float as a plain CAP decimal that reads back to exactly the same float."""
    if not math.isfinite(value):
        raise GeometryError(f"expected a finite number, found {value!r}")
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def polygon_from_points(points: Iterable[tuple[float, float]]) -> Polygon:
    """A Polygon (with its CAP text) from ``(lat, lon)`` points, closing the ring if open."""
    ring = [(float(lat), float(lon)) for lat, lon in points]
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    text = " ".join(f"{format_decimal(lat)},{format_decimal(lon)}" for lat, lon in ring)
    return Polygon(points=tuple(ring), text=text)


def circle_from(lat: float, lon: float, radius_km: float) -> Circle:
    """A Circle (with its CAP text) from its centre and radius in kilometres."""
    text = f"{format_decimal(lat)},{format_decimal(lon)} {format_decimal(radius_km)}"
    return Circle(lat=float(lat), lon=float(lon), radius_km=float(radius_km), text=text)

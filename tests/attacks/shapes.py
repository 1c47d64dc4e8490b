"""Alerts with polygons, circles and extra ``info`` blocks, as an attacker would write them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

import msgspec

from tocsin.cap.model import Alert, Area, Circle, Polygon, ValuePair
from tocsin.compose import AlertFacts, compose_alert

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"
KYIV_OBLAST = "UA32000000000030281"
#: A small square in the middle of Lviv (49.84 N, 24.03 E), 300 km from any Kyiv border.
LVIV_SQUARE = ((49.80, 24.00), (49.90, 24.00), (49.90, 24.10), (49.80, 24.10), (49.80, 24.00))


def geocode_area(*codes: str, desc: str = "area") -> Area:
    return Area(area_desc=desc, geocode=tuple(ValuePair(value_name="KATOTTG", value=c) for c in codes))


def polygon(points: Sequence[tuple[float, float]]) -> Polygon:
    return Polygon(points=tuple(points), text=" ".join(f"{lat},{lon}" for lat, lon in points))


def circle(lat: float, lon: float, km: float) -> Circle:
    return Circle(lat=lat, lon=lon, radius_km=km, text=f"{lat},{lon} {km:g}")


def ring(lat: float, lon: float, n: int, radius_deg: float) -> list[tuple[float, float]]:
    """A closed n-gon (n + 1 points) around (lat, lon)."""
    points = [(round(lat + radius_deg * 0.65 * math.sin(2 * math.pi * k / n), 6),
               round(lon + radius_deg * math.cos(2 * math.pi * k / n), 6)) for k in range(n)]
    return [*points, points[0]]


def alert(issuer: str, *infos: Sequence[Area], kind: str = "air-raid", **facts: object) -> Alert:
    """An alert of ``issuer`` whose ``info`` blocks have exactly the areas given."""
    base = compose_alert(AlertFacts(issuer_id=issuer, kind=kind, areas=(KYIV,),
                                    expires_in=timedelta(hours=1), **facts))  # type: ignore[arg-type]
    template = base.info[0]
    blocks = tuple(msgspec.structs.replace(template, area=tuple(areas)) for areas in infos)
    return msgspec.structs.replace(base, info=blocks)

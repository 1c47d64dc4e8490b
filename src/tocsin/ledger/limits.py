"""How big and how costly one alert may be: checked first, cheaply, before any expensive work.

Two checks, both pure and O(size of the input) at most:

* :func:`size_refusal` — on the raw bytes, before the signature is even
  opened: the CAP at most :data:`MAX_ALERT_BYTES`, the statement at most
  :data:`MAX_STATEMENT_BYTES`. These are *the* alert limits; everything else
  is sized to admit them (the log entry format, the default request body of
  1 MiB, the CAP parser's 1 MiB). A nationwide alert naming every hromada
  (1,772 in the region data) one area each, in Ukrainian and English, is
  about 650 KB and fits.
* :func:`cost_refusal` — on the parsed model, before any geometry: counts of
  areas, shapes and vertices, circle radii and the total bounding-box area of
  all shapes (which bounds how many region boundaries the shapes are tested
  against). An alert over budget is refused whole with ``alert_too_complex``.

The budget (docs/security.md gives the measurements behind it): the worst
alert inside it costs the hub under 0.3 s of CPU in a worker thread, so it
cannot stall other requests; the 2,400 km-circle alert of issue 10 is refused
in microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tocsin.cap.model import Alert

MAX_ALERT_BYTES = 704 * 1024
"""The CAP document, exact bytes. Base64 in a JSON body (4/3) plus a statement stays under
the hub's default 1 MiB request body, so one limit decides, whichever way the alert is sent."""
MAX_STATEMENT_BYTES = 16 * 1024
"""The signed statement: a few hundred bytes plus one line per signature (100 lines fit)."""

MAX_AREAS = 4000
"""``<area>`` elements over all ``info`` blocks (every hromada, in two languages, fits)."""
MAX_SHAPES = 64
"""``<polygon>`` plus ``<circle>`` elements over all ``info`` blocks."""
MAX_VERTICES = 20_000
"""Polygon points over the whole alert; each circle counts as :data:`CIRCLE_VERTICES`."""
CIRCLE_VERTICES = 72
MAX_CIRCLE_RADIUS_KM = 1000.0
"""One circle's radius: from Kyiv, 1,000 km reaches every border of Ukraine."""
MAX_SHAPE_BOX_KM2 = 2_000_000.0
"""Sum over every shape of its bounding box, in km² (Ukraine's own box is about 1.1 million):
what the shapes are tested against grows with this, not with their vertex count."""

KM_PER_DEGREE = 111.195  # a degree of latitude on the mean-radius sphere


@dataclass(frozen=True, slots=True)
class LimitRefusal:
    """Refused before the expensive work: ``code`` is catalogued (docs/errors.md)."""

    code: str  # "alert_too_large" or "alert_too_complex"
    reason: str


def size_refusal(cap: bytes, statement: bytes) -> LimitRefusal | None:
    """The alert is larger than the one limit: say by how much (O(1))."""
    if len(cap) > MAX_ALERT_BYTES:
        return LimitRefusal("alert_too_large", f"the CAP document is {len(cap)} bytes; the limit "
                            f"is {MAX_ALERT_BYTES} bytes ({MAX_ALERT_BYTES // 1024} KiB)")
    if len(statement) > MAX_STATEMENT_BYTES:
        return LimitRefusal("alert_too_large", f"the signed statement is {len(statement)} bytes; "
                            f"the limit is {MAX_STATEMENT_BYTES} bytes")
    return None


def _box_km2(points: list[tuple[float, float]]) -> float:
    lats = [p[0] for p in points if math.isfinite(p[0])]
    lons = [p[1] for p in points if math.isfinite(p[1])]
    if not lats or not lons:
        return 0.0
    mid = math.radians(max(-89.0, min(89.0, (max(lats) + min(lats)) / 2)))
    height = (max(lats) - min(lats)) * KM_PER_DEGREE
    width = (max(lons) - min(lons)) * KM_PER_DEGREE * math.cos(mid)
    return height * width


def cost_refusal(alert: Alert) -> LimitRefusal | None:
    """The alert exceeds the cost budget: say which part (linear in the model, no geometry)."""

    def over(what: str) -> LimitRefusal:
        return LimitRefusal("alert_too_complex", what)

    areas = shapes = vertices = 0
    box = 0.0
    for info in alert.info:
        areas += len(info.area)
        if areas > MAX_AREAS:
            return over(f"more than {MAX_AREAS} areas")
        for area in info.area:
            shapes += len(area.polygon) + len(area.circle)
            if shapes > MAX_SHAPES:
                return over(f"more than {MAX_SHAPES} polygons and circles")
            for polygon in area.polygon:
                vertices += len(polygon.points)
                box += _box_km2(list(polygon.points))
            for circle in area.circle:
                radius = circle.radius_km
                if math.isfinite(radius) and radius > MAX_CIRCLE_RADIUS_KM:
                    return over(f"a circle of radius {radius:g} km; the limit is "
                                f"{MAX_CIRCLE_RADIUS_KM:.0f} km")
                vertices += CIRCLE_VERTICES
                if math.isfinite(radius) and radius > 0:
                    box += (2 * radius) ** 2
            if vertices > MAX_VERTICES:
                return over(f"more than {MAX_VERTICES} vertices (a circle counts "
                            f"{CIRCLE_VERTICES})")
            if box > MAX_SHAPE_BOX_KM2:
                return over(f"shapes whose bounding boxes add up to more than "
                            f"{MAX_SHAPE_BOX_KM2:,.0f} km²")
    return None

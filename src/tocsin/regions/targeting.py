"""Resolve a CAP ``<area>`` to the regions it affects, each *full* or *partial*.

An area may name regions by ``<geocode>`` (valueName ``KATOTTG`` or
``ISO3166-2``) and draw shapes with ``<polygon>`` and ``<circle>``; CAP reads
them as a union. Coverage follows alerts.in.ua's A/P marks: a named region and
everything below it is *full*; everything above it is *partial*. A shape makes
a hromada *full* when it covers the hromada entirely, *partial* when it only
meets it; a raion or oblast is *full* only when every hromada in it is.

Bad input is refused with :class:`AreaError` naming the problem: unclosed or
self-intersecting polygons, impossible coordinates, unknown codes, areas with
nothing to target, and shapes entirely outside the region set (with a hint
when swapping latitude and longitude would bring them inside). An alert must
never match nobody silently.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import shapely
from shapely.geometry.base import BaseGeometry

from tocsin.cap.model import Area, Circle, Polygon
from tocsin.regions.errors import AreaError, AreaOutsideError, CoordinateError
from tocsin.regions.geometry import EARTH_RADIUS_KM, check_coordinates
from tocsin.regions.hierarchy import RegionSet

Coverage = Literal["full", "partial"]

#: geocode valueNames understood here; others (FIPS, SAME, ...) are left to other systems.
GEOCODE_KATOTTG = "KATOTTG"
GEOCODE_ISO = "ISO3166-2"

CIRCLE_SEGMENTS = 72  # one vertex every 5 degrees: under 0.4 % radial error
MAX_CIRCLE_RADIUS_KM = 2500.0  # wider than Ukraine; larger circles are surely a mistake


@dataclass(frozen=True, slots=True)
class ResolvedArea:
    """An area reduced to canonical geocodes and validated shapes (lon/lat order)."""

    geocodes: frozenset[str]
    shape: BaseGeometry | None  # union of all polygons and circles, if any


def polygon_shape(polygon: Polygon) -> BaseGeometry:
    """A CAP polygon as a valid shapely polygon, or :class:`AreaError` saying why not."""
    points = polygon.points
    if len(points) < 4:
        raise AreaError(f"polygon has {len(points)} points; CAP requires at least 4")
    if points[0] != points[-1]:
        raise AreaError(f"polygon is not closed: first point {points[0]} differs from last {points[-1]}")
    for lat, lon in points:
        try:
            check_coordinates(lat, lon)
        except CoordinateError as exc:
            raise AreaError(f"polygon point ({lat}, {lon}): {exc}") from exc
    shape = shapely.Polygon([(lon, lat) for lat, lon in points])
    if not shape.is_valid:
        reason = shapely.is_valid_reason(shape)
        raise AreaError(f"polygon is not a simple ring: {_reason_latlon(reason)}")
    if shape.area == 0:
        raise AreaError("polygon has zero area")
    return shape


def _reason_latlon(reason: str) -> str:
    """GEOS reports ``Self-intersection[x y]``; show it as (lat, lon) like CAP."""
    head, _, rest = reason.partition("[")
    if not rest.endswith("]"):
        return reason
    parts = rest[:-1].split()
    if len(parts) != 2:
        return reason
    return f"{head.lower()} at ({parts[1]}, {parts[0]})"


def circle_shape(circle: Circle) -> BaseGeometry:
    """A CAP circle as a polygon of geodesic destination points (a point if radius 0)."""
    try:
        check_coordinates(circle.lat, circle.lon)
    except CoordinateError as exc:
        raise AreaError(f"circle centre: {exc}") from exc
    radius = circle.radius_km
    if not math.isfinite(radius) or radius < 0:
        raise AreaError(f"circle radius {radius} km must be a non-negative number")
    if radius > MAX_CIRCLE_RADIUS_KM:
        raise AreaError(f"circle radius {radius} km exceeds {MAX_CIRCLE_RADIUS_KM:.0f} km")
    if radius == 0:
        return shapely.Point(circle.lon, circle.lat)
    lat1, lon1 = math.radians(circle.lat), math.radians(circle.lon)
    angular = radius / EARTH_RADIUS_KM
    ring: list[tuple[float, float]] = []
    for step in range(CIRCLE_SEGMENTS):
        bearing = 2 * math.pi * step / CIRCLE_SEGMENTS
        lat2 = math.asin(
            math.sin(lat1) * math.cos(angular) + math.cos(lat1) * math.sin(angular) * math.cos(bearing)
        )
        lon2 = lon1 + math.atan2(
            math.sin(bearing) * math.sin(angular) * math.cos(lat1),
            math.cos(angular) - math.sin(lat1) * math.sin(lat2),
        )
        ring.append((math.degrees(lon2), math.degrees(lat2)))
    return shapely.Polygon(ring)


def resolve_area(area: Area, regions: RegionSet) -> ResolvedArea:
    """Validate an area and reduce it to canonical codes and one union shape."""
    label = f"area {area.area_desc!r}"
    codes: set[str] = set()
    for pair in area.geocode:
        name = pair.value_name.strip()
        value = pair.value.strip()
        if name.upper() == regions.code_scheme.upper():
            region = regions.get(value)
            if region is None or region.code != value.upper():
                raise AreaError(f"{label}: geocode {name}={pair.value!r} is not a known code")
            codes.add(region.code)
        elif name.upper() == GEOCODE_ISO:
            region = regions.get(value)
            if region is None or region.iso_3166_2 != value.upper():
                raise AreaError(f"{label}: geocode ISO3166-2={pair.value!r} is not a known code")
            codes.add(region.code)
    shapes: list[BaseGeometry] = []
    try:
        for polygon in area.polygon:
            shapes.append(polygon_shape(polygon))
        for circle in area.circle:
            shapes.append(circle_shape(circle))
    except AreaOutsideError:
        raise
    except AreaError as exc:
        raise AreaError(f"{label}: {exc}") from exc
    if not codes and not shapes:
        raise AreaError(
            f"{label}: nothing to target (no {regions.code_scheme} or {GEOCODE_ISO} geocode, "
            "polygon or circle)"
        )
    index = regions.geometry() if shapes else None
    for shape in shapes:
        assert index is not None
        if len(index.tree.query(shape, predicate="intersects")) == 0:
            swapped = shapely.transform(shape, lambda xy: xy[:, ::-1])
            hint = ""
            if len(index.tree.query(swapped, predicate="intersects")) > 0:
                hint = " (with latitude and longitude swapped it would be inside)"
            kind = "point circle" if shape.geom_type == "Point" else "shape"
            raise AreaOutsideError(f"{label}: {kind} lies outside every region{hint}")
    union = None
    if shapes:
        union = shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
    return ResolvedArea(geocodes=frozenset(codes), shape=union)


@functools.cache
def leaves_under(regions: RegionSet) -> dict[str, frozenset[str]]:
    """For every region, the geometry leaves at or below it (cached per region set)."""
    out: dict[str, set[str]] = {}
    for leaf in set(regions.geometry().codes):
        for region in regions.with_ancestors([leaf]):
            out.setdefault(region.code, set()).add(leaf)
    return {code: frozenset(leaves) for code, leaves in out.items()}


def _mark(result: dict[str, Coverage], code: str, coverage: Coverage) -> None:
    if result.get(code) != "full":
        result[code] = coverage


def target_codes(codes: Iterable[str], regions: RegionSet) -> dict[str, Coverage]:
    """Coverage for regions named by code: each and its descendants full, ancestors partial."""
    result: dict[str, Coverage] = {}
    for code in codes:
        region = regions.require(code)
        _mark(result, region.code, "full")
        for below in regions.descendants(region.code):
            _mark(result, below.code, "full")
        for above in regions.ancestors(region.code):
            _mark(result, above.code, "partial")
    return result


def target_area(area: Area, regions: RegionSet) -> dict[str, Coverage]:
    """Every region ``area`` affects, code -> ``"full"`` or ``"partial"``.

    Raises :class:`AreaError` (or its subclass :class:`AreaOutsideError`) with a
    message naming the problem; never returns an empty mapping.
    """
    return target_resolved(resolve_area(area, regions), regions)


def target_resolved(resolved: ResolvedArea, regions: RegionSet, *,
                    within: frozenset[str] | None = None) -> dict[str, Coverage]:
    """Coverage for an already resolved area.

    ``within`` (geometry leaf codes) restricts what shapes reach: a leaf outside
    it is never targeted by a shape, however the shape meets it. The ledger
    passes an issuer's jurisdiction here after checking that every shape lies
    inside it up to the border tolerance, so a shape that follows a border does
    not spill onto the neighbours it grazes. Geocodes are not restricted here
    (the ledger refuses geocodes outside the jurisdiction before this).
    """
    result = target_codes(resolved.geocodes, regions)
    if resolved.shape is None:
        return result
    touched = regions.geometry().overlay(resolved.shape)
    if within is not None:
        touched = {leaf: full for leaf, full in touched.items() if leaf in within}
    for leaf, is_full in touched.items():
        coverage: Coverage = "full" if is_full else "partial"
        _mark(result, leaf, coverage)
        # Below a leaf there is no geometry: a partial leaf leaves every unit
        # under it possibly affected, so they are partial too (the safe choice).
        for below in regions.descendants(leaf):
            _mark(result, below.code, coverage)
    under = leaves_under(regions)
    full_leaves = {leaf for leaf, is_full in touched.items() if is_full}
    for region in regions.with_ancestors(touched):
        if region.code in touched:
            continue
        leaves = under.get(region.code, frozenset())
        _mark(result, region.code, "full" if leaves and leaves <= full_leaves else "partial")
    return result

"""Jurisdiction by effect: an alert is judged by every region it *reaches*.

The rule (docs/trust.md, "Jurisdiction"):

* every KATOTTG / ISO 3166-2 geocode of every ``area`` of every ``info`` must
  name a region inside the issuer's jurisdiction (a jurisdiction code covers
  itself and everything below it);
* every ``<polygon>`` and ``<circle>`` must lie inside the jurisdiction's
  geometry (the union of the boundaries of every mapped unit it covers),
  allowing :data:`BORDER_TOLERANCE_KM` for shapes drawn along a border. A
  shape that spills over by less than that reaches only the jurisdiction's own
  units: the units it grazes outside are never targeted;
* an ``info`` with no area targets nowhere in particular, which only a
  nationwide issuer (``*``) may send — except a denial (it is about a
  message, not a place);
* the targets that result (full and partial) must all lie inside the
  jurisdiction, save ``partial`` marks on the regions that contain it.

A nationwide issuer's shapes are not held to the country's outline (it may
warn across a border or over the sea); they still target only mapped units.

Pure: no I/O. The jurisdiction's geometry is built once per (region set,
jurisdiction) and cached in memory.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import msgspec
import shapely
from shapely.geometry.base import BaseGeometry

from tocsin.cap.model import Alert
from tocsin.kinds import KindClass, alert_kinds, kind_class
from tocsin.regions import AreaError, RegionSet, UnknownRegionError
from tocsin.regions.targeting import Coverage, leaves_under, resolve_area, target_resolved
from tocsin.trust.registry import NATIONWIDE, Issuer

BORDER_TOLERANCE_KM = 0.3
"""How far a shape may stray outside its issuer's jurisdiction: a shape drawn along a
border (by hand, or from other boundary data) strays a little. Nominal: distances are
measured in a frame scaled at the jurisdiction's mid-latitude, and the grown outline is a
polygon (4 segments per quarter circle), so the true allowance is within about ±8 % of
300 m for one oblast, and between about 250 and 325 m east-west for a jurisdiction that
spans all of Ukraine (exact north-south)."""
KM_PER_DEGREE = 111.195


@dataclass(frozen=True, slots=True)
class Reach:
    """What an authorised alert reaches: the targets the hub stores and delivers to.

    ``shapes_inside`` is False when some shape meets a unit outside the jurisdiction
    (within the border tolerance, or just touching the border): delivery must then match
    subscribers at points by these targets, not by the shapes as drawn, or a point just
    across the border would be warned.
    """

    targets: dict[str, Coverage]
    shapes_inside: bool = True


@dataclass(frozen=True, slots=True)
class ReachRefusal:
    code: str  # "unauthorised" (outside the jurisdiction) or "invalid_cap" (a bad area)
    reason: str


@dataclass(frozen=True)
class _Zone:
    """An issuer's jurisdiction, ready for fast questions."""

    inside: frozenset[str]  # the jurisdiction's codes and every code below them
    above: frozenset[str]  # every code above a jurisdiction code
    leaves: frozenset[str]  # geometry leaves inside
    lat0: float  # scaling latitude (radians)
    shape: BaseGeometry | None  # buffered by the tolerance, in the scaled frame; None: no geometry


def _scale(geom: BaseGeometry, lat0: float) -> BaseGeometry:
    factor = math.cos(lat0)
    return shapely.transform(geom, lambda xy: xy * (factor, 1.0))


_ZONE_LOCK = threading.Lock()  # one build at a time: two workers never build the same zone


def _zone(regions: RegionSet, codes: tuple[str, ...], with_geometry: bool) -> _Zone:
    with _ZONE_LOCK:
        return _build_zone(regions, codes, with_geometry)


@functools.lru_cache(maxsize=256)
def _build_zone(regions: RegionSet, codes: tuple[str, ...], with_geometry: bool) -> _Zone:
    """The jurisdiction's codes and, if asked, its outline grown by the tolerance.

    Built once per (region set, jurisdiction), on first use by an alert with a shape:
    about a second for a jurisdiction of every oblast. Each unit is grown on its own
    and the results are unioned (the union of grown parts is the grown union), because
    GEOS's union releases the GIL and one small buffer at a time holds it only briefly:
    building never stalls the hub's event loop.
    """
    inside: set[str] = set()
    above: set[str] = set()
    for code in codes:
        region = regions.get(code)
        if region is None:
            continue
        inside.add(region.code)
        inside.update(r.code for r in regions.descendants(region.code))
        above.update(r.code for r in regions.ancestors(region.code))
    if not with_geometry:
        return _Zone(frozenset(inside), frozenset(above), frozenset(), 0.0, None)
    under = leaves_under(regions)
    leaves: set[str] = set()
    for code in codes:
        region = regions.get(code)
        if region is not None:
            leaves.update(under.get(region.code, frozenset()))
    if not leaves:
        return _Zone(frozenset(inside), frozenset(above), frozenset(), 0.0, None)
    index = regions.geometry()
    geoms = [g for c, g in zip(index.codes, index.geoms, strict=True) if c in leaves]
    south, north = min(g.bounds[1] for g in geoms), max(g.bounds[3] for g in geoms)
    lat0 = math.radians((south + north) / 2)
    grow = BORDER_TOLERANCE_KM / KM_PER_DEGREE
    zone = shapely.union_all([_scale(g, lat0).buffer(grow, quad_segs=4) for g in geoms])
    shapely.prepare(zone)
    return _Zone(frozenset(inside), frozenset(above), frozenset(leaves), lat0, zone)


def _info_kinds_class(alert: Alert, index: int) -> KindClass:
    one = msgspec.structs.replace(alert, info=(alert.info[index],))
    return kind_class(alert_kinds(one))


def judge_reach(alert: Alert, issuer: Issuer, regions: RegionSet, *,
                with_targets: bool = True) -> Reach | ReachRefusal:
    """Every region ``alert`` reaches, or why ``issuer`` may not reach it (see module doc).

    The verdict does not depend on ``with_targets``: geocodes inside the jurisdiction and
    shapes inside its grown outline can only set targets inside it (shape targets are
    restricted to its units), so the final check on the targets holds by construction and
    is kept as a guard. A verifier that needs only the verdict skips computing them
    (``Reach.targets`` is then empty).
    """
    nationwide = NATIONWIDE in issuer.jurisdiction
    codes = tuple(sorted(c for c in issuer.jurisdiction if c != NATIONWIDE))
    scope = ", ".join(issuer.jurisdiction)
    has_shapes = any(a.polygon or a.circle for i in alert.info for a in i.area)
    zone = None if nationwide else _zone(regions, codes, has_shapes)
    merged: dict[str, Coverage] = {}
    shapes_inside = True
    reaches_somewhere = False  # some area names a region, or a shape meets one it may warn
    for i, info in enumerate(alert.info, start=1):
        if not info.area and not nationwide \
                and _info_kinds_class(alert, i - 1) != KindClass.DENIAL:
            return ReachRefusal("unauthorised", f"info[{i}] has no area, which only a "
                                "nationwide issuer may send (or a denial)")
        for a, area in enumerate(info.area, start=1):
            where = f"info[{i}]/area[{a}] ({area.area_desc!r})"
            for pair in area.geocode:  # a code nobody knows cannot be shown to be inside
                if pair.value_name.strip().upper() in regions.geocode_names \
                        and regions.canonical(pair.value.strip()) is None:
                    return ReachRefusal("unauthorised",
                                        f"{where} names unknown region code {pair.value!r}")
            try:
                resolved = resolve_area(area, regions)
            except AreaError as exc:
                return ReachRefusal("invalid_cap", f"{where}: {exc}")
            if zone is not None:
                for code in sorted(resolved.geocodes):
                    if code not in zone.inside:
                        return ReachRefusal("unauthorised", f"{where} targets {code}, outside "
                                            f"the jurisdiction of issuer {issuer.id!r} ({scope})")
                if resolved.shape is not None:
                    problem = _shape_problem(resolved.shape, zone, regions)
                    if problem is not None:
                        return ReachRefusal("unauthorised", f"{where}: {problem}, outside the "
                                            f"jurisdiction of issuer {issuer.id!r} ({scope})")
            if resolved.geocodes:
                reaches_somewhere = True
            elif resolved.shape is not None and not reaches_somewhere:
                index = regions.geometry()
                met = index.tree.query(resolved.shape, predicate="intersects")
                reaches_somewhere = any(zone is None or index.codes[int(n)] in zone.leaves
                                        for n in met)
            if not with_targets:
                continue
            if zone is not None and resolved.shape is not None and shapes_inside:
                index = regions.geometry()
                met = index.tree.query(resolved.shape, predicate="intersects")
                shapes_inside = all(index.codes[int(n)] in zone.leaves for n in met)
            try:
                found = target_resolved(resolved, regions,
                                        within=None if zone is None else zone.leaves)
            except (AreaError, UnknownRegionError) as exc:
                return ReachRefusal("invalid_cap", f"{where}: {exc}")
            for code, coverage in found.items():
                if merged.get(code) != "full":
                    merged[code] = coverage
    if not reaches_somewhere and any(info.area for info in alert.info) \
            and alert.msg_type in ("Alert", "Update"):
        # A shape within the border tolerance yet meeting no unit of the jurisdiction warns
        # nobody the issuer may warn: the hub would store an alert with no target.
        return ReachRefusal("invalid_cap", "the alert names no area inside the region set "
                            f"that issuer {issuer.id!r} may warn ({scope})")
    if zone is not None:
        for code, coverage in sorted(merged.items()):
            if code in zone.inside or (coverage == "partial" and code in zone.above):
                continue
            return ReachRefusal("unauthorised", f"the alert reaches {code} ({coverage}), outside "
                                f"the jurisdiction of issuer {issuer.id!r} ({scope})")
    return Reach(merged, shapes_inside)


def _shape_problem(shape: BaseGeometry, zone: _Zone, regions: RegionSet) -> str | None:
    if zone.shape is None:
        return ("a shape, but the jurisdiction has no mapped boundary to hold it against "
                "(name its regions by geocode)")
    scaled = _scale(shape, zone.lat0)
    if zone.shape.covers(scaled):
        return None
    stray = scaled.difference(zone.shape)
    point = stray.representative_point()
    lat, lon = point.y, point.x / math.cos(zone.lat0)
    there = regions.locate(lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else []
    named = f"{there[-1].code} ({there[-1].name_en})" if there else "no mapped region"
    return (f"a shape reaches ({lat:.4f}, {lon:.4f}) in {named}, more than "
            f"{BORDER_TOLERANCE_KM * 1000:.0f} m")

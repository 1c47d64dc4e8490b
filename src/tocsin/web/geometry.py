"""Simplified region boundaries for the map, one GeoJSON file per level.

The map never needs survey-grade borders: it needs the first paint to be
fast. So the hromada boundaries the region set ships are simplified once,
per level, with a tolerance matched to the zoom at which that level is
shown, coordinates rounded, and the results written into the package
(``static/geo/<level>.json``) by ``python -m tocsin.web.geometry``. Raions
and oblasts are unions of their hromadas, so the three levels always nest
and share their borders.

The hub serves the shipped files as they are; a region set without shipped
files (another country) gets them built on first request and cached in
memory (:func:`level_geojson`).
"""

from __future__ import annotations

import json
import sys
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from tocsin.regions import Level, RegionSet, default_region_set

GEO_DIR = Path(__file__).parent / "static" / "geo"

#: Map levels, coarsest first, with (simplify tolerance in degrees, decimals kept).
#: 0.01° is about 1 km: invisible at the zoom where whole oblasts are shown.
LEVEL_SPECS: dict[Level, tuple[float, int]] = {
    "oblast": (0.012, 2),
    "raion": (0.006, 3),
    "hromada": (0.003, 3),
}
MAP_LEVELS: tuple[Level, ...] = ("oblast", "raion", "hromada")


class GeometryBuildError(Exception):
    """The region set's boundaries cannot be turned into map layers."""


def _rounded(coords: Any, decimals: int) -> Any:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(float(c), decimals) for c in coords]
    return [_rounded(c, decimals) for c in coords]


def _drop_specks(geom: Any, min_area: float) -> Any:
    """Remove islets and union slivers too small to see at this level (keeps the largest part)."""
    from shapely.geometry import MultiPolygon, Polygon

    parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    kept = [Polygon(p.exterior, [h for h in p.interiors if Polygon(h).area >= min_area])
            for p in parts if p.area >= min_area]
    if not kept:
        kept = [max(parts, key=lambda p: p.area)]
    return MultiPolygon(kept) if len(kept) > 1 else kept[0]


def build_level(regions: RegionSet, level: Level, *, oblast: str | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``level`` regions: ``{code, level, oblast, names}`` each.

    Every finest-level shape is assigned to its ancestor at ``level`` (a
    placeholder shape coded at a coarser level, like Crimea's, stands for
    itself at every finer level), merged, simplified and rounded.
    """
    import shapely
    from shapely.geometry import mapping

    if level not in LEVEL_SPECS:
        raise GeometryBuildError(f"no map layer for level {level!r}")
    tolerance, decimals = LEVEL_SPECS[level]
    index = regions.geometry()
    depth = MAP_LEVELS.index(level)
    groups: dict[str, list[Any]] = defaultdict(list)
    for code, geom in zip(index.codes, index.geoms, strict=True):
        region = regions.require(code)
        if oblast is not None and region.oblast != oblast:
            continue
        chain = [r for r in reversed(regions.ancestors(code))] + [region]
        chain = [r for r in chain if r.level in MAP_LEVELS]
        owner = chain[min(depth, len(chain) - 1)]
        groups[owner.code].append(geom)
    features = []
    for code in sorted(groups):
        region = regions.require(code)
        merged = shapely.union_all(groups[code]) if len(groups[code]) > 1 else groups[code][0]
        simple = shapely.simplify(_drop_specks(merged, (3 * tolerance) ** 2), tolerance,
                                  preserve_topology=True)
        if simple.is_empty:
            continue
        geometry = mapping(simple)
        features.append({
            "type": "Feature",
            "properties": {"code": code, "level": region.level, "oblast": region.oblast,
                           "name_uk": region.name_uk, "name_en": region.name_en},
            "geometry": {"type": geometry["type"],
                         "coordinates": _rounded(geometry["coordinates"], decimals)},
        })
    return {"type": "FeatureCollection", "features": features}


def encode(collection: dict[str, Any]) -> bytes:
    """Compact JSON (no spaces): the file size is what the browser pays."""
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode()


_cache: dict[tuple[int, str], bytes] = {}
_cache_lock = threading.Lock()


def layer_name(level: Level, oblast: str | None) -> str:
    """File stem of a layer: hromadas come one file per oblast (loaded as you zoom in there)."""
    return f"{level}-{oblast}" if oblast else level


def level_geojson(regions: RegionSet, level: Level, oblast: str | None = None) -> bytes:
    """A map layer: the shipped file for the default set, else built once and cached."""
    if level not in LEVEL_SPECS:
        raise GeometryBuildError(f"no map layer for level {level!r}")
    if (level == "hromada") != (oblast is not None):
        raise GeometryBuildError("hromada layers are per oblast; other layers are whole")
    shipped = GEO_DIR / f"{layer_name(level, oblast)}.json"
    if regions is default_region_set() and shipped.exists():
        return shipped.read_bytes()
    key = (id(regions), layer_name(level, oblast))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = encode(build_level(regions, level, oblast=oblast))
        return _cache[key]


def main(argv: list[str] | None = None) -> int:
    """Rebuild the shipped layers: ``python -m tocsin.web.geometry [OUT_DIR]``."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else GEO_DIR
    out.mkdir(parents=True, exist_ok=True)
    regions = default_region_set()
    for old in out.glob("*.json"):
        old.unlink()
    for level in ("oblast", "raion"):
        data = encode(build_level(regions, level))
        (out / f"{layer_name(level, None)}.json").write_bytes(data)
        print(f"{level}: {len(data) / 1024:.0f} KiB")
    total = 0
    for oblast in regions.at_level("oblast"):
        data = encode(build_level(regions, "hromada", oblast=oblast.code))
        (out / f"{layer_name('hromada', oblast.code)}.json").write_bytes(data)
        total += len(data)
    print(f"hromada: {total / 1024:.0f} KiB in {len(regions.at_level('oblast'))} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

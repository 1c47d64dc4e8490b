"""Benchmarks for tocsin.regions: prints figures, asserts nothing.

    python bench/bench_regions.py [--subscribers 1000000] [--seed 1]

Measures, on one core:
* loading: codes only (jurisdiction checks), boundaries, the name index;
* point -> hromada lookups per second, vectorised and one call per point;
* matching one alert (a 200-vertex polygon; an oblast geocode) against N point
  subscribers spread uniformly over Ukraine;
* memory held by the index for N subscribers (tracemalloc, ids excluded).
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from tocsin.cap.model import Area, Polygon, ValuePair
from tocsin.regions import default_region_set
from tocsin.regions.subscriptions import PointIndex

UKRAINE_BOX = (44.3, 22.1, 52.4, 40.3)  # south, west, north, east


def timed(func: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    """Median wall time in seconds over ``repeat`` runs, and the last result."""
    times: list[float] = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def points_inside(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random points that fall inside some hromada."""
    geometry = default_region_set().geometry()
    south, west, north, east = UKRAINE_BOX
    lats: list[np.ndarray] = []
    lons: list[np.ndarray] = []
    have = 0
    while have < n:
        lat = rng.uniform(south, north, n)
        lon = rng.uniform(west, east, n)
        hit = np.unique(geometry.query_points(lat, lon)[0])
        lats.append(lat[hit])
        lons.append(lon[hit])
        have += len(hit)
    return np.concatenate(lats)[:n], np.concatenate(lons)[:n]


def star_polygon(lat: float, lon: float, radius_deg: float, vertices: int) -> Polygon:
    """A wavy closed ring with ``vertices`` distinct points (the CAP closing point extra)."""
    ring: list[tuple[float, float]] = []
    for k in range(vertices):
        angle = 2 * math.pi * k / vertices
        r = radius_deg * (1 + 0.25 * math.sin(7 * angle))
        ring.append((lat + r * math.sin(angle), lon + 1.5 * r * math.cos(angle)))
    ring.append(ring[0])
    return Polygon(points=tuple(ring), text="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.subscribers

    start = time.perf_counter()
    default_region_set.cache_clear()
    rs = default_region_set()
    print(f"load codes (default_region_set):     {1000 * (time.perf_counter() - start):8.1f} ms")
    start = time.perf_counter()
    geometry = rs.geometry()
    print(f"load hromada boundaries + STRtree:   {1000 * (time.perf_counter() - start):8.1f} ms")
    start = time.perf_counter()
    rs.find_by_name("Київ")
    print(f"build name index (first find):       {1000 * (time.perf_counter() - start):8.1f} ms")

    lats, lons = points_inside(n, rng)
    sample = min(n, 200_000)
    seconds, _ = timed(lambda: geometry.query_points(lats[:sample], lons[:sample]), repeat=3)
    print(f"point -> hromada, vectorised:        {sample / seconds:10,.0f} points/s")
    single = 20_000
    pairs = list(zip(lats[:single].tolist(), lons[:single].tolist(), strict=True))
    seconds, _ = timed(lambda: [rs.locate(lat, lon) for lat, lon in pairs], repeat=1)
    print(f"RegionSet.locate, one call a point:  {single / seconds:10,.0f} points/s")

    ids = list(range(n))  # ids exist before the index, as a caller's would
    gc.collect()
    tracemalloc.start()
    index: PointIndex[int] = PointIndex(rs)
    index.add_many(ids, lats, lons)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"index memory for {n:,} subscribers: {held / 2**20:8.1f} MiB held "
        f"({peak / 2**20:.1f} MiB peak while building)"
    )
    del index
    gc.collect()
    index = PointIndex(rs)
    start = time.perf_counter()
    index.add_many(ids, lats, lons)
    print(f"add_many {n:,} subscribers:        {time.perf_counter() - start:8.2f} s")

    def report(label: str, area: Area) -> None:
        seconds, matched = timed(lambda: index.match(area))
        assert isinstance(matched, set)
        print(f"match {label:<38} {1000 * seconds:7.1f} ms -> {len(matched):,} subscribers")

    for label, (clat, clon, radius) in {
        "200-vertex polygon, ~40 km, Kyiv": (50.45, 30.52, 0.35),
        "200-vertex polygon, ~150 km, central": (49.0, 31.5, 1.3),
        "200-vertex polygon, ~400 km, half UA": (49.0, 31.5, 3.5),
    }.items():
        report(label, Area(area_desc="bench", polygon=(star_polygon(clat, clon, radius, 200),)))
    geocode = ValuePair(value_name="ISO3166-2", value="UA-12")
    report("geocode UA-12 (an oblast)", Area(area_desc="bench", geocode=(geocode,)))


if __name__ == "__main__":
    main()

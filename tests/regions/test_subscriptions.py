"""PointIndex: subscribers at points get every alert whose area reaches them, and only those."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from tocsin.cap.model import Area, Circle, Polygon, ValuePair
from tocsin.regions import (
    CoordinateError,
    OutsideRegionsError,
    RegionSet,
    UnknownRegionError,
    default_region_set,
)
from tocsin.regions.subscriptions import PointIndex
from tocsin.regions.targeting import polygon_shape

PLACES = {
    "lviv": (49.8397, 24.0297),
    "kyiv": (50.4501, 30.5234),
    "slavutych": (51.5220, 30.7560),
    "chernihiv": (51.4982, 31.2893),
    "kharkiv": (49.9935, 36.2304),
    "simferopol": (44.9521, 34.1024),
    "kotsiubynske": (50.4870, 30.3330),
}


@pytest.fixture(scope="module")
def rs() -> RegionSet:
    return default_region_set()


@pytest.fixture
def index(rs: RegionSet) -> PointIndex[str]:
    idx: PointIndex[str] = PointIndex(rs)
    for name, (lat, lon) in PLACES.items():
        idx.add(name, lat, lon)
    return idx


def area(**kwargs: object) -> Area:
    return Area(area_desc="test", **kwargs)  # type: ignore[arg-type]


def ring(points: list[tuple[float, float]]) -> Polygon:
    closed = (*points, points[0])
    return Polygon(points=closed, text="")


def test_codes_reach_everyone_below(index: PointIndex[str]) -> None:
    assert index.match(["UA-32"]) == {"slavutych", "kotsiubynske"}  # Kyiv Oblast, enclaves
    assert index.match(["UA74000000000025378"]) == {"chernihiv"}  # not Slavutych
    assert index.match(["31", "alerts.in.ua:22"]) == {"kyiv", "kharkiv"}
    assert index.match([]) == set()


def test_geocode_area(index: PointIndex[str]) -> None:
    a = area(geocode=(ValuePair(value_name="KATOTTG", value="UA32100130000093505"),))
    assert index.match(a) == {"slavutych"}


def test_codes_finer_than_geometry_reach_the_whole_unit(index: PointIndex[str]) -> None:
    """A Kyiv district or a Crimean hromada: we cannot tell where inside, so warn all."""
    pechersk = next(d.code for d in index.regions.children("UA-30") if d.name_uk == "Печерський")
    assert index.match([pechersk]) == {"kyiv"}
    crimean = next(r for r in index.regions.descendants("UA-43") if r.level == "hromada")
    assert index.match([crimean.code]) == {"simferopol"}


def test_circle_reaches_only_points_inside(index: PointIndex[str]) -> None:
    lat, lon = PLACES["lviv"]
    near = area(circle=(Circle(lat=lat + 0.01, lon=lon, radius_km=2, text=""),))
    far = area(circle=(Circle(lat=lat + 0.05, lon=lon, radius_km=2, text=""),))  # 5.5 km off
    assert index.match(near) == {"lviv"}
    assert index.match(far) == set()  # same hromada, but the point is outside the circle


def test_polygon_over_kyiv_and_around(index: PointIndex[str]) -> None:
    box = ring([(50.2, 30.15), (50.62, 30.15), (50.62, 30.95), (50.2, 30.95)])
    assert index.match(area(polygon=(box,))) == {"kyiv", "kotsiubynske"}


def test_remove_and_move(index: PointIndex[str]) -> None:
    assert index.remove("kharkiv") and not index.remove("kharkiv")
    assert "kharkiv" not in index
    assert index.match(["UA-63"]) == set()
    index.add("lviv", *PLACES["kharkiv"])  # re-adding moves the subscriber
    assert index.match(["UA-63"]) == {"lviv"}
    assert index.match(["UA-46"]) == set()
    assert len(index) == len(PLACES) - 1


def test_refuses_points_it_could_never_reach(index: PointIndex[str]) -> None:
    with pytest.raises(CoordinateError):
        index.add("x", 95.0, 30.0)
    with pytest.raises(OutsideRegionsError, match="swapped"):
        index.add("x", 30.5234, 50.4501)
    with pytest.raises(OutsideRegionsError, match="outside every region"):
        index.add("x", 48.8566, 2.3522)
    assert "x" not in index


def test_unknown_code_is_an_error(index: PointIndex[str]) -> None:
    with pytest.raises(UnknownRegionError):
        index.match(["UA-99"])
    with pytest.raises(UnknownRegionError):
        index.match("UA-99")


def test_a_single_code_string_is_one_code(index: PointIndex[str]) -> None:
    assert index.match("UA-46") == {"lviv"}


def test_border_point_gets_both_sides(rs: RegionSet) -> None:
    index: PointIndex[str] = PointIndex(rs)
    geo = rs.geometry()
    kyiv = geo.geoms[geo.codes.index("UA80000000000093317")]
    vysh = geo.geoms[geo.codes.index("UA32100010000094393")]
    shared = set(map(tuple, shapely.get_coordinates(kyiv).tolist())) & set(
        map(tuple, shapely.get_coordinates(vysh).tolist())
    )
    lon, lat = min(shared)
    leaves = index.add("border", lat, lon)
    assert {"UA80000000000093317", "UA32100010000094393"} <= set(leaves)
    assert index.match(["UA-30"]) == {"border"}
    assert index.match(["UA-32"]) == {"border"}


def test_bulk_add_matches_brute_force(rs: RegionSet) -> None:
    """Random subscribers, random polygon: the index agrees with testing every point."""
    rng = np.random.default_rng(7)
    lats = rng.uniform(47.0, 51.5, 20_000)
    lons = rng.uniform(24.0, 38.0, 20_000)
    ids = [f"s{i}" for i in range(len(lats))]
    index: PointIndex[str] = PointIndex(rs)
    left_out = set(index.add_many(ids, lats, lons))
    assert len(index) + len(left_out) == len(ids)
    assert 0 < len(left_out) < len(ids) // 5  # the box pokes out of Ukraine a little
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    radii = 1.2 + 0.6 * np.sin(5 * angles)  # a star: many hromadas cut partially
    star = zip(radii, angles, strict=True)
    poly = ring([(49.3 + r * np.sin(t), 31.0 + 1.5 * r * np.cos(t)) for r, t in star])
    shape = polygon_shape(poly)
    inside = shapely.intersects_xy(shape, lons, lats)
    expected = {i for i, hit in zip(ids, inside, strict=True) if hit and i not in left_out}
    got = index.match(area(polygon=(poly,)))
    assert got == expected
    assert len(expected) > 1000
    # The same points added one by one give the same answer.
    single: PointIndex[str] = PointIndex(rs)
    for i, lat, lon in list(zip(ids, lats, lons, strict=True))[:2000]:
        if i not in left_out:
            single.add(i, float(lat), float(lon))
    assert single.match(area(polygon=(poly,))) == {i for i in expected if int(i[1:]) < 2000}


def test_bulk_add_refuses_bad_coordinates(rs: RegionSet) -> None:
    index: PointIndex[str] = PointIndex(rs)
    with pytest.raises(CoordinateError, match=r"point #1 \('b'\)"):
        index.add_many(["a", "b"], [50.0, 120.0], [30.0, 30.0])
    with pytest.raises(ValueError, match="more than once"):
        index.add_many(["a", "a"], [50.0, 50.0], [30.0, 30.0])
    with pytest.raises(ValueError, match="differ in length"):
        index.add_many(["a"], [50.0, 50.0], [30.0, 30.0])
    assert len(index) == 0

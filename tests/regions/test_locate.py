"""Point lookup: real towns, enclaves, exclaves, borders, overlaps and bad coordinates."""

from __future__ import annotations

import math

import pytest
import shapely

from tocsin.regions import CoordinateError, OutsideRegionsError, RegionSet, default_region_set

# (lat, lon) of town centres -> (hromada, raion, oblast) names from KATOTTG.
TOWNS = {
    "Lviv": ((49.8397, 24.0297), ("Львівська", "Львівський", "Львівська")),
    "Kharkiv": ((49.9935, 36.2304), ("Харківська", "Харківський", "Харківська")),
    "Odesa": ((46.4825, 30.7233), ("Одеська", "Одеський", "Одеська")),
    "Vyshhorod": ((50.5850, 30.4897), ("Вишгородська", "Вишгородський", "Київська")),
    "Uzhhorod": ((48.6208, 22.2879), ("Ужгородська", "Ужгородський", "Закарпатська")),
    "Chernivtsi": ((48.2915, 25.9403), ("Чернівецька", "Чернівецький", "Чернівецька")),
    "Dnipro": ((48.4647, 35.0462), ("Дніпровська", "Дніпровський", "Дніпропетровська")),
    "Zaporizhzhia": ((47.8388, 35.1396), ("Запорізька", "Запорізький", "Запорізька")),
    "Chernihiv": ((51.4982, 31.2893), ("Чернігівська", "Чернігівський", "Чернігівська")),
    "Irpin": ((50.5218, 30.2506), ("Ірпінська", "Бучанський", "Київська")),
    "Mariupol": ((47.0971, 37.5434), ("Маріупольська", "Маріупольський", "Донецька")),
    # Slavutych: a Kyiv Oblast enclave inside Chernihiv Oblast.
    "Slavutych": ((51.5220, 30.7560), ("Славутицька", "Вишгородський", "Київська")),
    # Kotsiubynske: a Kyiv Oblast enclave inside Kyiv city.
    "Kotsiubynske": ((50.4870, 30.3330), ("Коцюбинська", "Бучанський", "Київська")),
}


@pytest.fixture(scope="module")
def rs() -> RegionSet:
    return default_region_set()


@pytest.mark.parametrize("town", sorted(TOWNS))
def test_towns_land_in_the_right_units(rs: RegionSet, town: str) -> None:
    (lat, lon), names = TOWNS[town]
    found = rs.locate(lat, lon)
    assert [r.level for r in found] == ["hromada", "raion", "oblast"]
    assert tuple(r.name_uk for r in found) == names
    hromada, raion, oblast = found
    assert hromada.parent == raion.code and raion.parent == oblast.code


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (50.4501, 30.5234, "UA80000000000093317"),  # Kyiv: one unit, no finer geometry
        (44.9521, 34.1024, "UA01000000000013043"),  # Simferopol -> AR Crimea
        (44.6166, 33.5254, "UA85000000000065278"),  # Sevastopol
    ],
)
def test_placeholders_return_the_whole_unit(rs: RegionSet, lat: float, lon: float, code: str) -> None:
    assert [r.code for r in rs.locate(lat, lon)] == [code]


def test_slavutych_is_not_in_chernihiv_oblast(rs: RegionSet) -> None:
    (lat, lon), _ = TOWNS["Slavutych"]
    assert "UA74000000000025378" not in {r.code for r in rs.locate(lat, lon)}
    # ...though a point a few km away, outside the enclave, is.
    assert "UA74000000000025378" in {r.code for r in rs.locate(51.40, 30.70)}


def test_romodanivska_exclave(rs: RegionSet) -> None:
    """The exclave of Romodanivska hromada lies inside Lubenskyi raion; it stays in Myrhorodskyi."""
    romodanivska = rs.find_by_name("Ромоданівська громада")
    assert len(romodanivska) == 1
    code = romodanivska[0].code
    index = rs.geometry()
    geom = index.geoms[index.codes.index(code)]
    parts = sorted(shapely.get_parts(geom), key=lambda p: p.area)
    assert len(parts) >= 2
    exclave = parts[-2]  # ~42 km², about 0.005 square degrees at this latitude
    assert 0.003 < exclave.area < 0.008
    # Every hromada around the exclave is in Lubenskyi raion...
    ring = exclave.buffer(0.01).difference(exclave)
    around = {index.codes[int(i)] for i in index.tree.query(ring, predicate="intersects")}
    around.discard(code)
    assert around
    assert {rs.require(c).parent for c in around} == {"UA53040000000081308"}
    # ...yet a point inside it is Romodanivska, Myrhorodskyi raion, Poltava Oblast.
    inside = exclave.representative_point()
    found = rs.locate(inside.y, inside.x)
    assert [r.name_uk for r in found] == ["Ромоданівська", "Миргородський", "Полтавська"]


def _shared_vertex(rs: RegionSet, a: str, b: str) -> tuple[float, float]:
    index = rs.geometry()
    ga = index.geoms[index.codes.index(a)]
    gb = index.geoms[index.codes.index(b)]
    shared = set(map(tuple, shapely.get_coordinates(ga).tolist())) & set(
        map(tuple, shapely.get_coordinates(gb).tolist())
    )
    assert shared, "expected neighbours to share a vertex"
    lon, lat = min(shared)
    return lat, lon


def test_point_on_an_oblast_border_belongs_to_both_sides(rs: RegionSet) -> None:
    kyiv = "UA80000000000093317"
    vyshhorodska = "UA32100010000094393"
    lat, lon = _shared_vertex(rs, kyiv, vyshhorodska)
    codes = [r.code for r in rs.locate(lat, lon)]
    assert kyiv in codes and vyshhorodska in codes
    assert "UA32000000000030281" in codes  # Kyiv Oblast too
    assert codes.index(vyshhorodska) < codes.index("UA32000000000030281")  # hromada first


def test_point_in_an_overlap_belongs_to_both(rs: RegionSet) -> None:
    """Korostyshivska and Kharytonivska overlap by ~6 km² in the source data."""
    (a,) = rs.find_by_name("Коростишівська громада")
    (b,) = rs.find_by_name("Харитонівська громада")
    index = rs.geometry()
    overlap = shapely.intersection(
        index.geoms[index.codes.index(a.code)], index.geoms[index.codes.index(b.code)]
    )
    assert overlap.area > 0
    point = overlap.representative_point()
    codes = {r.code for r in rs.locate(point.y, point.x)}
    assert {a.code, b.code} <= codes


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (91.0, 30.0, "latitude 91.0 is outside -90..90"),
        (-90.5, 30.0, "outside -90..90"),
        (120.0, 50.0, "swapped"),
        (50.0, 180.5, "longitude 180.5 is outside -180..180"),
        (math.nan, 30.0, "finite"),
        (50.0, math.inf, "finite"),
    ],
)
def test_impossible_coordinates(rs: RegionSet, lat: float, lon: float, message: str) -> None:
    with pytest.raises(CoordinateError, match=message):
        rs.locate(lat, lon)


def test_outside_and_swapped(rs: RegionSet) -> None:
    assert rs.locate(48.8566, 2.3522) == []  # Paris
    with pytest.raises(OutsideRegionsError, match="outside every region") as info:
        rs.locate_strict(48.8566, 2.3522)
    assert "swapped" not in str(info.value)
    assert "nearest" not in str(info.value)  # Paris is far from any region
    with pytest.raises(OutsideRegionsError, match="look swapped"):
        rs.locate_strict(30.5234, 50.4501)  # Kyiv, written (lon, lat)


def test_bulk_lookup_agrees_with_single(rs: RegionSet) -> None:
    index = rs.geometry()
    points = [pair for pair, _ in TOWNS.values()]
    point_idx, shape_idx = index.query_points([p[0] for p in points], [p[1] for p in points])
    bulk: dict[int, set[str]] = {}
    for p, s in zip(point_idx.tolist(), shape_idx.tolist(), strict=True):
        bulk.setdefault(p, set()).add(index.codes[s])
    for i, (lat, lon) in enumerate(points):
        assert bulk[i] == set(index.codes_at(lat, lon))


def test_reservoir_gap_names_the_nearest_region(rs: RegionSet) -> None:
    """The drained Kakhovka reservoir bed belongs to no hromada; say how close one is."""
    assert rs.locate(47.50, 34.98) == []
    with pytest.raises(OutsideRegionsError, match=r"the nearest is .* km away") as info:
        rs.locate_strict(47.50, 34.98)
    assert "Hromada" in str(info.value)

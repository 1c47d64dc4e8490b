"""CAP area -> regions, full or partial: geocodes, polygons, circles and bad areas."""

from __future__ import annotations

import pytest

from tocsin.cap.model import Area, Circle, Polygon, ValuePair
from tocsin.regions import AreaError, AreaOutsideError, RegionSet, default_region_set
from tocsin.regions.targeting import circle_shape, target_area

KYIV = "UA80000000000093317"
KYIV_OBLAST = "UA32000000000030281"
VYSHHORODSKYI = "UA32100000000065867"
SLAVUTYCH = "UA32100130000093505"
LVIV_HROMADA = "UA46060250000025047"
LVIV_RAION = "UA46060000000042587"
LVIV_OBLAST = "UA46000000000026241"
CHERNIVTSI_OBLAST = "UA73000000000044923"


@pytest.fixture(scope="module")
def rs() -> RegionSet:
    return default_region_set()


def geocode(name: str, value: str) -> Area:
    return Area(area_desc="test", geocode=(ValuePair(value_name=name, value=value),))


def polygon(*points: tuple[float, float]) -> Polygon:
    return Polygon(points=points, text=" ".join(f"{a},{b}" for a, b in points))


def box(south: float, west: float, north: float, east: float) -> Polygon:
    return polygon((south, west), (north, west), (north, east), (south, east), (south, west))


def circle(lat: float, lon: float, radius_km: float) -> Circle:
    return Circle(lat=lat, lon=lon, radius_km=radius_km, text=f"{lat},{lon} {radius_km}")


def test_oblast_geocode_covers_everything_below(rs: RegionSet) -> None:
    result = target_area(geocode("ISO3166-2", "UA-32"), rs)
    below = {r.code for r in rs.descendants(KYIV_OBLAST)}
    assert set(result) == below | {KYIV_OBLAST}
    assert set(result.values()) == {"full"}
    assert KYIV not in result  # the city is not part of the oblast


def test_hromada_geocode_marks_raion_and_oblast_partial(rs: RegionSet) -> None:
    assert target_area(geocode("KATOTTG", SLAVUTYCH), rs) == {
        SLAVUTYCH: "full",
        VYSHHORODSKYI: "partial",
        KYIV_OBLAST: "partial",
    }


def test_geocodes_merge_and_full_wins(rs: RegionSet) -> None:
    area = Area(
        area_desc="two",
        geocode=(
            ValuePair(value_name="KATOTTG", value=SLAVUTYCH),
            ValuePair(value_name="KATOTTG", value=KYIV_OBLAST.lower()),
            ValuePair(value_name="FIPS6", value="006113"),  # other systems' codes are ignored
        ),
    )
    result = target_area(area, rs)
    assert result[SLAVUTYCH] == result[VYSHHORODSKYI] == result[KYIV_OBLAST] == "full"


def test_small_circle_in_lviv(rs: RegionSet) -> None:
    """Lviv's six city districts have no geometry: each may be hit, so each is partial."""
    result = target_area(Area(area_desc="c", circle=(circle(49.8397, 24.0297, 1.0),)), rs)
    districts = rs.children(LVIV_HROMADA)
    assert len(districts) == 6 and {d.level for d in districts} == {"district"}
    expected = {LVIV_HROMADA, LVIV_RAION, LVIV_OBLAST} | {d.code for d in districts}
    assert result == dict.fromkeys(expected, "partial")


def test_zero_radius_circle_is_a_point(rs: RegionSet) -> None:
    result = target_area(Area(area_desc="c", circle=(circle(49.8397, 24.0297, 0),)), rs)
    assert {LVIV_HROMADA, LVIV_RAION, LVIV_OBLAST} <= set(result)
    assert {rs.require(c).oblast for c in result} == {LVIV_OBLAST}


def test_circle_radius_is_geodesic() -> None:
    shape = circle_shape(circle(50.0, 30.0, 100.0))
    lon_min, lat_min, lon_max, lat_max = shape.bounds
    assert (lat_max - lat_min) / 2 == pytest.approx(100 / 111.195, rel=0.01)
    # a degree of longitude is shorter by cos(latitude)
    assert (lon_max - lon_min) / 2 == pytest.approx(100 / (111.195 * 0.6428), rel=0.01)


def test_large_circle_covers_an_oblast_fully(rs: RegionSet) -> None:
    result = target_area(Area(area_desc="c", circle=(circle(48.3, 25.9, 250),)), rs)
    assert result[CHERNIVTSI_OBLAST] == "full"
    assert all(result[r.code] == "full" for r in rs.descendants(CHERNIVTSI_OBLAST))
    assert result[LVIV_OBLAST] == "partial"


def test_polygon_around_kyiv(rs: RegionSet) -> None:
    result = target_area(Area(area_desc="p", polygon=(box(50.20, 30.15, 50.62, 30.95),)), rs)
    assert result[KYIV] == "full"
    assert all(result[d.code] == "full" for d in rs.children(KYIV))  # its districts
    assert result["UA32080170000086616"] == "full"  # Kotsiubynska, enclave inside the city
    assert result[KYIV_OBLAST] == "partial"
    assert result["UA32080000000084076"] == "partial"  # Bucha raion
    assert result["UA32100010000094393"] == "partial"  # Vyshhorodska reaches far north
    assert LVIV_OBLAST not in result


def test_partial_placeholder_marks_its_units_partial(rs: RegionSet) -> None:
    """No hromada geometry in Crimea: part of it is hit, so every Crimean unit may be."""
    result = target_area(Area(area_desc="c", circle=(circle(44.9521, 34.1024, 10),)), rs)
    crimea = "UA01000000000013043"
    assert result[crimea] == "partial"
    assert all(result[r.code] == "partial" for r in rs.descendants(crimea))


@pytest.mark.parametrize(
    ("area", "message"),
    [
        (geocode("KATOTTG", "UA99999999999999999"), "KATOTTG='UA99999999999999999' is not a known"),
        (geocode("KATOTTG", "UA-30"), "is not a known code"),  # an alias is not a KATOTTG code
        (geocode("ISO3166-2", "UA-99"), "ISO3166-2='UA-99' is not a known code"),
        (geocode("ISO3166-2", KYIV), "is not a known code"),
        (geocode("FIPS6", "006113"), "nothing to target"),
        (Area(area_desc="test"), "nothing to target"),
        (
            Area(area_desc="test", polygon=(polygon((50, 30), (51, 30), (51, 31), (50, 31)),)),
            "not closed",
        ),
        (Area(area_desc="test", polygon=(polygon((50, 30), (51, 30), (50, 30)),)), "at least 4"),
        (
            Area(
                area_desc="test",
                polygon=(polygon((50, 30), (51, 31), (51, 30), (50, 31), (50, 30)),),
            ),
            "self-intersection at",
        ),
        (
            Area(area_desc="test", polygon=(polygon((95, 30), (51, 30), (51, 31), (95, 30)),)),
            "outside -90..90",
        ),
        (Area(area_desc="test", circle=(circle(50, 30, -1),)), "non-negative"),
        (Area(area_desc="test", circle=(circle(50, 30, 1e6),)), "exceeds"),
        (Area(area_desc="test", circle=(circle(-91, 30, 1),)), "circle centre"),
    ],
)
def test_bad_areas_are_refused(rs: RegionSet, area: Area, message: str) -> None:
    with pytest.raises(AreaError, match=message) as info:
        target_area(area, rs)
    assert "area 'test'" in str(info.value)


def test_area_outside_every_region(rs: RegionSet) -> None:
    paris = Area(area_desc="test", polygon=(box(48.8, 2.2, 48.9, 2.4),))
    with pytest.raises(AreaOutsideError, match="outside every region") as info:
        target_area(paris, rs)
    assert "swapped" not in str(info.value)


def test_swapped_polygon_says_so(rs: RegionSet) -> None:
    swapped = Area(area_desc="test", polygon=(box(30.4, 50.4, 30.6, 50.5),))  # Kyiv as (lon, lat)
    with pytest.raises(AreaOutsideError, match="swapped"):
        target_area(swapped, rs)


def test_one_shape_outside_is_refused_even_with_a_good_geocode(rs: RegionSet) -> None:
    area = Area(
        area_desc="test",
        geocode=(ValuePair(value_name="KATOTTG", value=SLAVUTYCH),),
        circle=(circle(48.85, 2.35, 5),),
    )
    with pytest.raises(AreaOutsideError, match="shape lies outside every region"):
        target_area(area, rs)

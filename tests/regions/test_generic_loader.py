"""Any country's hierarchy loads from a code table and GeoJSON: a tiny made-up country."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tocsin.cap.model import Area, Circle, ValuePair
from tocsin.regions import RegionDataError, load_region_set
from tocsin.regions.subscriptions import PointIndex
from tocsin.regions.targeting import target_area
from tocsin.testing import write_tiny_country


@pytest.fixture
def country(tmp_path: Path) -> tuple[Path, Path]:
    """The tiny made-up country of ``tocsin.testing`` (two provinces, three municipalities)."""
    folder = write_tiny_country(tmp_path / "country")
    return folder / "units.csv", folder / "units.geojson"


def test_generic_country(country: tuple[Path, Path]) -> None:
    rs = load_region_set(*country, code_property="code")
    assert rs.require("xx-w").code == "XW"
    assert rs.require("XW2").oblast == "XW"  # derived from the hierarchy
    assert [r.code for r in rs.locate(0.5, 0.25)] == ["XW1", "XW"]
    # a point on the provinces' shared border belongs to both sides
    assert [r.code for r in rs.locate(0.5, 1.0)] == ["XE1", "XW2", "XE", "XW"]
    area = Area(area_desc="c", circle=(Circle(lat=0.5, lon=0.75, radius_km=5, text=""),))
    assert target_area(area, rs) == {"XW2": "partial", "XW": "partial"}
    whole = Area(area_desc="g", geocode=(ValuePair(value_name="ISO3166-2", value="XX-W"),))
    assert target_area(whole, rs) == {"XW": "full", "XW1": "full", "XW2": "full"}
    index: PointIndex[str] = PointIndex(rs)
    index.add("a", 0.5, 0.25)
    index.add("b", 0.5, 1.5)
    assert index.match(["XX-W"]) == {"a"}
    assert index.match(area) == set()
    assert rs.find_by_name("West One") == [rs.require("XW1")]


def test_geometry_codes_must_be_in_the_table(tmp_path: Path, country: tuple[Path, Path]) -> None:
    table, shapes = country
    data = json.loads(shapes.read_text())
    ring = [[2.0, 0.0], [3.0, 0.0], [3.0, 1.0], [2.0, 1.0], [2.0, 0.0]]
    data["features"].append({"type": "Feature", "properties": {"code": "ZZ9"},
                             "geometry": {"type": "Polygon", "coordinates": [ring]}})
    shapes.write_text(json.dumps(data))
    rs = load_region_set(table, shapes, code_property="code")
    assert rs.get("XW1") is not None  # codes load without geometry
    with pytest.raises(RegionDataError, match=r"not in the code table, e\.g\. ZZ9"):
        rs.geometry()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"features": [{"properties": {}, "geometry": null}]}', "has no 'code'"),
        ('{"features": [{"properties": {"code": "XW1"}}]}', "bad geometry"),
    ],
)
def test_bad_geojson(tmp_path: Path, country: tuple[Path, Path], content: str, message: str) -> None:
    table, shapes = country
    shapes.write_text(content)
    with pytest.raises(RegionDataError, match=message):
        load_region_set(table, shapes, code_property="code").geometry()


def test_bad_code_tables(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("code,level,name,parent\nA,oblast,A,B\nB,oblast,B,A\n")
    with pytest.raises(RegionDataError, match="its own ancestor"):
        load_region_set(table)
    table.write_text("code,name\nA,A\n")
    with pytest.raises(RegionDataError, match="missing column"):
        load_region_set(table)
    with pytest.raises(RegionDataError, match="cannot read"):
        load_region_set(tmp_path / "absent.csv")

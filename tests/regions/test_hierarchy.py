"""The code hierarchy: aliases, coverage, children, as jurisdiction checks rely on them."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from tocsin.regions import RegionDataError, RegionSet, UnknownRegionError, default_region_set
from tocsin.regions.loading import parse_code_table

SHARED = Path(__file__).resolve().parents[1] / "data" / "regions"
KYIV = "UA80000000000093317"
KYIV_OBLAST = "UA32000000000030281"
VYSHHORODSKYI = "UA32100000000065867"
SLAVUTYCH_HROMADA = "UA32100130000093505"
CHERNIHIV_OBLAST = "UA74000000000025378"


@pytest.fixture(scope="module")
def rs() -> RegionSet:
    return default_region_set()


def test_counts_match_the_classifier(rs: RegionSet) -> None:
    levels = [r.level for r in rs]
    assert levels.count("oblast") == 27  # 24 oblasts + Crimea + Kyiv + Sevastopol
    assert levels.count("raion") == 136
    assert levels.count("hromada") == 1772
    assert levels.count("district") == 108


@pytest.mark.parametrize(
    "alias",
    [KYIV, KYIV.lower(), " UA-30 ", "ua-30", "31", "alerts.in.ua:31", "ALERTS.IN.UA: 31", "031"],
)
def test_kyiv_aliases(rs: RegionSet, alias: str) -> None:
    assert rs.canonical(alias) == KYIV


def test_alerts_in_ua_table_agrees(rs: RegionSet) -> None:
    """Every UID in the shared alerts.in.ua table maps to the KATOTTG and ISO it lists."""
    table = SHARED / "alerts_in_ua_oblast_uids.csv"
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 27
    for row in rows:
        assert rs.canonical(f"alerts.in.ua:{row['alerts_in_ua_uid']}") == row["katottg"]
        assert rs.canonical(row["iso_3166_2"]) == row["katottg"]


def test_luhansk_numbers_all_differ(rs: RegionSet) -> None:
    luhansk = rs.require("UA-09")
    assert luhansk.code.startswith("UA44") and luhansk.alerts_in_ua_uid == 16
    assert rs.canonical("16") == luhansk.code
    assert rs.canonical("UA-44") is None  # ISO UA-44 does not exist


@pytest.mark.parametrize("bad", ["", "UA", "99", "alerts.in.ua:x", "UA-99", "UA3200000000003028"])
def test_unknown_codes(rs: RegionSet, bad: str) -> None:
    assert rs.canonical(bad) is None
    assert rs.get(bad) is None
    with pytest.raises(UnknownRegionError, match="unknown region code"):
        rs.require(bad)


def test_covers(rs: RegionSet) -> None:
    assert rs.covers(KYIV_OBLAST, SLAVUTYCH_HROMADA)
    assert rs.covers(VYSHHORODSKYI, SLAVUTYCH_HROMADA)
    assert rs.covers(SLAVUTYCH_HROMADA, SLAVUTYCH_HROMADA)
    assert rs.covers("UA-32", SLAVUTYCH_HROMADA)  # aliases on either side
    # Slavutych lies inside Chernihiv Oblast's outline but belongs to Kyiv Oblast.
    assert not rs.covers(CHERNIHIV_OBLAST, SLAVUTYCH_HROMADA)
    # Coverage goes down, never up, and Kyiv city is not part of Kyiv Oblast.
    assert not rs.covers(SLAVUTYCH_HROMADA, KYIV_OBLAST)
    assert not rs.covers(KYIV_OBLAST, KYIV)
    assert not rs.covers("nonsense", SLAVUTYCH_HROMADA)
    assert not rs.covers(KYIV_OBLAST, "nonsense")


def test_city_districts_hang_under_their_city(rs: RegionSet) -> None:
    districts = rs.children(KYIV)
    assert len(districts) == 10 and all(d.level == "district" for d in districts)
    assert {d.name_uk for d in districts} >= {"Печерський", "Оболонський"}
    # Simferopol's districts: KATOTTG parents them to a settlement; we attach to the hromada.
    zaliznychnyi = rs.require("UA01160330010143565")
    assert rs.require(zaliznychnyi.parent or "").name_uk == "Сімферопольська"
    assert rs.covers("UA-43", zaliznychnyi.code)


def test_descendants_of_an_oblast(rs: RegionSet) -> None:
    below = rs.descendants(KYIV_OBLAST)
    raions = [r for r in below if r.level == "raion"]
    assert len(raions) == 7
    assert all(rs.covers(KYIV_OBLAST, r.code) for r in below)
    assert all(r.oblast == KYIV_OBLAST for r in below)
    hromadas = {r.code for r in below if r.level == "hromada"}
    assert hromadas == {h.code for raion in raions for h in rs.children(raion.code)}


def test_loading_is_fast() -> None:
    default_region_set.cache_clear()
    started = time.perf_counter()
    default_region_set()
    assert time.perf_counter() - started < 0.1


def test_bad_tables_are_refused() -> None:
    header = "katottg,category,name_uk,name_uk_full,name_en,parent_katottg\n"
    with pytest.raises(RegionDataError, match="missing column"):
        parse_code_table("katottg,category\nUA1,O\n")
    with pytest.raises(RegionDataError, match="unknown level"):
        parse_code_table(header + "UA1,Z,a,a,a,\n")
    with pytest.raises(RegionDataError, match="unknown parent"):
        RegionSet(parse_code_table(header + "UA2,P,b,b,b,UA1\n"))
    with pytest.raises(RegionDataError, match="duplicate"):
        RegionSet(parse_code_table(header + "UA1,O,a,a,a,\nUA1,O,a,a,a,\n"))

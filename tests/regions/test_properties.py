"""Invariants of the hierarchy, lookup and targeting over generated inputs."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.regions import default_region_set
from tocsin.regions.targeting import target_codes

RS = default_region_set()
CODES = sorted(r.code for r in RS)
codes = st.sampled_from(CODES)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(codes, codes)
def test_covers_is_exactly_ancestry(a: str, b: str) -> None:
    chain = {b} | {r.code for r in RS.ancestors(b)}
    assert RS.covers(a, b) == (a in chain)


@SETTINGS
@given(codes)
def test_children_and_descendants_agree(code: str) -> None:
    below = {r.code for r in RS.descendants(code)}
    assert {r.code for r in RS.children(code)} <= below
    assert all(RS.covers(code, c) and not RS.covers(c, code) for c in below)
    assert all(RS.require(c).oblast == RS.require(code).oblast for c in below)


@SETTINGS
@given(st.lists(codes, min_size=1, max_size=4))
def test_code_targeting_is_full_below_and_partial_above(targets: list[str]) -> None:
    result = target_codes(targets, RS)
    full = {c for c, v in result.items() if v == "full"}
    expected_full = set(targets) | {r.code for t in targets for r in RS.descendants(t)}
    assert full == expected_full
    partial = {c for c, v in result.items() if v == "partial"}
    assert partial == {r.code for t in targets for r in RS.ancestors(t)} - full


@SETTINGS
@given(st.floats(44.3, 52.4), st.floats(22.1, 40.3))
def test_located_regions_are_closed_upwards(lat: float, lon: float) -> None:
    found = RS.locate(lat, lon)
    codes_found = {r.code for r in found}
    assert len(codes_found) == len(found)
    for region in found:
        assert {a.code for a in RS.ancestors(region.code)} <= codes_found
    levels = [r.level for r in found]
    assert levels == sorted(levels, key=["hromada", "raion", "oblast"].index)

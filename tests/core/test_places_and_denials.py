"""Issue 12 in the core: CAP Tocsin composes names places; a denial may name none."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from click.testing import CliRunner

from tocsin.api.views import class_filter, over_of
from tocsin.cap import parse_alert, to_xml
from tocsin.check.denial import compose_denial
from tocsin.cli import main
from tocsin.compose import AlertFacts, ComposeError, compose_alert
from tocsin.kinds import KINDS, KindClass, kind_class
from tocsin.ledger import Refusal, authorise
from tocsin.regions import default_region_set
from tocsin.store.base import AlertRecord
from tocsin.trust.registry import Issuer

KYIV = "UA80000000000093317"
KHARKIV = "UA63000000000041885"


def _descs(alert_xml: bytes) -> dict[str, list[str]]:
    alert = parse_alert(alert_xml, strict=True).alert
    return {info.language: [a.area_desc for a in info.area] for info in alert.info}


@pytest.mark.parametrize("code", ["UA-63", KHARKIV, "ua-63"])
def test_area_desc_carries_the_region_name_whatever_the_code(code: str) -> None:
    alert = compose_alert(AlertFacts(
        issuer_id="x", kind="air-raid", areas=[code],
        extra_info=(("en-US", "Air raid alert", None, None),)))
    assert _descs(to_xml(alert)) == {"uk-UA": ["Харківська область"], "en-US": ["Kharkiv Oblast"]}
    assert [g.value for g in alert.info[0].area[0].geocode] == [code]  # codes stay for machines


def test_area_desc_names_several_places_and_keeps_an_explicit_text() -> None:
    alert = compose_alert(AlertFacts(issuer_id="x", kind="air-raid", areas=[KYIV, "UA-63"]))
    assert alert.info[0].area[0].area_desc == "м. Київ, Харківська область"
    alert = compose_alert(AlertFacts(issuer_id="x", kind="air-raid", areas=[KYIV],
                                     area_desc="Лівий берег"))
    assert alert.info[0].area[0].area_desc == "Лівий берег"


def test_cap_new_writes_names() -> None:
    result = CliRunner().invoke(main, ["cap", "new", "--issuer", "x", "--area", "UA-63"])
    assert result.exit_code == 0, result.output
    assert "<areaDesc>Харківська область</areaDesc>" in result.output


def test_only_a_denial_may_name_no_area() -> None:
    denial = compose_denial(issuer_id="gur", denied_text="Фейкове повідомлення")
    assert all(info.area == () for info in denial.info)
    parse_alert(to_xml(denial), strict=True)  # a valid alert Tocsin may issue
    with pytest.raises(ComposeError):
        compose_alert(AlertFacts(issuer_id="x", kind="air-raid", areas=[]))
    scoped = compose_denial(issuer_id="gur", denied_text="Фейк", areas=[KYIV])
    assert _descs(to_xml(scoped)) == {"uk-UA": ["м. Київ"], "en-US": ["Kyiv"]}


def _issuer(kinds: set[str], jurisdiction: tuple[str, ...] = (KYIV,)) -> Issuer:
    return Issuer(id="city", name_uk="Місто", name_en="City", kinds=frozenset(kinds),
                  jurisdiction=jurisdiction, keys=())


def _problem(alert: Any, issuer: Issuer, regions: Any) -> str | None:
    """The ledger's refusal reason (the one rulebook hub, verify and monitor apply), or None."""
    decision = authorise(alert, issuer, regions)
    return decision.reason if isinstance(decision, Refusal) else None


def test_jurisdiction_lets_a_denial_allowed_issuer_deny_without_an_area() -> None:
    regions = default_region_set()
    placeless = compose_denial(issuer_id="city", denied_text="Фейк")
    assert _problem(placeless, _issuer({"denial"}), regions) is None
    # Not allowed the kind: refused (the kind rule comes before the area rule).
    assert "may not send kind(s) denial" in (_problem(placeless, _issuer({"air-raid"}), regions)
                                             or "")
    # A threat with no area is refused as before; a denial naming a place outside is too.
    raid = compose_alert(AlertFacts(issuer_id="city", kind="air-raid", areas=[KYIV]))
    no_area = msgspec.structs.replace(
        raid, info=tuple(msgspec.structs.replace(i, area=()) for i in raid.info))
    assert "no area" in (_problem(no_area, _issuer({"air-raid", "denial"}), regions) or "")
    outside = compose_denial(issuer_id="city", denied_text="Фейк", areas=[KHARKIV])
    assert "outside" in (_problem(outside, _issuer({"denial"}), regions) or "")


def _matches(kinds: tuple[str, ...], klass: KindClass) -> bool:
    """What the store's LIKE filter selects, in Python."""
    kinds_any, kinds_none = class_filter(klass)
    if kinds_any is not None and not set(kinds) & set(kinds_any):
        return False
    return not set(kinds) & set(kinds_none)


def test_class_filter_selects_exactly_what_kind_class_says() -> None:
    combos = [(), *itertools.combinations(sorted(KINDS), 1), *itertools.combinations(sorted(KINDS), 2)]
    for kinds in combos:
        for klass in KindClass:
            assert _matches(kinds, klass) == (kind_class(kinds) is klass), (kinds, klass)


def _record(**kw: object) -> AlertRecord:
    base: dict[str, object] = dict(
        id="a" * 32, cap=b"", statement=b"", issuer_id="x", key_id="",
        sender="x@t", identifier="i", sent="", sent_ts=0.0, received_ts=0.0, expires_ts=100.0,
        msg_type="Alert", status="Actual", kinds=("air-raid",), event="", event_id=1,
        ended_ts=None, ended_by=None)
    base.update(kw)
    return AlertRecord(**base)  # type: ignore[arg-type]


def test_over_prefers_the_earlier_of_expiry_and_ending() -> None:
    clear = _record(id="c" * 32, kinds=("all-clear",), issuer_id="y")
    ended_late = _record(ended_ts=150.0, ended_by=clear.id)
    assert over_of(ended_late, 200.0, clear)["reason"] == "expired"  # type: ignore[index]
    ended_early = _record(ended_ts=50.0, ended_by=clear.id)
    over = over_of(ended_early, 200.0, clear)
    assert over is not None and (over["reason"], over["by_issuer"]) == ("ended", "y")
    assert over["at_iso"] == datetime.fromtimestamp(50.0, UTC).astimezone(
        ZoneInfo("Europe/Kyiv")).isoformat(timespec="seconds")
    assert over["at_iso"].endswith("+03:00")  # 1970-01-01 in Kyiv: UTC+3
    assert over_of(_record(), 50.0, None) is None
    assert over_of(clear, 500.0, None) is None  # an all-clear is never "over"

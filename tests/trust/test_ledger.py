"""The rulebook (``tocsin.ledger``) on its own: senders bound by the registry, reach, budget.

Pure functions, real region data: no hub, no I/O beyond loading the region set.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import msgspec
import pytest
import shapely

from tocsin.cap.model import Alert, Area, Circle, Polygon, ValuePair
from tocsin.compose import AlertFacts, compose_alert
from tocsin.ledger import BORDER_TOLERANCE_KM, Decision, Refusal, authorise, cost_refusal, size_refusal
from tocsin.ledger.limits import MAX_ALERT_BYTES, MAX_SHAPES, MAX_VERTICES
from tocsin.regions import default_region_set
from tocsin.regions.targeting import leaves_under
from tocsin.trust.note import Signer
from tocsin.trust.registry import NATIONWIDE, Issuer, IssuerKey, Registry, RegistryError, load_registry

REGIONS = default_region_set()
LVIV_OBLAST = "UA46000000000026241"
KYIV_CITY = "UA80000000000093317"
IVANO_FRANKIVSK_OBLAST = "UA26000000000069363"


def issuer(issuer_id: str, jurisdiction: tuple[str, ...], kinds: set[str] | None = None,
           senders: tuple[str, ...] = ()) -> Issuer:
    signer = Signer.generate(issuer_id)
    return Issuer(id=issuer_id, name_uk="Тест", name_en="Test",
                  kinds=frozenset(kinds or {"air-raid", "all-clear"}), jurisdiction=jurisdiction,
                  keys=(IssuerKey(signer.verifier(), datetime(2026, 1, 1, tzinfo=UTC)),),
                  senders=senders)


def alert_of(sender: str, *areas: Area, kind: str = "air-raid") -> Alert:
    base = compose_alert(AlertFacts(issuer_id="x", kind=kind, areas=(KYIV_CITY,), sender=sender))
    return msgspec.structs.replace(base, info=(msgspec.structs.replace(base.info[0], area=areas),))


def outline_area(code: str, metres: float) -> Area:
    """The outline of ``code`` (its outer ring, simplified to ~20 m) grown by ``metres``."""
    leaves = leaves_under(REGIONS)[code]
    index = REGIONS.geometry()
    union = shapely.union_all([g for c, g in zip(index.codes, index.geoms, strict=True) if c in leaves])
    lat0 = math.radians((union.bounds[1] + union.bounds[3]) / 2)
    scale = (math.cos(lat0), 1.0)
    outer = shapely.Polygon(union.exterior).simplify(0.0002)
    grown = shapely.transform(outer, lambda xy: xy * scale)
    if metres:
        grown = grown.buffer(metres / 1000 / 111.195)
    shape = shapely.transform(grown, lambda xy: xy / scale)
    points = tuple((round(y, 6), round(x, 6)) for x, y in shape.exterior.coords)
    return Area(area_desc="outline", polygon=(Polygon(points=points, text="-"),))


# -- registry-bound senders ------------------------------------------------------------


def test_the_derived_rule_and_the_listed_senders() -> None:
    derived = issuer("ua.kova", ("*",))
    assert derived.may_send_as("ua.kova@tocsin") and derived.may_send_as("ua.kova@koda.gov.ua")
    assert not derived.may_send_as("ua.kova") and not derived.may_send_as("ua.kova@")
    assert not derived.may_send_as("UA.KOVA@tocsin") and not derived.may_send_as("ua.lova@tocsin")
    listed = issuer("ua.kova", ("*",), senders=("alerts@koda.gov.ua",))
    assert listed.may_send_as("alerts@koda.gov.ua")
    assert not listed.may_send_as("ua.kova@tocsin")  # a list replaces the derived rule


@pytest.mark.parametrize(
    ("first", "second", "problem"),
    [
        (("a@gov.ua",), ("a@gov.ua",), "also listed"),
        (("a@gov.ua",), ("A@GOV.UA",), "also listed"),  # look-alikes by case
        ((), ("ua.kova@gov.ua",), "derived rule"),  # another's derived sender
        ((), ("UA.Kova@x",), "derived rule"),
        ((), ("bad sender",), "spaces"),
        ((), ("a,b",), "commas"),
    ],
)
def test_no_sender_can_belong_to_two_issuers(first: tuple[str, ...], second: tuple[str, ...],
                                             problem: str) -> None:
    root = Signer.generate("root")
    registry = Registry.empty(root.verifier()).with_issuer(issuer("ua.kova", ("*",), senders=first))
    with pytest.raises(RegistryError, match=problem):
        registry.with_issuer(issuer("ua.lova", ("*",), senders=second))


def test_senders_are_signed_loaded_and_old_registries_still_load() -> None:
    root = Signer.generate("root")
    registry = Registry.empty(root.verifier()).with_issuer(
        issuer("ua.kova", ("*",), senders=("alerts@koda.gov.ua",))).with_issuer(issuer("ua.lova", ("*",)))
    loaded = load_registry(registry.sign(root), root=root.verifier())
    kova, lova = loaded.issuer("ua.kova"), loaded.issuer("ua.lova")
    assert kova is not None and kova.senders == ("alerts@koda.gov.ua",)
    assert lova is not None and lova.senders == () and lova.may_send_as("ua.lova@tocsin")
    document = json.loads(registry.sign(root))
    assert "senders" not in document["registry"]["issuers"][1]  # absent, as in older files
    assert document["registry"]["issuers"][0]["senders"] == ["alerts@koda.gov.ua"]


def test_a_sender_of_another_issuer_is_refused_first() -> None:
    kova = issuer("ua.kova", (KYIV_CITY,))
    decision = authorise(alert_of("ua.lova@tocsin", Area(area_desc="k", geocode=(
        ValuePair(value_name="KATOTTG", value=KYIV_CITY),))), kova, REGIONS)
    assert isinstance(decision, Refusal) and decision.code == "sender_not_allowed"


# -- jurisdiction by effect ----------------------------------------------------------------


def test_a_shape_along_the_border_is_accepted_within_the_tolerance_and_reaches_only_inside() -> None:
    lviv = issuer("ua.lova", (LVIV_OBLAST,))
    inside = int(BORDER_TOLERANCE_KM * 1000 * 0.8)
    decision = authorise(alert_of("ua.lova@x", outline_area(LVIV_OBLAST, inside)), lviv, REGIONS)
    assert isinstance(decision, Decision), decision
    assert all(REGIONS.covers(LVIV_OBLAST, code) for code in decision.targets)
    assert decision.targets[LVIV_OBLAST] == "full"
    assert decision.shapes_inside is False  # points across the border must not match the shape
    centre = Area(area_desc="c", circle=(Circle(lat=49.84, lon=24.03, radius_km=3, text="-"),))
    inner = authorise(alert_of("ua.lova@x", centre), lviv, REGIONS)
    assert isinstance(inner, Decision) and inner.shapes_inside is True
    beyond = int(BORDER_TOLERANCE_KM * 1000 * 1.3)
    refused = authorise(alert_of("ua.lova@x", outline_area(LVIV_OBLAST, beyond)), lviv, REGIONS)
    assert isinstance(refused, Refusal) and refused.code == "unauthorised", refused
    assert "more than 300 m" in refused.reason


def test_a_circle_reaching_a_neighbour_is_refused_but_not_for_a_nationwide_issuer() -> None:
    area = Area(area_desc="c", circle=(Circle(lat=49.84, lon=24.03, radius_km=120, text="-"),))
    refused = authorise(alert_of("ua.lova@x", area), issuer("ua.lova", (LVIV_OBLAST,)), REGIONS)
    assert isinstance(refused, Refusal) and refused.code == "unauthorised"
    national = authorise(alert_of("ua.nat@x", area), issuer("ua.nat", (NATIONWIDE,)), REGIONS)
    assert isinstance(national, Decision) and IVANO_FRANKIVSK_OBLAST in national.targets


def test_an_area_less_info_is_for_nationwide_issuers_and_denials_only() -> None:
    local = issuer("ua.kova", (KYIV_CITY,), kinds={"air-raid", "denial"})
    refused = authorise(alert_of("ua.kova@x"), local, REGIONS)
    assert isinstance(refused, Refusal) and "no area" in refused.reason
    denial = authorise(alert_of("ua.kova@x", kind="denial"), local, REGIONS)
    assert isinstance(denial, Decision) and denial.targets == {}
    national = authorise(alert_of("ua.nat@x"), issuer("ua.nat", (NATIONWIDE,)), REGIONS)
    assert isinstance(national, Decision)
    cannot_deny = authorise(alert_of("ua.lova@x", kind="denial"), issuer("ua.lova", (LVIV_OBLAST,)),
                            REGIONS)
    assert isinstance(cannot_deny, Refusal) and "denial" in cannot_deny.reason


# -- size and budget -----------------------------------------------------------------------


def test_size_and_cost_budget() -> None:
    assert size_refusal(b"x" * MAX_ALERT_BYTES, b"s") is None
    too_big = size_refusal(b"x" * (MAX_ALERT_BYTES + 1), b"s")
    assert too_big is not None and too_big.code == "alert_too_large"
    dot = Area(area_desc="c", circle=(Circle(lat=49.0, lon=31.0, radius_km=1, text="-"),))
    assert cost_refusal(alert_of("a@x", *[dot] * MAX_SHAPES)) is None
    over = cost_refusal(alert_of("a@x", *[dot] * (MAX_SHAPES + 1)))
    assert over is not None and over.code == "alert_too_complex"
    ring = tuple((49 + math.sin(k / 1000), 31 + math.cos(k / 1000)) for k in range(MAX_VERTICES))
    many = Area(area_desc="p", polygon=(Polygon(points=(*ring, ring[0]), text="-"),))
    assert cost_refusal(alert_of("a@x", many)) is not None
    wide = Area(area_desc="c", circle=(Circle(lat=50.4, lon=30.5, radius_km=2400, text="-"),))
    assert "radius" in (cost_refusal(alert_of("a@x", wide)) or Refusal("", "")).reason


# -- what an independent review found: the hub refused these, offline verification did not ----


@pytest.mark.parametrize("with_targets", [True, False])
def test_a_shape_within_the_tolerance_that_meets_no_unit_of_the_jurisdiction_is_refused(
        with_targets: bool) -> None:
    """A point circle 250 m beyond Kyiv's eastern edge: inside the 300 m tolerance, yet it
    meets only a Kyiv-oblast hromada, so it warns nobody Kyiv City may warn. The hub refused
    it (no target); offline verification (which skips computing targets) called it authentic."""
    kyiv = issuer("ua.kmva", (KYIV_CITY,))
    point = Area(area_desc="p", circle=(Circle(lat=50.404100, lon=30.829940, radius_km=0, text="-"),))
    decision = authorise(alert_of("ua.kmva@x", point), kyiv, REGIONS, with_targets=with_targets)
    assert isinstance(decision, Refusal) and decision.code == "invalid_cap", decision


@pytest.mark.parametrize("msg_type", ["Update", "Cancel"])
def test_an_update_or_cancel_of_another_issuers_sender_is_refused_offline(msg_type: str) -> None:
    from tocsin.cap.model import Reference

    kyiv = issuer("ua.kmva", (KYIV_CITY,))
    base = alert_of("ua.kmva@x", Area(area_desc="k", geocode=(
        ValuePair(value_name="KATOTTG", value=KYIV_CITY),)))
    theirs = msgspec.structs.replace(base, msg_type=msg_type, references=(
        Reference(sender="ua.af@x", identifier="A-1", sent="2026-12-01T10:00:00+02:00"),))
    decision = authorise(theirs, kyiv, REGIONS)
    assert isinstance(decision, Refusal) and decision.code == "foreign_reference", decision
    own = msgspec.structs.replace(theirs, references=(
        Reference(sender="ua.kmva@x", identifier="A-1", sent="2026-12-01T10:00:00+02:00"),))
    assert isinstance(authorise(own, kyiv, REGIONS), Decision)

"""Kind classes: defined once, and nothing unknown is ever promoted to a threat."""

from __future__ import annotations

from tocsin.kinds import KINDS, KindClass, kind_class


def test_every_kind_has_a_class() -> None:
    assert {k.klass for k in KINDS.values()} == set(KindClass)


def test_threats_are_the_shelter_kinds() -> None:
    threats = {c for c, k in KINDS.items() if k.klass is KindClass.THREAT}
    assert threats == {"air-raid", "missile", "drone", "shelling", "shelter-in-place"}


def test_notices_are_never_threats() -> None:
    for code in ("facility-closed", "facility-status", "threat-notice"):
        assert kind_class({code}) is KindClass.NOTICE


def test_denial_wins_over_anything_it_is_declared_with() -> None:
    assert kind_class({"denial", "air-raid"}) is KindClass.DENIAL


def test_unknown_or_no_kind_is_a_notice() -> None:
    assert kind_class(set()) is KindClass.NOTICE
    assert kind_class({"made-up"}) is KindClass.NOTICE

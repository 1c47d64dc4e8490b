"""The state rules of the rulebook (``tocsin.ledger.effects``), on a tiny synthetic country.

Country ``X``: oblasts ``A`` and ``B``; raions ``A1``, ``A2``, ``B1``; hromadas ``A1a``,
``A1b``, ``A2a``, ``B1a``, ``B1b``. Coverage follows ``tocsin.regions.targeting``: a named
region and everything below it are ``full``, everything above ``partial``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from hypothesis import given
from hypothesis import strategies as st

from tocsin.ledger.effects import (
    Coverage,
    Effects,
    Incoming,
    Prior,
    StateRefusal,
    apply_ending,
    effects,
    targets_after,
)

PARENT = {
    "A": None, "B": None,
    "A1": "A", "A2": "A", "B1": "B",
    "A1a": "A1", "A1b": "A1", "A2a": "A2", "B1a": "B1", "B1b": "B1",
}
LEAVES = [c for c in PARENT if c not in PARENT.values()]


def ancestors(code: str) -> list[str]:
    out = []
    parent = PARENT[code]
    while parent is not None:
        out.append(parent)
        parent = PARENT[parent]
    return out


def below(code: str) -> list[str]:
    return [c for c in PARENT if code in ancestors(c)]


def named(codes: Collection[str]) -> dict[str, Coverage]:
    """Targets of an alert naming ``codes`` (the targeting rule)."""
    out: dict[str, Coverage] = {}
    for code in codes:
        for c in [code, *below(code)]:
            out[c] = "full"
        for a in ancestors(code):
            out.setdefault(a, "partial")
    return out


def grazed(leaves: Collection[str]) -> dict[str, Coverage]:
    """Targets of a shape that only meets ``leaves`` (partial all the way up)."""
    out: dict[str, Coverage] = {}
    for leaf in leaves:
        for c in [leaf, *ancestors(leaf)]:
            out.setdefault(c, "partial")
    return out


class View:
    def __init__(self, *priors: Prior, refs: dict[tuple[str, str], Prior] | None = None) -> None:
        self.priors = priors
        self.refs = refs or {}

    def by_reference(self, sender: str, identifier: str) -> Prior | None:
        return self.refs.get((sender, identifier))

    def in_force(self, issuer_id: str, status: str, codes: Collection[str],
                 at: float | None = None) -> Sequence[Prior]:
        return [p for p in self.priors if p.issuer_id == issuer_id and p.status == status
                and not p.ended and set(p.targets) & set(codes)]


def clear(codes: Collection[str], issuer: str = "af", status: str = "Actual") -> Incoming:
    return Incoming("clear", issuer, "Alert", status, frozenset({"all-clear"}), named(codes))


def test_all_clear_for_one_hromada_leaves_its_raion_partial() -> None:
    """The issue's case: an oblast-wide alert, then an all-clear for one hromada."""
    prior = Prior("p", "af", "Actual", False, named(["A"]))
    result = effects(clear(["A1a"]), View(prior), ancestors)
    assert isinstance(result, Effects)
    (ending,) = result.endings
    after = targets_after(prior.targets, ending)
    assert "A1a" not in after
    assert after["A1"] == "partial" and after["A"] == "partial"
    assert after["A2"] == "full" and after["A1b"] == "full" and after["A2a"] == "full"
    assert not ending.entirely


def test_all_clear_everywhere_ends_the_alert() -> None:
    prior = Prior("p", "af", "Actual", False, named(["A1"]))
    result = effects(clear(["A"]), View(prior), ancestors)
    assert isinstance(result, Effects) and result.ended_entirely == ("p",)


def test_all_clear_of_another_issuer_or_status_ends_nothing() -> None:
    prior = Prior("p", "af", "Actual", False, named(["A"]))
    for incoming in (clear(["A"], issuer="city"), clear(["A"], status="Exercise")):
        result = effects(incoming, View(prior), ancestors)
        assert isinstance(result, Effects) and result.endings == ()


def test_all_clear_ends_a_grazed_hromada_but_not_its_neighbour() -> None:
    """A shape alert meeting two hromadas; clearing one must not silence the other."""
    prior = Prior("p", "af", "Actual", False, grazed(["A1a", "B1a"]))
    result = effects(clear(["A1a"]), View(prior), ancestors)
    assert isinstance(result, Effects)
    after = targets_after(prior.targets, result.endings[0])
    assert set(after) == {"B1a", "B1", "B"}
    assert not result.endings[0].entirely


def test_references_are_checked() -> None:
    mine = Prior("m", "af", "Actual", False, named(["A"]))
    theirs = Prior("t", "city", "Actual", False, named(["B"]))
    view = View(refs={("af@x", "1"): mine, ("city@x", "2"): theirs})

    def update(*refs: tuple[str, str], status: str = "Actual") -> Effects | StateRefusal:
        return effects(Incoming("u", "af", "Cancel", status, frozenset(), {}, refs), view, ancestors)

    assert isinstance(update(("nobody@x", "9")), StateRefusal)
    assert update(("nobody@x", "9")).code == "unknown_reference"  # type: ignore[union-attr]
    assert update(("city@x", "2")).code == "foreign_reference"  # type: ignore[union-attr]
    assert update(("af@x", "1"), status="Exercise").code == "status_mismatch"  # type: ignore[union-attr]
    ok = update(("af@x", "1"))
    assert isinstance(ok, Effects)
    assert ok.ended_entirely == ("m",) and ok.touched == frozenset(mine.targets)
    assert not ok.holds_targets  # a cancel threatens nothing itself


region_sets = st.lists(st.sampled_from(sorted(PARENT)), min_size=1, max_size=4, unique=True)


@given(named_codes=region_sets, grazed_leaves=st.lists(st.sampled_from(LEAVES), max_size=3),
       cleared_codes=region_sets)
def test_all_clear_keeps_the_hierarchy_rule(named_codes: list[str], grazed_leaves: list[str],
                                            cleared_codes: list[str]) -> None:
    targets = grazed(grazed_leaves)
    targets.update(named(named_codes))
    cleared = {c for c, cov in named(cleared_codes).items() if cov == "full"}
    ending = apply_ending("p", targets, cleared, ancestors)
    leaves_before = {c for c in targets if not any(c in ancestors(o) for o in targets)}
    if ending is None:
        assert not (leaves_before & cleared)
        return
    after = targets_after(targets, ending)
    leaves_after = {c for c in after if not any(c in ancestors(o) for o in after)}
    # the leaves in force are exactly those not cleared
    assert leaves_after == leaves_before - cleared
    assert ending.entirely == (not leaves_after)
    for code, cov in after.items():
        # every region in force is a leaf or stands above a leaf in force
        assert code in leaves_after or any(code in ancestors(leaf) for leaf in leaves_after)
        # a region stays full only if none of the leaves below it was cleared
        if cov == "full":
            assert not any(code in ancestors(leaf) for leaf in leaves_before & cleared)
        # coverage only ever goes down
        assert not (cov == "full" and targets[code] == "partial")
    # nothing outside the cleared leaves and their ancestors changes
    touched = set(leaves_before & cleared) | {a for c in leaves_before & cleared for a in ancestors(c)}
    for code, cov in targets.items():
        if code not in touched:
            assert after.get(code) == cov

"""The check's search history finds exactly the alerts that target a region.

Alerts are filed under compact region keys (``tocsin.check.index.region_keys``: an
oblast-wide alert is not filed under each of its hromadas), so the lookup the check ranks
candidates by must give the same alerts as asking every alert's targets.
"""

from __future__ import annotations

import random

from tocsin.check.index import History, region_keys
from tocsin.ledger.effects import state_rules
from tocsin.regions import RegionSet, default_region_set
from tocsin.regions.targeting import target_codes
from tocsin.store.base import NewAlert, SearchText
from tocsin.store.memory import MemoryStore


def shape_like(regions: RegionSet, rng: random.Random) -> dict[str, str]:
    """Targets as a shape gives them: hromadas full or partial; above, full only if all are."""
    raion = rng.choice(regions.at_level("raion"))
    hromadas = [r.code for r in regions.children(raion.code)]
    targets = {code: rng.choice(("full", "partial")) for code in hromadas
               if rng.random() < 0.8}
    if len(targets) == len(hromadas) and rng.random() < 0.5:
        targets = dict.fromkeys(hromadas, "full")
    for code in list(targets):
        for up in regions.ancestors(code):
            below = [r.code for r in regions.descendants(up.code) if r.level == "hromada"]
            full = all(targets.get(h) == "full" for h in below)
            targets[up.code] = "full" if full else "partial"
    return targets


def test_region_lookup_equals_the_targets() -> None:
    regions = default_region_set()
    rng = random.Random(5)
    store = MemoryStore(rules=state_rules(lambda code: []))
    levels = {level: regions.at_level(level) for level in ("oblast", "raion", "hromada")}
    everything: dict[str, dict[str, str]] = {}
    for n in range(60):
        if n % 3 == 2:
            targets = shape_like(regions, rng)
        else:
            picks = [rng.choice(levels[rng.choice(("oblast", "raion", "hromada", "hromada"))]).code
                     for _ in range(rng.choice((1, 1, 2)))]
            targets = dict(target_codes(picks, regions))
        alert = NewAlert(
            id=f"{n:032x}", cap=b"<alert/>", statement=b"st", issuer_id="af", key_id="0",
            sender="af@test", identifier=f"id-{n}", sent="2026-12-01T12:00:00+02:00",
            sent_ts=float(n), received_ts=float(n), expires_ts=None, msg_type="Alert",
            status="Actual", kinds=("notice",), event="e", targets=targets,  # type: ignore[arg-type]
            text=SearchText(infos=(), keys=tuple(region_keys(targets, regions))))
        everything[alert.id] = targets
        store.append(alert)
    history = History(store, regions)
    targeted = sorted({c for targets in everything.values() for c in targets})
    asked = {*rng.sample(targeted, 300), *(r.code for r in rng.sample(list(regions), 100))}
    for code in sorted(asked):
        found = history.entries(history.recent_in_region(code, 1000))
        assert sorted(e.id for e in found.values()) == sorted(
            alert_id for alert_id, targets in everything.items() if code in targets), code

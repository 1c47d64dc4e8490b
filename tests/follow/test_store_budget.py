"""A followed feed cannot fill the data directory through the relay store.

A plain CAP feed is a stranger's server: each poll it may list 500 new documents of up to
704 KiB, all valid CAP (kept, "relayed, unverified") or all refused (a refusal row each).
``relayed.sqlite3`` lives in the data directory beside the hub's own log store; left
unbounded, one hostile feed fills the disk (some 340 MB a poll) and the hub can no longer
accept its issuers' alerts. Each feed now has a budget of bytes and of refusals, the oldest
going first; other feeds' alerts are never evicted for it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tocsin.follow.store import Relayed, RelayStore


def _relayed(feed: str, n: int, size: int, ts: float) -> Relayed:
    return Relayed(id=f"{feed[:1]}{n:031x}", feed=feed, trust="unverified", words="relayed, unverified",
                   detail="", source_url=f"https://x.example/{feed}/{n}", cap=b"x" * size, statement=None,
                   proof=None, sender=f"s{n}", identifier=f"i{n}", sent="2026-01-01T00:00:00+00:00",
                   msg_type="Alert", status="Actual", event="e", headline="h", area_desc="a", received_ts=ts)


def test_one_feed_cannot_fill_the_disk_nor_evict_another_feeds_alerts(tmp_path: Path) -> None:
    store = RelayStore(tmp_path / "relayed.sqlite3", max_feed_bytes=4 << 20, max_feed_refusals=100)
    assert store.add(_relayed("good", 0, 1000, 1.0))
    for n in range(40):  # 40 MiB from one feed against a 4 MiB budget
        assert store.add(_relayed("hostile", n, 1 << 20, 2.0 + n))
    held = store.recent(feed="hostile", limit=500)
    assert 0 < len(held) <= 4
    assert {r["id"] for r in held} >= {_relayed("hostile", 39, 1, 0).id}  # the newest stay
    assert store.get(_relayed("good", 0, 1, 0).id) is not None
    # A followed hub's verified alerts (its issuers', in its log) are never evicted: the
    # organisations' rule reads them while a check-in they raised is open.
    hub = [dataclasses.replace(_relayed("hub", n, 1 << 20, 100.0 + n), trust="verified")
           for n in range(6)]
    assert all(store.add(r) for r in hub)
    assert len(store.recent(feed="hub", limit=500)) == 6
    for n in range(1000):
        store.refuse("hostile", f"https://x.example/bad/{n}", "invalid_cap", "r" * 1000, float(n))
    refusals = store.refusals("hostile", limit=10_000)
    assert len(refusals) <= 100 and refusals[0]["subject"].endswith("/999")
    store.close()
    assert (tmp_path / "relayed.sqlite3").stat().st_size < 16 << 20

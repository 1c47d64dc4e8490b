"""Region history and baseline, computed from stored records (pure: no hub, no browser)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tocsin.store.base import AlertRecord
from tocsin.web.history import history, spans, window_start_ts

CODE = "UA46000000000026241"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0
DAY = 86400.0


def record(n: int, sent_ts: float, *, minutes: float | None = 30, kinds: tuple[str, ...] = ("air-raid",),
           ended_after: float | None = None, msg_type: str = "Alert",
           status: str = "Actual") -> AlertRecord:
    return AlertRecord(
        id=f"{n:032x}", cap=b"", statement=b"", issuer_id="demo-air-force", key_id="00000000",
        sender="s", identifier=f"i{n}", sent="", sent_ts=sent_ts, received_ts=sent_ts,
        expires_ts=None if minutes is None else sent_ts + minutes * 60, msg_type=msg_type,
        status=status, kinds=kinds, event="Повітряна тривога", event_id=n,
        ended_ts=None if ended_after is None else sent_ts + ended_after, ended_by=None,
        targets={CODE: "full"}, log_index=n,
    )


def test_baseline_counts_complete_days_before_today() -> None:
    records = [record(i, NOW - (d * DAY) - HOUR, minutes=m)
               for i, (d, m) in enumerate([(1, 30), (1, 60), (2, 90), (10, 30)])]
    records.append(record(99, NOW - HOUR, minutes=None))  # today, still running
    data = history(records, CODE, NOW)
    assert data["window"] == {"from": "2026-10-27", "to": "2026-11-25", "days": 30}
    assert len(data["days"]) == 30
    assert data["today"] == {"date": "2026-11-25", "count": 1}
    assert data["baseline"]["days_counted"] == 29
    assert data["baseline"]["per_day"] == round(4 / 29, 2)
    assert data["baseline"]["typical_duration_secs"] == 45 * 60  # median of 30, 60, 90, 30 min
    by_day = {d["date"]: d["count"] for d in data["days"]}
    assert by_day["2026-11-24"] == 2 and by_day["2026-11-23"] == 1 and by_day["2026-11-15"] == 1
    ongoing = [s for s in data["timeline"] if s["ongoing"]]
    assert [s["id"] for s in ongoing] == [f"{99:032x}"]
    assert ongoing[0]["end"] == NOW


def test_an_alert_ends_when_it_was_ended_not_when_it_would_have_expired() -> None:
    [span] = spans([record(1, NOW - 5 * HOUR, minutes=360, ended_after=HOUR)], CODE, NOW)
    assert span.end - span.start == HOUR
    assert not span.ongoing


def test_all_clears_cancels_tests_and_exercises_are_not_warnings() -> None:
    records = [
        record(1, NOW - HOUR, kinds=("all-clear",)),
        record(2, NOW - HOUR, msg_type="Cancel"),
        record(3, NOW - HOUR, status="Exercise"),
        record(4, NOW - HOUR, status="Test"),
    ]
    data = history(records, CODE, NOW)
    assert data["timeline"] == []
    assert data["today"]["count"] == 0
    assert data["baseline"] == {"per_day": 0.0, "typical_duration_secs": None, "days_counted": 29}


def test_alerts_outside_the_window_are_left_out_and_long_ones_reaching_in_stay() -> None:
    old = record(1, NOW - 40 * DAY)
    long_running = record(2, NOW - 31 * DAY, minutes=3 * 24 * 60)  # started before, ran into it
    data = history([old, long_running], CODE, NOW)
    assert [s["id"] for s in data["timeline"]] == [long_running.id]
    assert sum(d["count"] for d in data["days"]) == 0  # counted on the day it started, not in view


def test_coverage_is_reported_per_region_while_active() -> None:
    partial = replace(record(1, NOW - HOUR), targets={CODE: "partial"})
    assert history([partial], CODE, NOW)["timeline"][0]["coverage"] == "partial"
    ended = replace(record(2, NOW - HOUR, ended_after=60), targets={})
    assert history([ended], CODE, NOW)["timeline"][0]["coverage"] is None


@pytest.mark.parametrize("days", [1, 30, 90])
def test_fetch_window_reaches_a_week_before_the_first_day(days: int) -> None:
    assert window_start_ts(NOW, days) <= NOW - (days + 7) * DAY
    data = history([], CODE, NOW, days)
    assert len(data["days"]) == days and data["today"]["date"] == "2026-11-25"

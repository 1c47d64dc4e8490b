"""A region's recent history and its normal baseline: context against panic.

"Three alerts today" means little on its own; against "usually 2.4 a day,
typically 45 minutes each" it tells a reader whether today is unusual. This
module turns stored alert records into that picture. It is pure (records and
a clock in, plain data out) so it is tested without a hub.

Days are UTC calendar days. An alert's span runs from its ``sent`` time to
the first of: the alert that ended it, its expiry, now. All-clears and
cancellations end alerts; they are not alerts themselves and are not counted.

The timeline shows threats and notices, each with its ``class``; only threats
are counted (per day, today, the baseline and typical duration): "three alerts
today" means three times people were told to take shelter. Denials are about
messages, not places, and are not on a region's timeline.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.kinds import KindClass, kind_class
from tocsin.store.base import AlertRecord

HISTORY_DAYS = 30
SECS_PER_DAY = 86400


@dataclass(frozen=True, slots=True)
class Span:
    """One warning as the timeline draws it."""

    id: str
    issuer: str
    kinds: tuple[str, ...]
    event: str
    coverage: str | None  # full/partial for this region while active; None once it ended
    start: float
    end: float  # POSIX seconds; ``now`` while still running
    ongoing: bool
    klass: KindClass = KindClass.THREAT


def is_warning(record: AlertRecord) -> bool:
    """On the timeline: an Actual new alert or update that is a threat or a notice."""
    return (record.status == "Actual" and record.msg_type in ("Alert", "Update")
            and kind_class(record.kinds) in (KindClass.THREAT, KindClass.NOTICE))


def spans(records: Iterable[AlertRecord], code: str, now: float) -> list[Span]:
    """The warnings for ``code`` as spans, oldest first (updates replace what they end)."""
    out = []
    for record in records:
        if not is_warning(record):
            continue
        ends = [t for t in (record.ended_ts, record.expires_ts) if t is not None]
        end = min([*ends, now])
        out.append(Span(
            id=record.id, issuer=record.issuer_id, kinds=record.kinds, event=record.event,
            coverage=record.targets.get(code), start=record.sent_ts,
            end=max(end, record.sent_ts), ongoing=record.active_at(now),
            klass=kind_class(record.kinds),
        ))
    out.sort(key=lambda s: (s.start, s.id))
    return out


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def history(records: Iterable[AlertRecord], code: str, now: float,
            days: int = HISTORY_DAYS) -> dict[str, Any]:
    """Timeline, per-day counts and the baseline for the ``days`` days ending today (UTC).

    The baseline is taken over the complete days before today, so today's
    own alerts never raise the bar they are compared with.
    """
    today = datetime.fromtimestamp(now, UTC).date()
    first = today - timedelta(days=days - 1)
    window_start = datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()
    items = [s for s in spans(records, code, now) if s.end >= window_start]
    counts = {(first + timedelta(days=i)).isoformat(): 0 for i in range(days)}
    threats = [s for s in items if s.klass is KindClass.THREAT]
    for span in threats:
        day = day_of(span.start)
        if day in counts:
            counts[day] += 1
    past = [n for day, n in counts.items() if day != today.isoformat()]
    durations = [s.end - s.start for s in threats if not s.ongoing]
    return {
        "window": {"from": first.isoformat(), "to": today.isoformat(), "days": days},
        "days": [{"date": day, "count": n} for day, n in counts.items()],
        "timeline": [
            {"id": s.id, "issuer": s.issuer, "kinds": list(s.kinds), "class": s.klass.value,
             "event": s.event, "coverage": s.coverage, "start": s.start, "end": s.end,
             "ongoing": s.ongoing}
            for s in items
        ],
        "baseline": {
            "per_day": round(sum(past) / len(past), 2) if past else 0.0,
            "typical_duration_secs": round(statistics.median(durations)) if durations else None,
            "days_counted": len(past),
        },
        "today": {"date": today.isoformat(), "count": counts[today.isoformat()]},
    }


MAX_ALERT_DAYS = 7  # ``tocsin issue --expires-in`` allows at most a week


def window_start_ts(now: float, days: int = HISTORY_DAYS) -> float:
    """Earliest ``sent`` time worth fetching: an alert may start up to a week before the window."""
    return now - (days + 1 + MAX_ALERT_DAYS) * SECS_PER_DAY

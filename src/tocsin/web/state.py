"""The map's whole picture in one response: every active alert and each region's state.

The page asks for this on load and again after every stream event (an event
says *that* something changed; an update or all-clear can end other alerts,
and expiries happen silently, so recomputing the picture here is simpler and
more honest than patching it in the browser). It stays small: at most one
entry per region, plus the active alerts' display fields.

Only threats colour a region (``regions``, ``alerts``). Active notices are
given apart (``notice_regions``, ``notices``): shown distinctly, never as
"under alert". Denials not yet expired are listed (``denials``) and colour
nothing. Each alert entry is the one alert view of :mod:`tocsin.api.views`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tocsin.api.views import Views, record_class, stored_alert
from tocsin.cap.model import Alert
from tocsin.kinds import KindClass
from tocsin.store.base import AlertRecord

if TYPE_CHECKING:
    from tocsin.runtime import Hub


def _infos(alert: Alert) -> list[dict[str, Any]]:
    """What the list shows, per language block: the page picks the reader's language."""
    return [
        {
            "language": info.language,
            "event": info.event,
            "headline": info.headline,
            "instruction": info.instruction,
            "severity": info.severity,
            "certainty": info.certainty,
            "urgency": info.urgency,
            "sender_name": info.sender_name,
            "areas": [area.area_desc for area in info.area],
        }
        for info in alert.info
    ]


def _area_codes(alert: Alert) -> list[str]:
    codes: list[str] = []
    for info in alert.info:
        for area in info.area:
            for pair in area.geocode:
                if pair.value not in codes:
                    codes.append(pair.value)
    return codes


def region_states(records: Iterable[AlertRecord]) -> dict[str, dict[str, Any]]:
    """Region code -> ``{coverage, kinds, alerts}``; full anywhere wins over partial."""
    states: dict[str, dict[str, Any]] = {}
    for record in records:
        for code, coverage in record.targets.items():
            state = states.setdefault(code, {"coverage": "partial", "kinds": [], "alerts": []})
            if coverage == "full":
                state["coverage"] = "full"
            for kind in record.kinds:
                if kind not in state["kinds"]:
                    state["kinds"].append(kind)
            state["alerts"].append(record.id)
    for state in states.values():
        state["kinds"].sort()
    return states


def map_state(hub: Hub, records: list[AlertRecord], now: float, event_id: int,
              denials: Iterable[AlertRecord] = ()) -> dict[str, Any]:
    """The JSON body of ``GET /api/v1/map/state`` (documented in docs/web.md)."""
    views = Views(now=now, regions=hub.regions, registry=hub.registry, get=hub.store.get,
                  log_size=hub.checkpointer.size)
    active = [r for r in records if r.active_at(now)]
    by_class: dict[KindClass, list[dict[str, Any]]] = {k: [] for k in KindClass}
    for record in sorted(active, key=lambda r: (-r.sent_ts, r.id)):
        by_class[record_class(record)].append(_entry(views, record))
    live_denials = [r for r in denials if record_class(r) is KindClass.DENIAL and r.active_at(now)]
    threats = [r for r in active if record_class(r) is KindClass.THREAT]
    notices = [r for r in active if record_class(r) is KindClass.NOTICE]
    return {
        "now": now,
        "event_id": event_id,
        "demo": bool(hub.settings.demo),
        "regions": region_states(threats),
        "notice_regions": region_states(notices),
        "alerts": by_class[KindClass.THREAT],
        "notices": by_class[KindClass.NOTICE],
        "denials": [_entry(views, r) for r in sorted(live_denials, key=lambda r: (-r.sent_ts, r.id))],
    }


def _entry(views: Views, record: AlertRecord) -> dict[str, Any]:
    """One alert for the map: its view plus the fields the list shows per language."""
    alert = stored_alert(record)
    entry = views.one(record)
    # ``targets`` lists every hromada under an oblast alert (hundreds of codes); the map
    # reads coverage from ``regions`` instead, so the picture stays small.
    del entry["targets"]
    entry.update({
        "area_codes": _area_codes(alert),
        "info": _infos(alert),
        "log_index": record.log_index,
    })
    return entry

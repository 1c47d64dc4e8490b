"""The map's whole picture in one response: every active alert and each region's state.

The page asks for this on load and again after every stream event (an event
says *that* something changed; an update or all-clear can end other alerts,
and expiries happen silently, so recomputing the picture here is simpler and
more honest than patching it in the browser). It stays small: at most one
entry per region, plus the active alerts' display fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tocsin.cap.model import Alert
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


def map_state(hub: Hub, records: list[AlertRecord], now: float, event_id: int) -> dict[str, Any]:
    """The JSON body of ``GET /api/v1/map/state`` (documented in docs/web.md)."""
    active = [r for r in records if r.active_at(now)]
    alerts: list[dict[str, Any]] = []
    for record in sorted(active, key=lambda r: (-r.sent_ts, r.id)):
        alert = hub.parse_stored(record.cap)
        alerts.append({
            "id": record.id,
            "issuer": record.issuer_id,
            "kinds": list(record.kinds),
            "msgType": record.msg_type,
            "sent": record.sent,
            "sent_ts": record.sent_ts,
            "expires": record.expires_ts,
            "area_codes": _area_codes(alert),
            "info": _infos(alert),
            "log_index": record.log_index,
        })
    return {"now": now, "event_id": event_id, "regions": region_states(active), "alerts": alerts}

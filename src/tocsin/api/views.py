"""One alert view: the JSON every answer and stream event shows for an alert.

Five surfaces used to hand-build their own shape of an alert (issue 13); they
now call :func:`alert_view` (a stored record) or :func:`payload_view` (an alert
being issued, for its stream event). The view says, in fields a page can show
without working anything out:

* ``class`` — threat, notice, all-clear or denial (:func:`tocsin.kinds.kind_class`,
  defined once in the core). Only threats colour a place.
* ``over`` — ``None`` while in force, else why and when it stopped (ended by whom,
  cancelled, expired), with the time in Europe/Kyiv.
* ``areas`` — the region codes the CAP names, each with its Ukrainian and English name.

Pure: records, a region set and a clock in, plain data out. No HTTP framework here,
so the issuing path may use it for stream payloads too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from tocsin.cap import parse_alert
from tocsin.cap.model import Alert
from tocsin.kinds import KINDS, KindClass, kind_class
from tocsin.ledger.effects import is_active as ledger_is_active
from tocsin.ledger.effects import is_announcement
from tocsin.regions import Region, RegionSet
from tocsin.store.base import AlertRecord
from tocsin.trust.registry import Registry

#: The zone every public time is shown in (with its offset, so nobody has to guess).
TIME_ZONE = "Europe/Kyiv"
_ZONE = ZoneInfo(TIME_ZONE)
OverReason = Literal["ended", "cancelled", "updated", "expired"]
CLASSES: tuple[str, ...] = tuple(k.value for k in KindClass)


def iso_local(ts: float | None) -> str | None:
    """POSIX seconds as ISO 8601 in Europe/Kyiv with its offset (``2026-12-01T15:02:11+02:00``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, _ZONE).isoformat(timespec="seconds")


def record_class(record: AlertRecord) -> KindClass:
    return kind_class(record.kinds)


def over_of(record: AlertRecord, now: float, ender: AlertRecord | None) -> dict[str, Any] | None:
    """Why and when ``record`` stopped being in force, or None while it is (or never can be).

    ``ender`` is the stored alert named by ``record.ended_by`` (None if it has none): a
    Cancel makes it ``cancelled``, an Update that is not an all-clear ``updated`` (a newer
    version is in force), anything else ``ended``. The earlier of its ending and its expiry
    wins: an all-clear sent after an alert had already expired does not make it "ended".
    """
    if is_announcement(record.msg_type, record.kinds):
        return None
    expired = record.expires_ts is not None and record.expires_ts <= now
    if record.ended_ts is not None and not (expired and record.expires_ts < record.ended_ts):  # type: ignore[operator]
        reason: OverReason = "ended"
        if ender is not None and ender.msg_type == "Cancel":
            reason = "cancelled"
        elif ender is not None and ender.msg_type == "Update" \
                and kind_class(ender.kinds) is not KindClass.ALL_CLEAR:
            reason = "updated"  # a newer version is in force: not "ended" (the danger may go on)
        return {"reason": reason, "at": record.ended_ts, "at_iso": iso_local(record.ended_ts),
                "by": record.ended_by, "by_issuer": ender.issuer_id if ender else None}
    if expired:
        return {"reason": "expired", "at": record.expires_ts, "at_iso": iso_local(record.expires_ts),
                "by": None, "by_issuer": None}
    return None


def is_active(record: AlertRecord, now: float) -> bool:
    """In force now: the rulebook's one definition (denials included)."""
    return record.active_at(now)


# -- areas ---------------------------------------------------------------------


def named_codes(alert: Alert, regions: RegionSet) -> list[str]:
    """Canonical codes of the regions the alert's geocodes name, in order, once each."""
    codes: list[str] = []
    for info in alert.info:
        for area in info.area:
            for pair in area.geocode:
                if pair.value_name.strip().upper() not in regions.geocode_names:
                    continue
                code = regions.canonical(pair.value) or pair.value
                if code not in codes:
                    codes.append(code)
    return codes


#: At most this many regions named for an alert given by shapes; beyond, their oblasts.
MAX_REACHED_NAMED = 12


def reached_codes(targets: Mapping[str, str], regions: RegionSet) -> list[str]:
    """The regions an alert given by shapes reaches, to name it by (never its ``areaDesc``).

    ``areaDesc`` is the issuer's free text: a circle over Lviv may be described as
    "м. Київ". So an alert whose CAP names no region by geocode is named by the regions
    the hub found its shapes to reach (its ``targets``, which hold every level): the
    largest regions reached in full, and the hromadas reached in part; more than
    :data:`MAX_REACHED_NAMED` are named by their oblasts.
    """
    def full_above(region: Region) -> bool:
        return any(targets.get(a.code) == "full" for a in regions.ancestors(region.code))

    codes: list[str] = []
    for code in sorted(targets, key=lambda c: (targets[c] != "full", c)):
        region = regions.get(code)
        if region is None or full_above(region):
            continue
        if targets[code] == "full" or region.level == "hromada":
            codes.append(code)
    if len(codes) <= MAX_REACHED_NAMED:
        return codes
    oblasts: list[str] = []
    for code in codes:
        oblast = regions.require(code).oblast
        if oblast not in oblasts:
            oblasts.append(oblast)
    return oblasts


def area_descs(alert: Alert) -> list[str]:
    """The CAP ``areaDesc`` texts of the first info (the language the issuer led with)."""
    return [area.area_desc for info in alert.info[:1] for area in info.area]


def place(code: str, regions: RegionSet) -> dict[str, Any]:
    """``{code, name_uk, name_en}``; an unknown code keeps itself as its name."""
    region = regions.get(code)
    if region is None:
        return {"code": code, "name_uk": code, "name_en": code}
    return {"code": region.code, "name_uk": region.name_uk_full, "name_en": region.name_en}


@lru_cache(maxsize=8192)
def _parsed_facts(alert_id: str, cap: bytes) -> tuple[Alert, ...]:
    """Stored alerts never change, so each is parsed once (keyed by id and bytes)."""
    return (parse_alert(cap, strict=False).alert,)


def stored_alert(record: AlertRecord) -> Alert:
    """The parsed CAP of a stored record (the hub verified it when it was accepted)."""
    return _parsed_facts(record.id, record.cap)[0]


# -- the view ------------------------------------------------------------------


def issuer_name(registry: Registry | None, issuer_id: str) -> dict[str, str] | None:
    issuer = registry.issuer(issuer_id) if registry is not None else None
    return None if issuer is None else {"uk": issuer.name_uk, "en": issuer.name_en}


def _common(*, alert: Alert, alert_id: str, issuer_id: str, key_id: str, sent_ts: float,
            received: float, expires: float | None, kinds: Sequence[str],
            regions: RegionSet, registry: Registry | None,
            targets: Mapping[str, str]) -> dict[str, Any]:
    info = alert.info[0] if alert.info else None
    codes = named_codes(alert, regions) or reached_codes(targets, regions)
    klass = kind_class(tuple(kinds))
    return {
        "id": alert_id,
        "issuer": issuer_id,
        "issuer_name": issuer_name(registry, issuer_id),
        "key_id": key_id,
        "sender": alert.sender,
        "identifier": alert.identifier,
        "sent": alert.sent,
        "sent_ts": sent_ts,
        "received": received,
        "expires": expires,
        "expires_iso": iso_local(expires),
        "msgType": alert.msg_type,
        "status": alert.status,
        "kinds": sorted(kinds),
        "class": klass.value,
        "event": info.event if info else alert.msg_type,
        "headline": info.headline if info else None,
        "urgency": info.urgency if info else None,
        "severity": info.severity if info else None,
        "certainty": info.certainty if info else None,
        "areas": [place(c, regions) for c in codes],
        "area_desc": area_descs(alert),
        "references": [r.text() for r in alert.references],
    }


def links(alert_id: str) -> dict[str, str]:
    base = f"/api/v1/alerts/{alert_id}"
    return {"self": base, "cap": f"{base}/cap", "statement": f"{base}/statement",
            "proof": f"{base}/proof", "page": f"/alerts/{alert_id}"}


def alert_view(record: AlertRecord, *, now: float, regions: RegionSet,
               registry: Registry | None = None, ender: AlertRecord | None = None,
               log_size: int | None = None) -> dict[str, Any]:
    """The view of a stored alert as of ``now`` (``ender``: the alert that ended it, if any)."""
    view = _common(alert=stored_alert(record), alert_id=record.id, issuer_id=record.issuer_id,
                   key_id=record.key_id, sent_ts=record.sent_ts, received=record.received_ts,
                   expires=record.expires_ts, kinds=record.kinds, regions=regions,
                   registry=registry, targets=record.targets)
    view["event"] = record.event
    view.update({
        "active": is_active(record, now),
        "over": over_of(record, now, ender),
        "ended": record.ended_ts,
        "ended_by": record.ended_by,
        "targets": record.targets,
        "event_id": record.event_id,
        "log": {"index": record.log_index,
                "status": "proven" if record.log_index is not None and log_size is not None
                and record.log_index < log_size else "pending"},
        "links": links(record.id),
    })
    return view


def payload_view(*, alert: Alert, alert_id: str, issuer_id: str, key_id: str, sent_ts: float,
                 received: float, expires: float | None, kinds: Sequence[str],
                 targets: dict[str, str], regions: RegionSet,
                 registry: Registry | None = None) -> dict[str, Any]:
    """The view of an alert as it is issued: the stream event's data (encoded once, stored).

    It has no ``event_id`` or ``log`` (the SSE ``id:`` line carries the event id; the log
    position is assigned in the same transaction) and is ``over: null`` — a new alert is
    in force; one it ends is named in ``references`` or found by its region.
    """
    view = _common(alert=alert, alert_id=alert_id, issuer_id=issuer_id, key_id=key_id,
                   sent_ts=sent_ts, received=received, expires=expires, kinds=kinds,
                   regions=regions, registry=registry, targets=targets)
    view.update({
        "active": ledger_is_active(status=alert.status, msg_type=alert.msg_type, kinds=kinds,
                                   ended=False, expires_ts=expires, has_targets=bool(targets),
                                   now=received),
        "over": None,
        "ended": None,
        "ended_by": None,
        "targets": targets,
        "links": links(alert_id),
        "url": f"/api/v1/alerts/{alert_id}",
    })
    return view


class Views:
    """Builds views of many records with one lookup per distinct ending alert."""

    def __init__(self, *, now: float, regions: RegionSet, registry: Registry | None,
                 get: Callable[[str], AlertRecord | None], log_size: int | None) -> None:
        self.now = now
        self.regions = regions
        self.registry = registry
        self._get = get
        self.log_size = log_size
        self._enders: dict[str, AlertRecord | None] = {}

    def ender(self, record: AlertRecord) -> AlertRecord | None:
        if record.ended_by is None:
            return None
        if record.ended_by not in self._enders:
            self._enders[record.ended_by] = self._get(record.ended_by)
        return self._enders[record.ended_by]

    def one(self, record: AlertRecord) -> dict[str, Any]:
        return alert_view(record, now=self.now, regions=self.regions, registry=self.registry,
                          ender=self.ender(record), log_size=self.log_size)

    def many(self, records: Iterable[AlertRecord]) -> list[dict[str, Any]]:
        return [self.one(r) for r in records]


# -- classes in queries --------------------------------------------------------


def parse_class(raw: str | None) -> KindClass | None:
    """``?class=`` -> the class; None or empty: every class. ValueError names a bad value."""
    if raw is None or not raw.strip():
        return None
    name = raw.strip().lower()
    if name not in CLASSES:
        raise ValueError(f"class must be one of {', '.join(CLASSES)}; got {raw.strip()[:40]!r}")
    return KindClass(name)


def class_filter(klass: KindClass) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """``(kinds_any, kinds_none)`` for the store: exactly the alerts :func:`kind_class` puts in ``klass``.

    Derived from :func:`kind_class` itself (which class wins when an alert declares two), so
    the precedence is not written down a second time. A notice is what no other class claims,
    including an alert that declares no kind: it has no ``kinds_any``.
    """
    own = sorted(code for code, kind in KINDS.items() if kind.klass is klass)
    beats = sorted(code for code, kind in KINDS.items() if kind.klass is not klass
                   and own and kind_class((code, own[0])) is not klass)
    return (None if klass is KindClass.NOTICE else tuple(own)), tuple(beats)

"""Tocsin's state in the shapes of the alerts.in.ua API (read-only compatibility).

Thousands of programs (Home Assistant automations, LED maps, Telegram bots)
read Ukrainian alerts through the alerts.in.ua API and its official client
(the ``alerts-in-ua`` package). This module turns stored, verified alert
records into exactly what that client requests and parses; the HTTP side is
:mod:`tocsin.compat.alerts_in_ua_routes`. Pure: records, a region set and a
clock in, plain data out.

Invariants:

* Only **threats** (:data:`tocsin.kinds.KindClass.THREAT`) are air-raid alerts here.
  Notices never appear (they are not alerts to shelter); denials never appear
  (they are about a message, not a place); all-clears only end threats.
* Times are UTC in the alerts.in.ua forms: ``2026-12-01T15:02:11.000Z`` for an
  alert, ``2026/12/01 15:02:11 +0000`` for ``meta.last_updated_at``.
* A location has the alerts.in.ua uid where one exists (the 27 oblast-level
  units); finer units carry their KATOTTG code as ``location_uid`` (alerts.in.ua
  raion and hromada uids are not published under an open licence).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tocsin.cap import parse_alert
from tocsin.kinds import KindClass, kind_class
from tocsin.regions import Region, RegionSet
from tocsin.store.base import AlertRecord

#: The oblast order of the ``iot/active_air_raid_alerts_by_oblast.json`` string, by
#: alerts.in.ua uid (the official client reads character i as its i-th location).
OBLAST_ORDER_UIDS: tuple[int, ...] = (
    29, 8, 4, 9, 28, 10, 11, 12, 13, 31, 14, 15, 16, 27, 17, 18, 19, 5, 30, 20, 21, 22, 23, 3, 24,
    26, 25,
)

#: Tocsin kind -> alerts.in.ua ``alert_type`` (docs/compat.md explains each choice).
#: alerts.in.ua knows air_raid, artillery_shelling, urban_fights, chemical and nuclear.
ALERT_TYPES: dict[str, str] = {
    "air-raid": "air_raid",
    "missile": "air_raid",
    "drone": "air_raid",
    "shelling": "artillery_shelling",
    "shelter-in-place": "air_raid",  # "chemical" when the CAP category is CBRNE
}
DEFAULT_ALERT_TYPE = "air_raid"  # a threat of a kind not listed above still means "take shelter"
CBRNE_SHELTER_TYPE = "chemical"

HISTORY_PERIODS: dict[str, float] = {  # the periods alerts.in.ua serves, in seconds
    "week_ago": 7 * 86400.0,
    "month_ago": 30 * 86400.0,
}
DISCLAIMER = ("Tocsin: alerts signed by their issuers and logged in a public transparency log; "
              "verify any alert at /api/v1/alerts/{tocsin_alert_id}. Air-raid alerts only (threats).")

Status = Literal["A", "P", "N"]


def is_air_raid(record: AlertRecord) -> bool:
    """A record that counts as an alerts.in.ua alert: a threat, by the one kind-class rule."""
    return kind_class(record.kinds) is KindClass.THREAT


def api_time(ts: float) -> str:
    """POSIX seconds as alerts.in.ua writes an alert's times: ``2026-12-01T15:02:11.000Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def meta_time(ts: float) -> str:
    """POSIX seconds as ``meta.last_updated_at``: ``2026/12/01 15:02:11 +0000``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y/%m/%d %H:%M:%S +0000")


def alert_types(record: AlertRecord) -> list[str]:
    """The alerts.in.ua types a threat record maps to, each once, in a stable order."""
    found: list[str] = []
    for kind in sorted(record.kinds):
        if kind_class((kind,)) is not KindClass.THREAT:
            continue
        mapped = ALERT_TYPES.get(kind, DEFAULT_ALERT_TYPE)
        if kind == "shelter-in-place" and _is_cbrne(record.cap):
            mapped = CBRNE_SHELTER_TYPE
        if mapped not in found:
            found.append(mapped)
    return found or [DEFAULT_ALERT_TYPE]


def _is_cbrne(cap: bytes) -> bool:
    alert = parse_alert(cap, strict=False).alert  # bytes this hub verified and stored
    return any("CBRNE" in info.category for info in alert.info)


@dataclass(frozen=True, slots=True)
class Location:
    """One alerts.in.ua location: a region and how the API names it."""

    region: Region
    oblast: Region

    @property
    def uid(self) -> str:
        return str(self.region.alerts_in_ua_uid) if self.region.alerts_in_ua_uid is not None \
            else self.region.code

    @property
    def type(self) -> str:
        if self.region.level == "oblast":
            return "city" if self.region.name_uk_full.startswith("м. ") else "oblast"
        return "raion" if self.region.level == "raion" else "hromada"


def location(regions: RegionSet, code: str) -> Location:
    region = regions.require(code)
    return Location(region, regions.require(region.oblast))


def top_full_codes(targets: dict[str, str], regions: RegionSet) -> list[str]:
    """The regions an alert covers whole whose parent it does not cover whole: its locations."""
    out = []
    for code, coverage in sorted(targets.items()):
        if coverage != "full":
            continue
        region = regions.get(code)
        if region is None:
            continue
        if region.parent is not None and targets.get(region.parent) == "full":
            continue
        out.append(region.code)
    return out


def entry_id(alert_id: str, uid: str, alert_type: str) -> int:
    """A stable integer id per (alert, location, type), below 2**53 (safe in JavaScript)."""
    digest = hashlib.sha256(f"{alert_id}/{uid}/{alert_type}".encode()).digest()
    return int.from_bytes(digest[:7], "big") >> 3


def alert_entries(record: AlertRecord, codes: Sequence[str], regions: RegionSet, *,
                  finished_ts: float | None, updated_ts: float) -> list[dict[str, Any]]:
    """One alerts.in.ua alert object per location and type of a threat record."""
    out = []
    for code in codes:
        loc = location(regions, code)
        for alert_type in alert_types(record):
            out.append({
                "id": entry_id(record.id, loc.uid, alert_type),
                "location_title": loc.region.name_uk_full,
                "location_title_en": loc.region.name_en,
                "location_type": loc.type,
                "started_at": api_time(record.sent_ts),
                "finished_at": None if finished_ts is None else api_time(finished_ts),
                "updated_at": api_time(updated_ts),
                "alert_type": alert_type,
                "location_uid": loc.uid,
                "location_oblast": loc.oblast.name_uk_full,
                "location_oblast_uid": loc.oblast.alerts_in_ua_uid,
                "location_raion": _raion_title(loc, regions),
                "notes": record.event or None,
                "country": None,
                "calculated": False,
                "alert_level": "red",
                "tocsin_alert_id": record.id,  # extension: the verifiable Tocsin alert
            })
    return out


def _raion_title(loc: Location, regions: RegionSet) -> str | None:
    if loc.region.level == "hromada" and loc.region.parent is not None:
        return regions.require(loc.region.parent).name_uk_full
    return None


def alerts_document(entries: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """The ``{alerts, meta, disclaimer}`` envelope of ``alerts/active.json`` and history."""
    return {"alerts": entries, "meta": {"last_updated_at": meta_time(now), "type": "full"},
            "disclaimer": DISCLAIMER}


def active_alerts(records: Iterable[AlertRecord], regions: RegionSet, now: float) -> dict[str, Any]:
    """``alerts/active.json``: every active threat, one entry per location it covers whole."""
    entries: list[dict[str, Any]] = []
    for record in sorted(records, key=lambda r: (r.sent_ts, r.id)):
        if not (is_air_raid(record) and record.active_at(now)):
            continue
        codes = top_full_codes(dict(record.targets), regions)
        entries.extend(alert_entries(record, codes, regions, finished_ts=None,
                                     updated_ts=record.received_ts))
    return alerts_document(entries, now)


def finished_at(record: AlertRecord, now: float) -> float | None:
    """When a threat stopped (ended by another alert, or expired), or None while in force."""
    if record.active_at(now):
        return None
    ends = [t for t in (record.ended_ts, record.expires_ts) if t is not None]
    return min(ends) if ends else record.received_ts


def named_codes(cap: bytes, regions: RegionSet) -> list[str]:
    """Canonical codes of the regions a stored alert's geocodes name, once each, in order."""
    alert = parse_alert(cap, strict=False).alert  # bytes this hub verified and stored
    codes: list[str] = []
    for info in alert.info:
        for area in info.area:
            for pair in area.geocode:
                code = regions.canonical(pair.value)
                if code is not None and code not in codes:
                    codes.append(code)
    return codes


def history(records: Iterable[AlertRecord], regions: RegionSet, oblast: str, since_ts: float,
            now: float, named: dict[str, list[str]]) -> dict[str, Any]:
    """``regions/{uid}/alerts/{period}.json``: threats in ``oblast`` sent since ``since_ts``.

    ``named`` maps a record id to the canonical codes its CAP names (an ended alert's
    stored targets are trimmed, so its locations come from its own geocodes).
    """
    entries: list[dict[str, Any]] = []
    for record in sorted(records, key=lambda r: (r.sent_ts, r.id)):
        if not is_air_raid(record) or record.status != "Actual" or record.sent_ts < since_ts:
            continue
        if record.msg_type not in ("Alert", "Update"):
            continue
        codes = [c for c in named.get(record.id, []) if regions.covers(oblast, c)]
        if not codes:
            continue
        done = finished_at(record, now)
        entries.extend(alert_entries(record, codes, regions, finished_ts=done,
                                     updated_ts=max(record.received_ts, done or 0.0)))
    entries.reverse()  # newest first, as alerts.in.ua lists history
    return alerts_document(entries, now)


def oblast_status(records: Iterable[AlertRecord], oblast: str, now: float) -> Status:
    """``A`` a threat covers the whole oblast, ``P`` part of it, ``N`` none."""
    status: Status = "N"
    for record in records:
        if not (is_air_raid(record) and record.active_at(now)):
            continue
        coverage = record.targets.get(oblast)
        if coverage == "full":
            return "A"
        if coverage == "partial":
            status = "P"
    return status


def level_char(status: Status, version: int) -> str:
    """The v2 IoT form splits an active alert into red ``R`` and yellow ``Y``.

    Every Tocsin threat is red: the nearest thing to yellow would be a threat notice,
    which is not an air-raid alert and never counts here, so ``Y`` is never sent.
    """
    return "R" if version == 2 and status == "A" else status


def by_oblast(records: Sequence[AlertRecord], regions: RegionSet, now: float, version: int) -> str:
    """``iot/active_air_raid_alerts_by_oblast.json``: 27 characters in the client's order."""
    active = [r for r in records if is_air_raid(r) and r.active_at(now)]
    chars = []
    for uid in OBLAST_ORDER_UIDS:
        code = regions.canonical(str(uid))
        chars.append("N" if code is None else level_char(oblast_status(active, code, now), version))
    return "".join(chars)


def by_uid(records: Sequence[AlertRecord], regions: RegionSet, now: float, version: int) -> str:
    """``iot/active_air_raid_alerts.json``: character ``uid`` is that location (space: no uid)."""
    active = [r for r in records if is_air_raid(r) and r.active_at(now)]
    uids = {r.alerts_in_ua_uid: r.code for r in regions if r.alerts_in_ua_uid is not None}
    chars = [" "] * (max(uids, default=-1) + 1)
    for uid, code in uids.items():
        chars[uid] = level_char(oblast_status(active, code, now), version)
    return "".join(chars)

"""Public threats -> org check-ins: a follower of the committed event feed, like the push sender.

An organisation may turn on its rule: when a public **threat** (class from
:func:`tocsin.kinds.kind_class`; notices, denials and all-clears never trigger) that this
hub accepted — verified and logged before it was ever an event — covers one of a person's
places, that person gets the organisation's instruction and a check-in request,
automatically and signed with the organisation's key. When the threat is no longer in force
(an all-clear, a cancel, an update that ends it: :meth:`AlertRecord.active_at`, the one
definition), the check-in is closed and its recipients are told so.

Invariants:

* **Same matching as live delivery.** People are matched with
  :class:`tocsin.delivery.fanout.PlaceIndex` against the event's region codes (a point by
  the hromada holding it — never fewer people than the alert's shapes would reach).
* **No duplicate requests.** A person already holding an open rule check-in of their
  organisation is not asked again while it is open (an update of the same threat, a
  second threat over the same place, a replay after a restart).
* **Resumable.** The position (last event handled) is saved after each event; a restart
  resumes after it (at least once; the rule above keeps it from asking twice).
* **Verified sources only.** Events come from the hub's own store, and alerts of followed
  Tocsin hubs come from the federation follower (:meth:`RuleEngine.relayed`) — which hands
  over only alerts whose verdict is ``verified`` (signed by an issuer of that hub's
  registry, in its log). Relayed plain CAP feeds (unverified, or XML-signature only) never
  reach this module.
* **A relayed threat is closed by its own hub.** A check-in raised by a followed hub's
  threat is closed only by a verified alert of the same followed feed that ends it: a
  ``Cancel``, an all-clear or an ``Update`` that is no threat referencing it (an Update
  replaces what it references), or an all-clear of the same sender over one
  of its regions — and only one that hub logged *after* the threat (a larger index in its
  log), as on that hub: an all-clear a feed withheld and serves late ended nothing of a
  later threat — or when it expires. This hub's own events never end it (its store does not
  hold it).
* **Expired check-ins are closed before anyone is asked.** A person holding an open rule
  check-in is not asked again, so a check-in whose threat ran out is closed first (a
  followed hub may let a threat expire instead of sending an all-clear).
* **Only new relayed threats ask.** A followed hub's threat raises check-ins only if it was
  sent within ``relayed_max_age_secs`` (this hub's ``max_sent_age_secs`` plus the clock
  skew the follower allows) of now. An older one — first seen by a new follower, or
  withheld by the feed and served late — is shown as that hub's, verified, but the follower
  cannot know whether that hub has ended it since, and this hub's own rule acts only on
  new events too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from tocsin.cap import parse_alert
from tocsin.cap.model import Alert, parse_cap_time
from tocsin.delivery.fanout import PlaceIndex
from tocsin.feed import EventFeed
from tocsin.follow.follower import RelayedAlert
from tocsin.kinds import KINDS, KindClass, alert_kinds, kind_class
from tocsin.ledger.effects import is_active
from tocsin.org.model import Org, Person
from tocsin.org.service import CLOSED_TEXT, TEMPLATES, Audience, OrgRefused, OrgService
from tocsin.regions.targeting import target_area
from tocsin.store.base import AlertRecord, StreamEvent

log = logging.getLogger("tocsin.org.rules")

POSITION = "rules"
RULE_ACTOR = "rule"


class RuleEngine:
    """Follows the event feed and runs every organisation's rule (module docstring)."""

    def __init__(self, service: OrgService, *, feed: EventFeed,
                 get_alert: Callable[[str], AlertRecord | None], clock: Callable[[], float],
                 get_relayed: Callable[[str], RelayedAlert | None] = lambda _id: None,
                 relayed_max_age_secs: float = 900.0) -> None:
        self.service = service
        self.feed = feed
        self._get_alert = get_alert
        self._get_relayed = get_relayed  # a followed hub's verified alert (feed, CAP, log index), or None
        self.relayed_max_age_secs = relayed_max_age_secs
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # own events and relayed alerts: one at a time (no double asks)
        self.handled = 0

    async def start(self) -> None:
        position = await asyncio.to_thread(self.service.store.position, POSITION)
        self.handled = self.feed.last_id if position is None else position
        self._task = asyncio.create_task(self._follow(self.handled), name="org-rules")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _follow(self, after: int) -> None:
        async for event in self.feed.follow(after):
            try:
                async with self._lock:
                    await self._handle(event)
            except Exception:  # one bad event must never stop the rules for the next
                log.exception("org rules: event %d could not be handled", event.id)
            self.handled = event.id
            await asyncio.to_thread(self.service.store.save_position, POSITION, event.id)

    async def _handle(self, event: StreamEvent) -> None:
        if event.kind == "denial":
            return
        record = await asyncio.to_thread(self._get_alert, event.alert_id)
        if record is None:
            return
        now = self.clock()
        await self._close_expired(now)  # before asking: an expired check-in holds nobody back
        if kind_class(record.kinds) is KindClass.THREAT and record.msg_type in ("Alert", "Update") \
                and record.active_at(now):
            for org in await asyncio.to_thread(self.service.store.orgs):
                if org.rule_enabled:
                    await self._trigger(org, record.id, record.kinds, event.regions)
        await self._close_ended(now)

    async def relayed(self, feed: str, alert_id: str, alert: Alert, index: int) -> None:
        """A followed Tocsin hub's alert, **verified** by the federation follower (its only
        caller, and only for that verdict), entry ``index`` of that hub's log: the same rule
        as for this hub's own events (module docstring: only new threats ask; only what that
        hub logged later ends one)."""
        try:
            async with self._lock:
                await self._handle_relayed(feed, alert_id, alert, index)
        except Exception:  # the follower must keep following whatever happens here
            log.exception("org rules: relayed alert %s of %s could not be handled", alert_id, feed)

    def _regions_of(self, alert: Alert) -> tuple[str, ...]:
        codes: dict[str, None] = {}
        for info in alert.info:
            for area in info.area:
                codes.update(dict.fromkeys(target_area(area, self.service.regions)))
        return tuple(codes)

    async def _handle_relayed(self, feed: str, alert_id: str, alert: Alert, index: int) -> None:
        kinds = tuple(sorted(alert_kinds(alert)))
        klass = kind_class(kinds)
        regions = await asyncio.to_thread(self._regions_of, alert)
        expiries = [parse_cap_time(i.expires).timestamp() for i in alert.info if i.expires]
        await self._close_expired(self.clock())
        new = parse_cap_time(alert.sent).timestamp() >= self.clock() - self.relayed_max_age_secs
        if not new and klass is KindClass.THREAT:
            log.info("org rules: relayed alert %s of %s was sent %s, too long ago to ask anyone to "
                     "check in", alert_id, feed, alert.sent)
        if new and klass is KindClass.THREAT and alert.msg_type in ("Alert", "Update") and is_active(
                status=alert.status, msg_type=alert.msg_type, kinds=kinds, ended=False,
                expires_ts=max(expiries) if expiries else None, has_targets=bool(regions),
                now=self.clock()):
            for org in await asyncio.to_thread(self.service.store.orgs):
                if org.rule_enabled:
                    await self._trigger(org, alert_id, kinds, regions)
        # An Update replaces what it references: one that is no threat (a notice) ends it.
        if klass is KindClass.ALL_CLEAR or alert.msg_type == "Cancel" \
                or (alert.msg_type == "Update" and klass is not KindClass.THREAT):
            await self._close_relayed(feed, alert, regions, index)

    def _ends(self, feed: str, ender: Alert, ender_regions: tuple[str, ...], ender_index: int,
              alert_id: str) -> bool:
        """Whether ``ender`` (verified, from ``feed``, entry ``ender_index`` of its log) ends the
        relayed alert ``alert_id``: only an alert that hub logged after it can."""
        found = self._get_relayed(alert_id)
        if found is None or found.feed != feed or found.index >= ender_index:
            return False
        alert = parse_alert(found.cap, strict=False).alert
        if any(r.sender == alert.sender and r.identifier == alert.identifier for r in ender.references):
            return True
        if kind_class(alert_kinds(ender)) is not KindClass.ALL_CLEAR or ender.sender != alert.sender:
            return False
        covered = set(ender_regions)
        for code in ender_regions:
            covered.update(r.code for r in self.service.regions.descendants(code))
        return any(code in covered for code in self._regions_of(alert))

    async def _close_relayed(self, feed: str, ender: Alert, regions: tuple[str, ...], index: int) -> None:
        store = self.service.store
        for message in await asyncio.to_thread(store.open_rule_messages):
            assert message.alert_id is not None
            if await asyncio.to_thread(self._ends, feed, ender, regions, index, message.alert_id):
                await self._close(message.org_id, message.id, f"the alert ended ({feed})")

    def _matched(self, org: Org, regions: tuple[str, ...]) -> list[Person]:
        store = self.service.store
        asked = {pid for m in store.open_rule_messages() if m.org_id == org.id
                 for pid in store.recipients(org.id, m.id)}
        index: PlaceIndex[tuple[str, int]] = PlaceIndex(self.service.regions)
        people = {p.id: p for p in store.people(org.id) if p.id not in asked}
        for person in people.values():
            for n, place in enumerate(person.places):
                point = place.point
                index.add((person.id, n), None if point else (place.text,), point)
        hit = {pid for pid, _ in index.match(regions)}
        return [people[pid] for pid in hit]

    async def _trigger(self, org: Org, alert_id: str, kinds: tuple[str, ...],
                       regions: tuple[str, ...]) -> None:
        people = await asyncio.to_thread(self._matched, org, regions)
        if not people:
            return
        kind = next((KINDS[k] for k in kinds if k in KINDS and KINDS[k].klass is KindClass.THREAT),
                    None)
        uk, en = TEMPLATES["shelter"]
        if org.rule_text.strip():
            uk = en = org.rule_text
        texts = {"uk": f"{kind.name_uk}. {uk}" if kind else uk, "en": f"{kind.name_en}. {en}" if kind else en}
        try:
            message = await self.service.send(org, RULE_ACTOR, texts=texts,
                                              audience=Audience(people=tuple(p.id for p in people)),
                                              checkin=True, alert_id=alert_id)
        except OrgRefused as exc:
            log.warning("org %s rule for alert %s: %s", org.id, alert_id, exc.detail)
            return
        log.info("org %s: check-in %s for %d people (alert %s)", org.id, message.id, len(people), alert_id)

    def _expired(self, alert_id: str, now: float) -> bool:
        """Whether the threat of an open rule check-in is past its expiry and not otherwise
        ended (this hub's own alert, or a followed hub's: that one has no record here, and its
        hub may let it run out rather than send an all-clear)."""
        record = self._get_alert(alert_id)
        if record is not None:
            return record.ended_ts is None and not record.active_at(now)
        found = self._get_relayed(alert_id)
        if found is None:
            return False
        alert = parse_alert(found.cap, strict=False).alert
        expiries = [i.expires for i in alert.info]
        return bool(expiries) and all(expiries) and \
            max(parse_cap_time(e).timestamp() for e in expiries if e) <= now

    async def _close_expired(self, now: float) -> None:
        """Close the rule check-ins whose threat expired, *before* anyone is asked again: a
        person holding an open check-in is not asked again, so one left open after its threat
        ran out (a followed hub's is never ended here otherwise) would silently keep them
        from the next threat's check-in."""
        store = self.service.store
        for message in await asyncio.to_thread(store.open_rule_messages):
            assert message.alert_id is not None
            if await asyncio.to_thread(self._expired, message.alert_id, now):
                await self._close(message.org_id, message.id, "the alert expired")

    async def _close_ended(self, now: float) -> None:
        store = self.service.store
        for message in await asyncio.to_thread(store.open_rule_messages):
            assert message.alert_id is not None
            record = await asyncio.to_thread(self._get_alert, message.alert_id)
            if record is not None and record.active_at(now):
                continue
            if record is None and await asyncio.to_thread(self._get_relayed, message.alert_id) is not None:
                continue  # a followed hub's threat: only that hub ends it (_close_relayed)
            ended = record is None or record.ended_ts is not None
            await self._close(message.org_id, message.id,
                              "the alert ended" if ended else "the alert expired")

    async def _close(self, org_id: str, message_id: str, reason: str) -> None:
        """Close a rule check-in and tell its recipients so (nothing if it was closed already)."""
        store = self.service.store
        if await asyncio.to_thread(store.close_message, org_id, message_id, RULE_ACTOR, reason):
            org = await asyncio.to_thread(store.org, org_id)
            recipients = await asyncio.to_thread(store.recipients, org_id, message_id)
            if org is None or not recipients:
                return
            with contextlib.suppress(OrgRefused):  # everyone was deleted meanwhile: nobody to tell
                await self.service.send(org, RULE_ACTOR, texts={"uk": CLOSED_TEXT[0], "en": CLOSED_TEXT[1]},
                                        audience=Audience(people=tuple(recipients)), checkin=False)

    def status(self) -> dict[str, Any]:
        return {"handled": self.handled}

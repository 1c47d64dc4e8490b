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
* **Only this hub's log.** Events come from the hub's own store; alerts from federated
  hubs are not followed yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from tocsin.delivery.fanout import PlaceIndex
from tocsin.feed import EventFeed
from tocsin.kinds import KINDS, KindClass, kind_class
from tocsin.org.model import Org, Person
from tocsin.org.service import CLOSED_TEXT, TEMPLATES, Audience, OrgRefused, OrgService
from tocsin.store.base import AlertRecord, StreamEvent

log = logging.getLogger("tocsin.org.rules")

POSITION = "rules"
RULE_ACTOR = "rule"


class RuleEngine:
    """Follows the event feed and runs every organisation's rule (module docstring)."""

    def __init__(self, service: OrgService, *, feed: EventFeed,
                 get_alert: Callable[[str], AlertRecord | None], clock: Callable[[], float]) -> None:
        self.service = service
        self.feed = feed
        self._get_alert = get_alert
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
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
        if kind_class(record.kinds) is KindClass.THREAT and record.msg_type in ("Alert", "Update") \
                and record.active_at(now):
            for org in await asyncio.to_thread(self.service.store.orgs):
                if org.rule_enabled:
                    await self._trigger(org, record, event)
        await self._close_ended(now)

    def _matched(self, org: Org, event: StreamEvent) -> list[Person]:
        store = self.service.store
        asked = {pid for m in store.open_rule_messages() if m.org_id == org.id
                 for pid in store.recipients(org.id, m.id)}
        index: PlaceIndex[tuple[str, int]] = PlaceIndex(self.service.regions)
        people = {p.id: p for p in store.people(org.id) if p.id not in asked}
        for person in people.values():
            for n, place in enumerate(person.places):
                point = place.point
                index.add((person.id, n), None if point else (place.text,), point)
        hit = {pid for pid, _ in index.match(event.regions)}
        return [people[pid] for pid in hit]

    async def _trigger(self, org: Org, record: AlertRecord, event: StreamEvent) -> None:
        people = await asyncio.to_thread(self._matched, org, event)
        if not people:
            return
        kind = next((KINDS[k] for k in record.kinds if k in KINDS and KINDS[k].klass is KindClass.THREAT),
                    None)
        uk, en = TEMPLATES["shelter"]
        if org.rule_text.strip():
            uk = en = org.rule_text
        texts = {"uk": f"{kind.name_uk}. {uk}" if kind else uk, "en": f"{kind.name_en}. {en}" if kind else en}
        try:
            message = await self.service.send(org, RULE_ACTOR, texts=texts,
                                              audience=Audience(people=tuple(p.id for p in people)),
                                              checkin=True, alert_id=record.id)
        except OrgRefused as exc:
            log.warning("org %s rule for alert %s: %s", org.id, record.id, exc.detail)
            return
        log.info("org %s: check-in %s for %d people (alert %s)", org.id, message.id, len(people), record.id)

    async def _close_ended(self, now: float) -> None:
        store = self.service.store
        for message in await asyncio.to_thread(store.open_rule_messages):
            assert message.alert_id is not None
            record = await asyncio.to_thread(self._get_alert, message.alert_id)
            if record is not None and record.active_at(now):
                continue
            ended = record is None or record.ended_ts is not None
            reason = "the alert ended" if ended else "the alert expired"
            if not await asyncio.to_thread(store.close_message, message.org_id, message.id, RULE_ACTOR,
                                           reason):
                continue
            org = await asyncio.to_thread(store.org, message.org_id)
            recipients = await asyncio.to_thread(store.recipients, message.org_id, message.id)
            if org is None or not recipients:
                continue
            with contextlib.suppress(OrgRefused):  # everyone was deleted meanwhile: nobody to tell
                await self.service.send(org, RULE_ACTOR, texts={"uk": CLOSED_TEXT[0], "en": CLOSED_TEXT[1]},
                                        audience=Audience(people=tuple(recipients)), checkin=False)

    def status(self) -> dict[str, Any]:
        return {"handled": self.handled}

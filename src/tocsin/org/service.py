"""The organisations' use cases: send a signed message, collect check-ins, show who is safe.

:class:`OrgService` holds the org store, the channels and three background parts:

* the **answer writer** — check-in answers are queued and committed in batches (one
  transaction, one fsync per batch: group commit), each answer acknowledged only after its
  batch committed; the first answer of a person to a request is kept, a later one refused;
* the **dispatcher** — every (person, channel) delivery is queued and sent by a bounded
  set of workers; each result is stored (sent / delivered / failed) and shown on the
  dashboard; a channel that is not configured marks its deliveries failed, saying so;
* the **retention loop** — hourly, answers, deliveries and check-in tokens older than an
  organisation's retention setting are deleted.

Dashboards listen with :meth:`OrgService.listen`: a listener is woken (at most every
:data:`LIVE_EVERY_SECS`) with the ids of the people whose answer or delivery changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tocsin.org.channels import Channel, Outgoing
from tocsin.org.model import Answer, DeliveryStatus, Message, Org, Person
from tocsin.org.signing import MessageTextError, clean_text, sign_message
from tocsin.org.store import CheckinTarget, OrgStore
from tocsin.org.tokens import new_id, new_token, token_hash
from tocsin.regions import RegionSet

log = logging.getLogger("tocsin.org")
security = logging.getLogger("tocsin.org.security")

LIVE_EVERY_SECS = 0.25
ANSWER_BATCH = 1000
WORKERS = 32
RETENTION_EVERY_SECS = 3600.0
FOLLOW_UP_EVERY_SECS = 30.0
FOLLOW_UP_WINDOW_SECS = 24 * 3600.0  # check-ins older than a day get no more reminders
REMINDER = ("Нагадування", "Reminder")
ESCALATION = ("{name} не відповідає на запит «{org}» про безпеку. Будь ласка, зв'яжіться з ними.",
              "{name} has not answered {org}'s safety check. Please check on them.")
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
MAX_NOTE_CHARS = 500

#: Message templates: (Ukrainian, English). The admin picks one or writes free text.
TEMPLATES: dict[str, tuple[str, str]] = {
    "shelter": ("Залишайтеся в укритті. Повідомте, чи ви в безпеці.",
                "Shelter in place. Tell us whether you are safe."),
    "closed": ("Посольство зачинене, залишайтеся в укритті.", "The embassy is closed, shelter in place."),
    "all-clear": ("Відбій. Загрозу минуло.", "All clear. The threat is over."),
}
CLOSED_TEXT = ("Запит закрито: оголошено відбій.", "Check-in closed: the all-clear was given.")


class OrgRefused(Exception):
    """A request the organisation's rules refuse; ``code`` is an API error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a message goes to: everyone, or anyone in the groups or in/under the regions."""

    everyone: bool = False
    groups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    people: tuple[str, ...] = ()  # person ids (the rule engine names them)

    def json(self) -> str:
        return json.dumps({"everyone": self.everyone, "groups": list(self.groups),
                           "regions": list(self.regions), "people": len(self.people)},
                          ensure_ascii=False)


@dataclass
class _Listener:
    org_id: str
    message_id: str
    changed: set[str] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


def texts_of(message: Message) -> dict[str, str]:
    texts: dict[str, str] = json.loads(message.text)
    return texts


class OrgService:
    """Organisations' messages, check-ins and deliveries (module docstring)."""

    def __init__(self, store: OrgStore, regions: RegionSet, *, base_url: str,
                 channels: Iterable[Channel] = (), clock: Callable[[], float] = time.time,
                 workers: int = WORKERS) -> None:
        self.store = store
        self.regions = regions
        self.base_url = base_url.rstrip("/")
        self.channels: dict[str, Channel] = {c.name: c for c in channels}
        self.clock = clock
        self.workers = workers
        self._answers: asyncio.Queue[tuple[CheckinTarget, Answer, str, asyncio.Future[bool]]] | None = None
        self._outbox: asyncio.Queue[Outgoing] | None = None
        self._results: list[tuple[str, str, str, str, DeliveryStatus, str]] = []
        self._listeners: list[_Listener] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self.extra_tasks: list[Callable[[], Any]] = []  # the rule engine adds its follower

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        self._answers = asyncio.Queue()
        self._outbox = asyncio.Queue()
        self._tasks.append(asyncio.create_task(self._write_answers(), name="org-answers"))
        self._tasks.extend(asyncio.create_task(self._deliver(), name=f"org-deliver-{n}")
                           for n in range(self.workers))
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="org-deliveries"))
        self._tasks.append(asyncio.create_task(self._retention_loop(), name="org-retention"))
        self._tasks.append(asyncio.create_task(self._follow_up_loop(), name="org-follow-up"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self._flush()
        for channel in self.channels.values():
            await channel.close()
        self.store.close()

    # -- audiences -----------------------------------------------------------

    def place_codes(self, person: Person) -> set[str]:
        """Every region code a person's places lie in (their own and every ancestor)."""
        codes: set[str] = set()
        for place in person.places:
            point = place.point
            found = [r.code for r in self.regions.locate(*point)] if point else [place.text]
            for code in found:
                codes.add(code)
                codes.update(r.code for r in self.regions.ancestors(code))
        return codes

    def audience(self, org_id: str, audience: Audience) -> list[Person]:
        people = self.store.people(org_id)
        if audience.everyone:
            return people
        wanted_groups = set(audience.groups)
        wanted_regions = set(audience.regions)
        wanted_people = set(audience.people)
        return [p for p in people
                if p.id in wanted_people or wanted_groups.intersection(p.groups)
                or (wanted_regions and wanted_regions & self.place_codes(p))]

    # -- sending -------------------------------------------------------------

    def link(self, message_id: str, token: str) -> str:
        return f"{self.base_url}/org/c/{message_id}/{token}"

    async def send(self, org: Org, actor: str, *, texts: dict[str, str], audience: Audience,
                   checkin: bool, alert_id: str | None = None) -> Message:
        """Sign the message, give each recipient a personal token, store, queue deliveries."""
        try:
            texts = {lang: clean_text(text) for lang, text in texts.items() if text.strip()}
        except MessageTextError as exc:
            raise OrgRefused("bad_org_message", str(exc)) from None
        if not texts:
            raise OrgRefused("bad_org_message", "the message is empty")
        people = await asyncio.to_thread(self.audience, org.id, audience)
        if not people:
            raise OrgRefused("empty_audience", "nobody in the organisation matches this audience")
        message_id = new_id()
        now = self.clock()
        sent = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        body = "\n".join(f"[{lang}] {text}" for lang, text in texts.items())
        signer = await asyncio.to_thread(self.store.signer, org.id)
        note = sign_message(signer, org_id=org.id, org_name=org.name, message_id=message_id,
                            sent=sent, text=body)
        tokens = {p.id: new_token() for p in people}
        message = Message(id=message_id, org_id=org.id, created=now, author=actor,
                          text=json.dumps(texts, ensure_ascii=False), audience=audience.json(),
                          note=note, checkin=checkin, alert_id=alert_id, recipients=len(people))
        await asyncio.to_thread(self.store.add_message, message,
                                [(pid, token_hash(t)) for pid, t in tokens.items()], actor)
        self.queue_deliveries(org, message, people, tokens, texts)
        return message

    def queue_deliveries(self, org: Org, message: Message, people: Sequence[Person],
                         tokens: dict[str, str], texts: dict[str, str]) -> int:
        assert self._outbox is not None, "start() the service first"
        queued: list[tuple[str, str, str, str, DeliveryStatus, str]] = []
        n = 0
        for person in people:
            text = texts.get(person.language) or next(iter(texts.values()))
            for channel, address in person.channels.items():
                if channel not in self.channels:
                    queued.append((org.id, message.id, person.id, channel, DeliveryStatus.FAILED,
                                   f"the {channel} channel is not configured on this hub"))
                    continue
                self._outbox.put_nowait(Outgoing(
                    org_id=org.id, org_name=org.name, message_id=message.id, person_id=person.id,
                    channel=channel, address=address, language=person.language, text=text,
                    link=self.link(message.id, tokens[person.id]), note=message.note))
                queued.append((org.id, message.id, person.id, channel, DeliveryStatus.QUEUED, ""))
                n += 1
        self._results.extend(queued)
        return n

    async def _deliver(self) -> None:
        assert self._outbox is not None
        while True:
            out = await self._outbox.get()
            try:
                status, detail = await self.channels[out.channel].send(out)
            except Exception as exc:  # a channel bug must not stop the others
                log.exception("org channel %s failed", out.channel)
                status, detail = DeliveryStatus.FAILED, f"internal error ({type(exc).__name__})"
            self._results.append((out.org_id, out.message_id, out.person_id, out.record_as or out.channel,
                                  status, detail))

    @property
    def outbox_size(self) -> int:
        return 0 if self._outbox is None else self._outbox.qsize()

    async def _flush(self) -> None:
        results, self._results = self._results, []
        if not results:
            return
        await asyncio.to_thread(self.store.set_deliveries, results)
        for org_id, message_id, person_id, *_ in results:
            self._changed(org_id, message_id, person_id)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(LIVE_EVERY_SECS)  # a periodic save, not a wait for a result
            try:
                await self._flush()
            except Exception:
                log.exception("org: saving delivery results failed")

    # -- check-ins -----------------------------------------------------------

    def target(self, message_id: str, token: str) -> CheckinTarget:
        """The person and request a check-in link names; refused and logged if it names none."""
        target = self.store.checkin_target(token) if 20 <= len(token) <= 100 else None
        if target is None:
            security.warning("check-in refused: unknown token for message %s", message_id[:40])
            raise OrgRefused("checkin_token_invalid", "this check-in link is not valid")
        if target.message_id != message_id:
            security.warning("check-in refused: a token of message %s used for %s", target.message_id,
                             message_id[:40])
            self.store.refuse(target.org_id, "anonymous",
                              f"check-in token of message {target.message_id} used for {message_id[:40]}")
            raise OrgRefused("checkin_token_invalid", "this check-in link is not valid for this request")
        return target

    async def answer(self, message_id: str, token: str, answer: str, note: str) -> CheckinTarget:
        """Record a person's answer once; refused: unknown token, another request, closed, given."""
        try:
            value = Answer(answer)
        except ValueError:
            raise OrgRefused("bad_checkin_answer", "answer must be safe, need_help or away") from None
        note = " ".join(note.split())
        if len(note) > MAX_NOTE_CHARS:
            raise OrgRefused("bad_checkin_answer", f"the note is longer than {MAX_NOTE_CHARS} characters")
        target = await asyncio.to_thread(self.target, message_id, token)
        message = await asyncio.to_thread(self.store.message, target.org_id, message_id)
        if message is None or not message.checkin:
            raise OrgRefused("checkin_token_invalid", "this message asks for no answer")
        if message.closed is not None:
            raise OrgRefused("checkin_closed", "this check-in is closed")
        assert self._answers is not None, "start() the service first"
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._answers.put_nowait((target, value, note, done))
        if not await done:
            security.info("check-in refused: already answered (message %s)", message_id)
            raise OrgRefused("checkin_answered", "this check-in was already answered")
        return target

    async def _write_answers(self) -> None:
        assert self._answers is not None
        while True:
            batch = [await self._answers.get()]
            while len(batch) < ANSWER_BATCH and not self._answers.empty():
                batch.append(self._answers.get_nowait())
            now = self.clock()
            try:
                results = await asyncio.to_thread(self.store.record_answers,
                                                  [(t, a, n, now) for t, a, n, _ in batch])
            except Exception as exc:
                log.exception("org: recording %d answers failed", len(batch))
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (target, _, _, done), ok in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(ok)
                if ok:
                    self._changed(target.org_id, target.message_id, target.person_id)

    # -- dashboards ----------------------------------------------------------

    def listen(self, org_id: str, message_id: str) -> _Listener:
        listener = _Listener(org_id, message_id)
        self._listeners.append(listener)
        return listener

    def unlisten(self, listener: _Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _changed(self, org_id: str, message_id: str, person_id: str) -> None:
        for listener in self._listeners:
            if listener.org_id == org_id and listener.message_id == message_id:
                listener.changed.add(person_id)
                listener.wake.set()

    def dashboard(self, org_id: str, message_id: str, only: set[str] | None = None) -> dict[str, Any]:
        """Counts and each recipient's answer, delivery and places; need help first."""
        message = self.store.message(org_id, message_id)
        if message is None:
            raise OrgRefused("org_message_not_found", f"no message {message_id[:40]!r}")
        answers = self.store.answers(org_id, message_id)
        deliveries = self.store.deliveries(org_id, message_id)
        recipients = self.store.recipients(org_id, message_id)
        people = {p.id: p for p in (self.store.people(org_id) if only is None
                                    else self.store.people_by_ids(org_id, only))}
        counts = {"safe": 0, "need_help": 0, "away": 0, "not_answered": 0}
        rows: list[dict[str, Any]] = []
        order = {"need_help": 0, "not_answered": 1, "away": 2, "safe": 3}
        reminded = self.store.followed_up(org_id, message_id, "reminder")
        escalated = self.store.followed_up(org_id, message_id, "escalation")
        for pid in recipients:
            got = answers.get(pid)
            state = got[0].value if got else "not_answered"
            counts[state] += 1
            person = people.get(pid)
            if only is not None and pid not in only:
                continue
            rows.append({"id": pid, "name": person.name if person else "(deleted)",
                         "answer": state, "note": got[1] if got else "", "at": got[2] if got else None,
                         "places": [{"label": pl.label, "place": pl.text,
                                     "name": self._place_name(pl.text)} for pl in person.places]
                         if person else [],
                         "delivery": deliveries.get(pid, {}),
                         "reminded": pid in reminded, "escalated": pid in escalated})
        rows.sort(key=lambda r: (order[r["answer"]], r["name"]))
        return {"message": {"id": message.id, "created": message.created, "texts": texts_of(message),
                            "checkin": message.checkin, "closed": message.closed,
                            "alert": message.alert_id, "recipients": message.recipients},
                "counts": counts, "people": rows}

    def _place_name(self, text: str) -> str:
        region = self.regions.get(text)
        if region is not None:
            return region.name_uk_full
        lat, _, lon = text.partition(",")
        with contextlib.suppress(ValueError):
            found = self.regions.locate(float(lat), float(lon))
            if found:
                return f"{found[0].name_uk_full} ({text})"
        return text

    # -- reminders and escalation ---------------------------------------------

    async def follow_up(self) -> dict[str, int]:
        """Remind, once, each person who has not answered an open check-in after the
        organisation's ``reminder_minutes`` (a fresh link to the same request, on their
        channels); after ``escalate_minutes`` tell their second contact (an SMS number) and
        flag them on the dashboard. Both are audited."""
        now = self.clock()
        done = {"reminders": 0, "escalations": 0}
        for org in await asyncio.to_thread(self.store.orgs):
            if org.reminder_minutes is None and org.escalate_minutes is None:
                continue
            messages = await asyncio.to_thread(self.store.open_checkins, org.id, now - FOLLOW_UP_WINDOW_SECS)
            for message in messages:
                age = now - message.created
                if org.reminder_minutes is not None and age >= org.reminder_minutes * 60:
                    done["reminders"] += await self._follow(org, message, "reminder")
                if org.escalate_minutes is not None and age >= org.escalate_minutes * 60:
                    done["escalations"] += await self._follow(org, message, "escalation")
        return done

    async def _follow(self, org: Org, message: Message, kind: str) -> int:
        def waiting() -> list[Person]:
            answered = set(self.store.answers(org.id, message.id))
            done = self.store.followed_up(org.id, message.id, kind)
            ids = [p for p in self.store.recipients(org.id, message.id)
                   if p not in answered and p not in done]
            return self.store.people_by_ids(org.id, ids)

        people = await asyncio.to_thread(waiting)
        if not people:
            return 0
        texts = texts_of(message)
        if kind == "reminder":
            tokens = {p.id: new_token() for p in people}
            hashes = [(pid, token_hash(t)) for pid, t in tokens.items()]
            await asyncio.to_thread(self.store.record_followups, org.id, message.id, kind,
                                    [p.id for p in people], hashes, "follow-up")
            marked = {lang: f"{REMINDER[0 if lang == 'uk' else 1]}: {text}" for lang, text in texts.items()}
            self.queue_deliveries(org, message, people, tokens, marked)
            return len(people)
        await asyncio.to_thread(self.store.record_followups, org.id, message.id, kind, [p.id for p in people],
                                [], "follow-up")
        assert self._outbox is not None
        for person in people:
            contact = person.contact.replace(" ", "").replace("-", "")
            if not _PHONE.fullmatch(contact):
                continue  # no number to call: the dashboard flags them for the admins
            text = ESCALATION[0 if person.language == "uk" else 1].format(name=person.name, org=org.name)
            if "sms" not in self.channels:
                self._results.append((org.id, message.id, person.id, "contact-sms", DeliveryStatus.FAILED,
                                      "the sms channel is not configured on this hub"))
                continue
            self._outbox.put_nowait(Outgoing(
                org_id=org.id, org_name=org.name, message_id=message.id, person_id=person.id,
                channel="sms", address=contact, language=person.language, text=text, link="",
                note=message.note, record_as="contact-sms"))
            self._results.append((org.id, message.id, person.id, "contact-sms", DeliveryStatus.QUEUED, ""))
        return len(people)

    async def _follow_up_loop(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_UP_EVERY_SECS)  # a periodic task, not a wait for a result
            try:
                await self.follow_up()
            except Exception:
                log.exception("org follow-up failed")

    # -- retention -----------------------------------------------------------

    async def _retention_loop(self) -> None:
        while True:
            try:
                purged = await asyncio.to_thread(self.store.purge, self.clock())
                if purged:
                    log.info("org retention: purged %s", purged)
            except Exception:
                log.exception("org retention failed")
            await asyncio.sleep(RETENTION_EVERY_SECS)  # a periodic task, not a wait for a result

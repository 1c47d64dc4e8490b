"""An in-memory index of the hub's logged alerts, for finding the one a message quotes.

The checker must answer in well under 100 ms with 100,000 alerts logged, so
it never scans the store. It keeps, per alert, only what matching needs: the
token ids of each ``info`` (event, headline, description, instruction), and
posting lists by token, region, issuer and the SHA-256 a denial names.

The index follows the store by polling :meth:`Store.events_after` from the
last event it saw (one indexed SQL query per check); every accepted alert has
exactly one stream event, so nothing is missed and nothing is read twice.
Alerts are append-only in the log, so the index only ever grows; whether an
alert is still active is asked of the store when a verdict needs it.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tocsin.cap import CapError, parse_alert
from tocsin.cap.model import Alert
from tocsin.check.normalise import tokens
from tocsin.kinds import alert_kinds
from tocsin.store.base import AlertRecord, StreamEvent

DENIES_VALUE_NAME = "TOCSIN-DENIES-SHA256"
EVENT_BATCH = 1000


class AlertSource(Protocol):
    """The read-only part of a store the index needs."""

    def get(self, alert_id: str) -> AlertRecord | None: ...

    def events_after(self, event_id: int, limit: int = 1000) -> list[StreamEvent]: ...


@dataclass(frozen=True, slots=True)
class InfoText:
    language: str
    tokens: array[int]  # token ids of headline (or event), description, instruction


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index keeps about one logged alert."""

    id: str
    issuer_id: str
    sent_ts: float
    kinds: tuple[str, ...]
    regions: tuple[str, ...]
    msg_type: str
    status: str
    infos: tuple[InfoText, ...]
    denies: tuple[str, ...] = ()  # normal-form SHA-256 values a denial names
    denied_text: array[int] | None = None  # a denial's description: the message it denies

    @property
    def is_denial(self) -> bool:
        return "denial" in self.kinds


def info_text_fields(alert: Alert) -> list[tuple[str, str]]:
    """(language, text) per info: the words a repost of it would carry."""
    out = []
    for info in alert.info:
        # The event ("Ракетна загроза") is a label reposts rarely carry; it stands in
        # only when there is no headline.
        parts = [info.headline or info.event, info.description or "", info.instruction or ""]
        out.append((info.language, "\n".join(p for p in parts if p)))
    return out


def denied_hashes(alert: Alert) -> tuple[str, ...]:
    found = []
    for info in alert.info:
        for pair in info.parameter:
            if pair.value_name == DENIES_VALUE_NAME:
                value = pair.value.strip().lower()
                if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
                    found.append(value)
    return tuple(dict.fromkeys(found))


class AlertIndex:
    """Token, region, issuer and denial postings over every logged alert."""

    def __init__(self, source: AlertSource) -> None:
        self.source = source
        self.lock = threading.RLock()
        self.vocab: dict[str, int] = {}
        self.words: list[str] = []
        self.entries: list[Entry] = []
        self.by_id: dict[str, int] = {}
        self.postings: dict[int, list[int]] = {}
        self.denial_postings: dict[int, list[int]] = {}
        self.by_region: dict[str, list[int]] = {}
        self.by_issuer: dict[str, list[int]] = {}
        self.by_denied_hash: dict[str, list[int]] = {}
        self.last_event_id = 0
        self.skipped = 0  # stored alerts whose CAP could not be read back (never expected)

    def __len__(self) -> int:
        return len(self.entries)

    def token_ids(self, words: Iterable[str], *, add: bool = False) -> list[int]:
        """Ids of ``words``; unknown words get -1 unless ``add``."""
        out = []
        for word in words:
            tid = self.vocab.get(word)
            if tid is None:
                if not add:
                    out.append(-1)
                    continue
                tid = len(self.words)
                self.vocab[word] = tid
                self.words.append(word)
            out.append(tid)
        return out

    def refresh(self) -> int:
        """Index every alert the store accepted since the last call; return how many."""
        added = 0
        with self.lock:
            while True:
                events = self.source.events_after(self.last_event_id, EVENT_BATCH)
                for event in events:
                    self.last_event_id = event.id
                    if event.alert_id and event.alert_id not in self.by_id:
                        record = self.source.get(event.alert_id)
                        if record is not None:
                            added += self.add(record)
                if len(events) < EVENT_BATCH:
                    return added

    def add(self, record: AlertRecord) -> int:
        """Index one stored alert (idempotent by id); 1 if it was new."""
        if record.id in self.by_id:
            return 0
        try:
            alert = parse_alert(record.cap, strict=False).alert
        except CapError:
            self.skipped += 1
            return 0
        kinds = tuple(sorted(alert_kinds(alert))) or record.kinds
        infos = tuple(
            InfoText(language, array("i", self.token_ids(tokens(text), add=True)))
            for language, text in info_text_fields(alert)
        )
        entry = Entry(
            id=record.id, issuer_id=record.issuer_id, sent_ts=record.sent_ts, kinds=kinds,
            regions=tuple(record.targets), msg_type=record.msg_type, status=record.status,
            infos=infos, denies=denied_hashes(alert) if "denial" in kinds else (),
            denied_text=self._denied_text(alert) if "denial" in kinds else None,
        )
        pos = len(self.entries)
        self.entries.append(entry)
        self.by_id[entry.id] = pos
        postings = self.denial_postings if entry.is_denial else self.postings
        for tid in {t for info in infos for t in info.tokens}:
            postings.setdefault(tid, []).append(pos)
        for digest in entry.denies:
            self.by_denied_hash.setdefault(digest, []).append(pos)
        if not entry.is_denial:
            for code in entry.regions:
                self.by_region.setdefault(code, []).append(pos)
            self.by_issuer.setdefault(entry.issuer_id, []).append(pos)
        return 1

    def _denied_text(self, alert: Alert) -> array[int]:
        text = next((i.description for i in alert.info if i.description), "") or ""
        return array("i", self.token_ids(tokens(text), add=True))

    def recent(self, positions: Sequence[int], n: int) -> list[int]:
        """The last ``n`` positions of a posting list (postings are in log order)."""
        return list(positions[-n:])

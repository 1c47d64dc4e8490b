"""An in-memory :class:`~tocsin.store.base.Store`: the contract without a disk.

It keeps every promise of the contract except durability (nothing survives the process),
which makes it the reference the contract tests hold the SQLite store (and later PostgreSQL)
against, and a store for replaying a log (a monitor re-running the rulebook). Each alert of
a batch is atomic through an undo list; a failed batch leaves the store as it was.

:meth:`MemoryStore.inject_fault` is the test seam the contract suite uses on every backend:
the next batch fails at a chosen step, as a crash or a failed commit would.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tocsin.ledger.effects import Ending, LedgerView, Prior, StateRefusal, StateRules
from tocsin.store.base import (
    AlertRecord,
    AppendResult,
    Conflict,
    Coverage,
    NewAlert,
    Refused,
    SearchText,
    StoreError,
    StreamEvent,
    TextEntry,
    incoming,
)
from tocsin.tlog.entry import alert_entry, decode_entry, registry_entry
from tocsin.tlog.tree import MemoryHashStore

FaultStep = Literal["leaf", "commit"]
"""Where an injected fault strikes: while writing the log leaf, or at commit."""


class InjectedFault(Exception):
    """The failure :meth:`MemoryStore.inject_fault` asked for (a storage failure)."""


@dataclass(slots=True)
class _Target:
    coverage: Coverage
    ended_ts: float | None = None
    ended_by: str | None = None


@dataclass(slots=True)
class _Row:
    alert: NewAlert
    seq: int
    event_id: int
    log_index: int
    ended_ts: float | None = None
    ended_by: str | None = None
    targets: dict[str, _Target] = field(default_factory=dict)


@dataclass(slots=True)
class _State:
    rows: dict[str, _Row] = field(default_factory=dict)
    by_ref: dict[tuple[str, str], str] = field(default_factory=dict)
    events: list[StreamEvent] = field(default_factory=list)
    entries: list[bytes] = field(default_factory=list)  # committed and pending leaves
    registry_indexes: list[int] = field(default_factory=list)
    seq: int = 0
    # The check's search history: position (the row's seq) -> alert id, and postings.
    searchable: dict[int, str] = field(default_factory=dict)
    postings: dict[str, list[int]] = field(default_factory=dict)
    denial_postings: dict[str, list[int]] = field(default_factory=dict)
    keyed: dict[str, list[int]] = field(default_factory=dict)


class MemoryStore:
    """In-memory store; ``rules`` as for :class:`tocsin.store.sqlite.SqliteStore`."""

    def __init__(self, *, rules: StateRules) -> None:
        self._rules = rules
        self._state = _State()
        self._hashes = MemoryHashStore()
        self._checkpoints: dict[int, bytes] = {}
        self._lock = threading.RLock()
        self._fault: FaultStep | None = None

    def inject_fault(self, step: FaultStep) -> None:
        """Make the next batch fail at ``step`` ("leaf": mid-transaction; "commit": at commit)."""
        self._fault = step

    # -- writes ---------------------------------------------------------------

    def append(self, alert: NewAlert) -> AppendResult:
        result = self.append_batch([alert])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def append_batch(self, alerts: Sequence[NewAlert]) -> list[AppendResult | StoreError]:
        with self._lock:
            before = copy.deepcopy(self._state)
            try:
                results: list[AppendResult | StoreError] = []
                for alert in alerts:
                    undo: list[Callable[[], None]] = []
                    try:
                        results.append(self._append_one(alert, undo))
                    except InjectedFault:
                        raise
                    except Exception as exc:  # this alert's own failure: never its neighbours'
                        for step in reversed(undo):
                            step()
                        results.append(exc if isinstance(exc, StoreError)
                                       else StoreError(f"alert {alert.id} could not be stored: {exc}"))
                if self._take_fault("commit"):
                    raise InjectedFault("commit failed")
            except BaseException:
                self._state = before
                raise
            self._commit_leaves()
            return results

    def _take_fault(self, step: FaultStep) -> bool:
        if self._fault == step:
            self._fault = None
            return True
        return False

    def _commit_leaves(self) -> None:
        pending = self._state.entries[self._hashes.size:]
        if pending:
            self._hashes.append_entries(pending)

    def _append_one(self, alert: NewAlert, undo: list[Callable[[], None]]) -> AppendResult:
        state = self._state
        existing_id = state.by_ref.get((alert.sender, alert.identifier))
        if existing_id is not None:
            existing = state.rows[existing_id]
            if existing.alert.id == alert.id and existing.alert.cap == alert.cap:
                return AppendResult(record=self._record(existing), created=False)
            raise Conflict(existing_id)
        decision = self._rules(incoming(alert), _MemoryView(state))
        if isinstance(decision, StateRefusal):
            raise Refused(decision.code, decision.reason)
        for ending in decision.endings:
            self._persist_ending(state.rows[ending.alert_id], ending, alert, undo)
        regions = tuple(sorted(set(alert.targets) | decision.touched))
        event_id = (state.events[-1].id if state.events else 0) + 1
        state.events.append(StreamEvent(event_id, alert.stream_kind, alert.id, regions, alert.summary))
        undo.append(lambda: state.events.__delitem__(-1))
        done = not decision.holds_targets
        state.seq += 1
        row = _Row(alert, state.seq, event_id, len(state.entries), targets={
            code: _Target(cov, alert.received_ts if done else None, alert.id if done else None)
            for code, cov in alert.targets.items()})
        state.rows[alert.id] = row
        state.by_ref[(alert.sender, alert.identifier)] = alert.id

        def forget() -> None:
            del state.rows[alert.id]
            del state.by_ref[(alert.sender, alert.identifier)]
            state.seq -= 1

        undo.append(forget)
        if self._take_fault("leaf"):
            raise InjectedFault("the log leaf could not be written")
        state.entries.append(alert_entry(alert.statement, alert.cap))
        undo.append(lambda: state.entries.__delitem__(-1))
        if alert.text is not None:  # last: nothing after it can fail
            self._file_text(row.seq, alert.id, alert.text)
        return AppendResult(record=self._record(row), created=True,
                            ended=decision.ended_entirely, regions=regions)

    def _file_text(self, pos: int, alert_id: str, text: SearchText) -> None:
        state = self._state
        state.searchable[pos] = alert_id
        postings = state.denial_postings if text.denial else state.postings
        for word in text.words():
            postings.setdefault(word, []).append(pos)
        for key in dict.fromkeys(text.keys):
            state.keyed.setdefault(key, []).append(pos)

    @staticmethod
    def _persist_ending(row: _Row, ending: Ending, by: NewAlert,
                        undo: list[Callable[[], None]]) -> None:
        saved = (row.ended_ts, row.ended_by, copy.deepcopy(row.targets))

        def restore() -> None:
            row.ended_ts, row.ended_by, row.targets = saved[0], saved[1], saved[2]

        undo.append(restore)
        ended = set(row.targets) if ending.entirely else ending.ended
        for code in ended:
            target = row.targets.get(code)
            if target is not None and target.ended_ts is None:
                target.ended_ts, target.ended_by = by.received_ts, by.id
        for code in ending.downgraded:
            if code in row.targets:
                row.targets[code].coverage = "partial"
        if ending.entirely and row.ended_ts is None:
            row.ended_ts, row.ended_by = by.received_ts, by.id

    def append_registry(self, registry: bytes) -> int | None:
        with self._lock:
            entry = registry_entry(registry)
            state = self._state
            if state.registry_indexes and state.entries[state.registry_indexes[-1]] == entry:
                return None
            state.registry_indexes.append(len(state.entries))
            state.entries.append(entry)
            self._commit_leaves()
            return len(state.entries) - 1

    def save_checkpoint(self, size: int, note: bytes, created_ts: float) -> None:
        with self._lock:
            self._checkpoints.setdefault(size, note)

    # -- reads ----------------------------------------------------------------

    def _record(self, row: _Row) -> AlertRecord:
        a = row.alert
        return AlertRecord(
            id=a.id, cap=a.cap, statement=a.statement, issuer_id=a.issuer_id, key_id=a.key_id,
            sender=a.sender, identifier=a.identifier, sent=a.sent, sent_ts=a.sent_ts,
            received_ts=a.received_ts, expires_ts=a.expires_ts, msg_type=a.msg_type,
            status=a.status, kinds=a.kinds, event=a.event, event_id=row.event_id,
            ended_ts=row.ended_ts, ended_by=row.ended_by,
            targets={c: t.coverage for c, t in row.targets.items() if t.ended_ts is None},
            log_index=row.log_index,
        )

    def get(self, alert_id: str) -> AlertRecord | None:
        with self._lock:
            row = self._state.rows.get(alert_id)
            return None if row is None else self._record(row)

    def find(self, sender: str, identifier: str) -> AlertRecord | None:
        with self._lock:
            alert_id = self._state.by_ref.get((sender, identifier))
            return None if alert_id is None else self._record(self._state.rows[alert_id])

    def list_alerts(
        self,
        *,
        regions: Sequence[str] | None = None,
        active_at: float | None = None,
        since_ts: float | None = None,
        limit: int = 100,
        kinds_any: Sequence[str] | None = None,
        kinds_none: Sequence[str] | None = None,
    ) -> list[AlertRecord]:
        with self._lock:
            rows = sorted(self._state.rows.values(), key=lambda r: r.seq, reverse=True)
            out: list[AlertRecord] = []
            for row in rows:
                a = row.alert
                if kinds_any is not None and not set(a.kinds) & set(kinds_any):
                    continue
                if kinds_none and set(a.kinds) & set(kinds_none):
                    continue
                if since_ts is not None and a.sent_ts < since_ts:
                    continue
                if regions is not None:
                    codes = {c for c, t in row.targets.items()
                             if active_at is None or t.ended_ts is None}
                    if not codes & set(regions):
                        continue
                record = self._record(row)
                if active_at is not None and not record.active_at(active_at):
                    continue
                out.append(record)
                if len(out) >= limit:
                    break
            return out

    def events_after(self, event_id: int, limit: int = 1000) -> list[StreamEvent]:
        with self._lock:
            return [e for e in self._state.events if e.id > event_id][:limit]

    def last_event_id(self) -> int:
        with self._lock:
            return self._state.events[-1].id if self._state.events else 0

    def log_size(self) -> int:
        with self._lock:
            return self._hashes.size

    def log_entries(self, start: int, end: int) -> list[bytes]:
        with self._lock:
            if not 0 <= start <= end <= self._hashes.size:
                raise StoreError(f"log entries {start}..{end} are not all stored")
            return self._state.entries[start:end]

    def hash_reader(self) -> MemoryHashStore:
        return self._hashes

    def last_logged_registry(self) -> bytes | None:
        with self._lock:
            indexes = self._state.registry_indexes
            return decode_entry(self._state.entries[indexes[-1]]).registry if indexes else None

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        with self._lock:
            if not self._checkpoints:
                return None
            size = max(self._checkpoints)
            return size, self._checkpoints[size]

    def text_stats(self, words: Collection[str]) -> tuple[int, dict[str, int]]:
        with self._lock:
            postings = self._state.postings
            return len(self._state.searchable), {w: len(postings[w]) for w in set(words)
                                                 if postings.get(w)}

    def text_postings(self, word: str, *, denial: bool = False) -> list[int]:
        with self._lock:
            state = self._state
            return list((state.denial_postings if denial else state.postings).get(word, ()))

    def text_entries(self, positions: Collection[int]) -> dict[int, TextEntry]:
        with self._lock:
            out: dict[int, TextEntry] = {}
            for pos in set(positions):
                alert_id = self._state.searchable.get(pos)
                if alert_id is None:
                    continue
                a = self._state.rows[alert_id].alert
                assert a.text is not None  # filed only when it had one
                out[pos] = TextEntry(pos, a.id, a.issuer_id, a.sent_ts, a.kinds, a.text)
            return out

    def text_recent(self, key: str | None, limit: int) -> list[int]:
        with self._lock:
            if limit <= 0:
                return []
            if key is None:
                return list(itertools.islice(reversed(self._state.searchable), limit))
            return self._state.keyed.get(key, [])[::-1][:limit]

    def close(self) -> None:
        pass


class _MemoryView(LedgerView):
    def __init__(self, state: _State) -> None:
        self._state = state

    @staticmethod
    def _prior(row: _Row) -> Prior:
        return Prior(row.alert.id, row.alert.issuer_id, row.alert.status, row.ended_ts is not None,
                     {c: t.coverage for c, t in row.targets.items() if t.ended_ts is None},
                     frozenset(row.targets))

    def by_reference(self, sender: str, identifier: str) -> Prior | None:
        alert_id = self._state.by_ref.get((sender, identifier))
        return None if alert_id is None else self._prior(self._state.rows[alert_id])

    def in_force(self, issuer_id: str, status: str, codes: Collection[str],
                 at: float | None = None) -> list[Prior]:
        wanted = set(codes)
        return [self._prior(row) for row in self._state.rows.values()
                if row.alert.issuer_id == issuer_id and row.alert.status == status
                and (at is None or row.alert.expires_ts is None or row.alert.expires_ts > at)
                and any(t.ended_ts is None and c in wanted for c, t in row.targets.items())]


"""The one use case: validate -> authenticate -> authorise -> persist -> publish.

Nothing trusts an alert before its signature verifies (the core verifier
checks the issuer's signed statement first). An alert is acknowledged only
after the store has made it durable; it goes to the event feed right after,
never held back for anything else, and every consumer follows the feed.

Writes go through one writer (:class:`Writer`): a single thread owns the
store's write connection and commits whatever has queued up meanwhile in one
transaction (group commit), so durability with fsync costs one sync per batch,
not per alert.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from tocsin.api.views import payload_view  # pure data shaping; no HTTP framework
from tocsin.cap import CapError, parse_alert
from tocsin.cap.model import Alert, parse_cap_time
from tocsin.check.index import search_text
from tocsin.feed import EventFeed
from tocsin.kinds import KINDS, KindClass, kind_class
from tocsin.ledger.limits import size_refusal
from tocsin.regions import RegionSet
from tocsin.store.base import (
    AppendResult,
    Conflict,
    Coverage,
    NewAlert,
    Refused,
    Store,
    StoreError,
    StreamEvent,
)
from tocsin.trust.registry import Registry
from tocsin.trust.verify import VerifyInputError, verify_alert

T = TypeVar("T")

ALERT_ID_HEX = 32  # 128 bits of SHA-256: short enough for a URL, far beyond collision reach
CPU_WORKERS = 2  # threads for verify + parse + targeting; the machine's cores, not more
GIL_SWITCH_SECS = 0.001


def alert_id_for(cap: bytes) -> str:
    """An alert's id is derived from its exact bytes, so retries map to the same id."""
    return hashlib.sha256(cap).hexdigest()[:ALERT_ID_HEX]


class IssueError(Exception):
    """Refused: ``code`` is an API error code from the catalogue, ``detail`` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class IssueOutcome:
    result: AppendResult
    warnings: tuple[str, ...] = ()


def summary_json(alert: Alert, alert_id: str, issuer_id: str, targets: dict[str, Coverage],
                 kinds: frozenset[str], *, regions: RegionSet, registry: Registry | None = None,
                 key_id: str = "", sent_ts: float = 0.0, received: float = 0.0,
                 expires: float | None = None) -> bytes:
    """The JSON pushed to live subscribers (single line, encoded once): the one alert view."""
    return msgspec.json.encode(payload_view(
        alert=alert, alert_id=alert_id, issuer_id=issuer_id, key_id=key_id, sent_ts=sent_ts,
        received=received, expires=expires, kinds=tuple(kinds), targets=dict(targets),
        regions=regions, registry=registry))


class Writer:
    """The single writer: a queue drained by one thread, committed in batches.

    What it committed goes to the event feed (:meth:`tocsin.feed.EventFeed.committed`), which
    every consumer follows; the writer knows no consumer.
    """

    def __init__(self, store: Store, feed: EventFeed) -> None:
        self._store = store
        self._feed = feed
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tocsin-writer")
        self._pending: list[tuple[NewAlert, asyncio.Future[AppendResult]]] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None

    async def append(self, alert: NewAlert) -> AppendResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AppendResult] = loop.create_future()
        self._pending.append((alert, future))
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await loop.run_in_executor(
                        self._executor, self._store.append_batch, [a for a, _ in batch]
                    )
                except Exception as exc:  # the whole transaction failed: nothing was stored
                    # ... as far as this process knows; a store that lost its connection during
                    # COMMIT may have stored it, so the feed reads that stretch from the store.
                    self._feed.uncertain()
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                events = [
                    StreamEvent(
                        id=r.record.event_id, kind=a.stream_kind, alert_id=r.record.id,
                        regions=r.regions, data=a.summary, received_ts=a.received_ts,
                        # Shapes match points exactly for a new alert. An Update or Cancel
                        # must also reach whoever got the alert it ends: by region codes.
                        areas=a.areas if a.msg_type == "Alert" else (),
                    )
                    for (a, _), r in zip(batch, results, strict=True)
                    if isinstance(r, AppendResult) and r.created
                ]
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                if events:
                    # Durable now. Wake the followers a loop turn later, so the issuers'
                    # 201s leave first instead of waiting behind the writes to every
                    # subscriber; the delay is microseconds and callbacks keep commit order.
                    loop.call_soon(self._feed.committed, events)
        finally:
            self._draining = False

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run other writes (a registry leaf) on the writer thread, between batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class Issuer:
    """Accepts signed alerts: the issuing path of the hub."""

    def __init__(
        self,
        *,
        registry: Registry,
        regions: RegionSet,
        store: Store,
        feed: EventFeed,
        max_sent_age_secs: float = 600.0,
        max_sent_skew_secs: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.regions = regions
        self.store = store
        self.max_sent_age_secs = max_sent_age_secs
        self.max_sent_skew_secs = max_sent_skew_secs
        self.clock = clock
        self.writer = Writer(store, feed)
        # Verification, parsing, targeting and the jurisdiction rule are CPU work (an
        # alert within the cost budget takes up to a few hundred ms): they run here,
        # never on the event loop, so one alert cannot stall every stream. Threads,
        # not processes: the region set's geometry (tens of MB) and the registry in
        # force are shared, not copied or re-synchronised per worker, and the heavy
        # parts (libxml2, GEOS, libsodium) release the GIL while they work.
        # The Python parts (model building, rule walks) hold the GIL; a 1 ms switch
        # interval (Python's default is 5 ms) bounds how long the loop waits for it.
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_SECS))
        self._cpu = ThreadPoolExecutor(max_workers=CPU_WORKERS, thread_name_prefix="tocsin-verify")
        # Load the region boundaries now, in the background, rather than at the first
        # alert with a shape (reading them holds the GIL for a few hundred ms, once).
        self._cpu.submit(regions.geometry)

    def close(self) -> None:
        """Stop the worker threads (the writer's and the verifiers')."""
        self._cpu.shutdown(wait=True)
        self.writer.close()

    def prepare(self, cap: bytes, statement: bytes) -> tuple[NewAlert, tuple[str, ...]]:
        """Verify and authorise; return the record to persist (CPU only, no I/O)."""
        now = self.clock()
        try:
            verdict = verify_alert(cap, statement, self.registry, regions=self.regions,
                                   at=datetime.fromtimestamp(now, UTC), with_targets=True)
        except VerifyInputError as exc:
            raise IssueError("bad_statement", str(exc)) from None
        if verdict.status != "authentic" or verdict.decision is None:
            raise IssueError(verdict.code or verdict.status, verdict.reason)
        try:
            parsed = parse_alert(cap, strict=True)
        except CapError as exc:
            raise IssueError("invalid_cap", str(exc)) from None
        alert = parsed.alert
        sent_ts = parse_cap_time(alert.sent).timestamp()
        if sent_ts < now - self.max_sent_age_secs:
            raise IssueError(
                "stale_alert",
                f"sent {alert.sent} is more than {self.max_sent_age_secs:.0f} s in the past; "
                "an alert is issued when it is sent",
            )
        if sent_ts > now + self.max_sent_skew_secs:
            raise IssueError(
                "stale_alert",
                f"sent {alert.sent} is more than {self.max_sent_skew_secs:.0f} s in the future",
            )
        targets = verdict.decision.targets  # what the ledger judged the alert reaches
        kinds = verdict.decision.kinds
        klass = kind_class(kinds)
        # A denial is about a message, not a place: it may name no area at all.
        if not targets and alert.msg_type in ("Alert", "Update") and klass is not KindClass.DENIAL:
            raise IssueError("invalid_cap", "the alert names no area inside the region set")
        unknown = sorted(k for k in kinds if k not in KINDS)
        if unknown:
            raise IssueError("invalid_cap", f"unknown warning kind(s): {', '.join(unknown)}")
        expires = [parse_cap_time(i.expires).timestamp() for i in alert.info if i.expires]
        alert_id = alert_id_for(cap)
        key_id = "" if verdict.key_id is None else f"{verdict.key_id:08x}"
        expires_ts = max(expires) if expires else None
        new = NewAlert(
            id=alert_id,
            cap=cap,
            statement=statement,
            issuer_id=verdict.issuer_id or "",
            key_id=key_id,
            sender=alert.sender,
            identifier=alert.identifier,
            sent=alert.sent,
            sent_ts=sent_ts,
            received_ts=now,
            expires_ts=expires_ts,
            msg_type=alert.msg_type,
            status=alert.status,
            kinds=tuple(sorted(kinds)),
            event=alert.info[0].event if alert.info else alert.msg_type,
            targets=targets,
            references=tuple((r.sender, r.identifier) for r in alert.references),
            summary=summary_json(alert, alert_id, verdict.issuer_id or "", targets, kinds,
                                 regions=self.regions, registry=self.registry, key_id=key_id,
                                 sent_ts=sent_ts, received=now, expires=expires_ts),
            # Points are matched by the shapes as drawn only if they stay inside the
            # jurisdiction; else by the targets, which stop at its border.
            areas=tuple(area for info in alert.info for area in info.area)
            if verdict.decision.shapes_inside else (),
            stream_kind="denial" if klass is KindClass.DENIAL else "alert",
            text=search_text(alert, issuer_id=verdict.issuer_id or "", kinds=kinds,
                             targets=targets, regions=self.regions),
        )
        return new, tuple(str(w) for w in parsed.warnings)

    async def issue(self, cap: bytes, statement: bytes) -> IssueOutcome:
        """Verify, authorise, persist durably, publish. Raises :class:`IssueError`.

        The size limit is checked first, on the loop (it costs nothing); everything
        CPU-heavy runs in a worker thread.
        """
        too_big = size_refusal(cap, statement)
        if too_big is not None:
            raise IssueError(too_big.code, too_big.reason)
        loop = asyncio.get_running_loop()
        new, warnings = await loop.run_in_executor(self._cpu, self.prepare, cap, statement)
        try:
            result = await self.writer.append(new)
        except Conflict as exc:
            raise IssueError("conflict", str(exc)) from None
        except Refused as exc:  # the rulebook's state rules (references, status)
            raise IssueError(exc.code, exc.reason) from None
        except StoreError as exc:
            raise IssueError("internal", f"storage refused the alert: {exc}") from None
        return IssueOutcome(result=result, warnings=warnings)

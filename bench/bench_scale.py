"""A hub holding many alerts: its start-up time, resident memory and check latency (issue 13).

What it does:

1. builds a data directory holding ``--alerts`` real, signed alerts (the demo issuers'
   keys; the templates, issuers and regions of ``bench_check.py``'s background, sent over
   the last 300 days), appended to the store in batches of 2,000 through the store API
   (``Store.append_batch``: alert, targets, endings, stream event, log leaf and the check's
   search text in one transaction each), not over HTTP. To build fast, 5,000 alerts are
   composed, and each stored alert is one of them sent again: a new identifier, send and
   expiry time, its own bytes and its own Ed25519 signature, and the record the hub would
   store, made without re-verifying it. The first ``--verify-sample`` alerts also go
   through the hub's own ``Issuer.prepare``, and the benchmark stops if a record differs
   from the verified one. A checkpoint is signed at the end. ``--data DIR`` keeps the
   directory; a later run with the same ``DIR`` continues it up to ``--alerts`` (in time
   order, from the newest stored alert to an hour ago), and ``--build-minutes`` stops the
   build early (the figures then say how many are stored). The builder's own writer
   connection keeps a 512 MiB SQLite page cache (the hub's keeps SQLite's default): the same
   rows, fewer pages re-read per insert. ``--build-only`` / ``--measure-only`` split the two;
2. starts ``tocsin serve --demo`` on it (a real process), times it until ``/healthz``
   answers, and reads its resident memory (``VmRSS``) then;
3. checks ``--checks`` messages over HTTP (``POST /api/v1/check``): copies of stored
   alerts' texts (authentic or outdated), the same with a place or time changed (altered),
   and made-up messages naming an issuer (not-issued); prints the verdict counts and the
   latency p50 / p95 / max, and the resident memory after; then the in-force reads, 20
   alerts issued one at a time (the 201's latency on this store), and the whole-file
   background scan's time (``/readyz``). An empty data directory is started just before,
   for the start-up time to compare with.

Run: ``python bench/bench_scale.py --alerts 1000000 --data /tmp/tocsin-1m``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_check import (
    RESERVED_OBLASTS,
    Clock,
    background_facts,
)
from tocsin import testing
from tocsin.cap import to_xml
from tocsin.cap.model import Alert, parse_cap_time
from tocsin.check.index import search_text
from tocsin.compose import cap_time, compose_alert, new_identifier
from tocsin.config import load_settings
from tocsin.demo import build_demo_registry, demo_key_path
from tocsin.issue import alert_id_for, summary_json
from tocsin.kinds import KindClass, alert_kinds, kind_class
from tocsin.regions import RegionSet, default_region_set
from tocsin.regions.targeting import target_codes
from tocsin.runtime import Hub
from tocsin.store.base import NewAlert
from tocsin.testing import HubProcess
from tocsin.trust.note import Signer
from tocsin.trust.registry import Registry
from tocsin.trust.statement import Statement

BATCH = 2000
SPAN = timedelta(days=300)
SAMPLE_KEEP = 400  # stored alerts read back for making check messages
POOL = 5000  # composed alerts the build sends again with new identifiers and times


def fast_record(alert: Alert, cap: bytes, statement: bytes, issuer_id: str, key_id: str,
                received: float, regions: RegionSet, registry: Registry) -> NewAlert:
    """The record ``Issuer.prepare`` makes for a geocode-only alert, without re-verifying it."""
    kinds = alert_kinds(alert)
    codes = [p.value for info in alert.info for area in info.area for p in area.geocode]
    targets = target_codes(dict.fromkeys(codes), regions)
    sent_ts = parse_cap_time(alert.sent).timestamp()
    expires = [parse_cap_time(i.expires).timestamp() for i in alert.info if i.expires]
    expires_ts = max(expires) if expires else None
    alert_id = alert_id_for(cap)
    return NewAlert(
        id=alert_id, cap=cap, statement=statement, issuer_id=issuer_id, key_id=key_id,
        sender=alert.sender, identifier=alert.identifier, sent=alert.sent, sent_ts=sent_ts,
        received_ts=received, expires_ts=expires_ts, msg_type=alert.msg_type,
        status=alert.status, kinds=tuple(sorted(kinds)),
        event=alert.info[0].event if alert.info else alert.msg_type, targets=targets,
        references=tuple((r.sender, r.identifier) for r in alert.references),
        summary=summary_json(alert, alert_id, issuer_id, targets, kinds, regions=regions,
                             registry=registry, key_id=key_id, sent_ts=sent_ts,
                             received=received, expires=expires_ts),
        areas=tuple(area for info in alert.info for area in info.area),
        stream_kind="denial" if kind_class(kinds) is KindClass.DENIAL else "alert",
        text=search_text(alert, issuer_id=issuer_id, kinds=kinds, targets=targets,
                         regions=regions),
    )


def respin(pooled: NewAlert, model: Alert, cap: bytes, sent: datetime,
           signer: Signer, regions: RegionSet, registry: Registry) -> NewAlert:
    """A pooled alert sent again at ``sent`` (new identifier and times, new bytes,
    new signature); the record is the pooled one's with what changed recomputed."""
    old_sent = model.sent
    new_sent = cap_time(sent)
    identifier = new_identifier(pooled.issuer_id, sent)
    shift = sent.timestamp() - pooled.sent_ts
    infos = []
    for info in model.info:
        expires = (cap_time(datetime.fromtimestamp(parse_cap_time(info.expires).timestamp()
                                                   + shift, UTC).astimezone(sent.tzinfo))
                   if info.expires else None)
        infos.append(msgspec.structs.replace(info, effective=new_sent, expires=expires))
    again = msgspec.structs.replace(model, identifier=identifier, sent=new_sent, info=tuple(infos))
    data = (cap.replace(f"<identifier>{model.identifier}</identifier>".encode(),
                        f"<identifier>{identifier}</identifier>".encode())
            .replace(f"<sent>{old_sent}</sent>".encode(), f"<sent>{new_sent}</sent>".encode())
            .replace(f"<effective>{old_sent}</effective>".encode(),
                     f"<effective>{new_sent}</effective>".encode()))
    for before, after in zip(model.info, again.info, strict=True):
        if before.expires and after.expires:
            data = data.replace(f"<expires>{before.expires}</expires>".encode(),
                                f"<expires>{after.expires}</expires>".encode())
    statement = Statement.for_cap(data, issuer=signer.name, key_id=signer.key_id,
                                  identifier=identifier, sender=again.sender,
                                  sent=new_sent).sign(signer)  # sign_cap, without parsing
    sent_ts = parse_cap_time(new_sent).timestamp()
    received = sent_ts + 1
    expires_ts = None if pooled.expires_ts is None else pooled.expires_ts + shift
    alert_id = alert_id_for(data)
    kinds = frozenset(pooled.kinds)
    return dataclasses.replace(
        pooled, id=alert_id, cap=data, statement=statement, identifier=identifier,
        sent=new_sent, sent_ts=sent_ts, received_ts=received, expires_ts=expires_ts,
        summary=summary_json(again, alert_id, pooled.issuer_id, pooled.targets, kinds,
                             regions=regions, registry=registry, key_id=pooled.key_id,
                             sent_ts=sent_ts, received=received, expires=expires_ts),
    )


def build(data: Path, count: int, seed: int, verify_sample: int, budget_secs: float) -> None:
    """Fill ``data`` with up to ``count`` signed alerts (continuing what it holds), stopping
    after ``budget_secs``; sign a checkpoint over them."""
    regions = default_region_set()
    rng = random.Random(seed)
    by_level = {level: [r for r in regions.at_level(level) if r.code[2:4] not in RESERVED_OBLASTS]
                for level in ("oblast", "raion", "hromada")}
    now = datetime.now(UTC)
    start = now - SPAN
    registry_path = data / "registry.json"
    if not registry_path.exists():
        registry_path.write_bytes(build_demo_registry(data, regions, now=start - timedelta(days=1)))
    registry_bytes = registry_path.read_bytes()
    clock = Clock()
    hub = Hub(load_settings({"data_dir": data, "demo": True}), registry_bytes=registry_bytes,
              regions=regions, clock=clock)
    # The builder's writer connection keeps a large page cache (512 MiB): the rows, words and
    # leaves written are the store's own; only fewer pages are re-read from the OS per insert.
    hub.store._writer.execute("PRAGMA cache_size = -524288")  # type: ignore[attr-defined]
    signers = {i.id: Signer.from_skey(demo_key_path(data, i.id).read_text().strip())
               for i in hub.registry.issuers}
    have = hub.store.last_event_id()
    step = (SPAN - timedelta(hours=1)) / max(1, count)
    first = start
    if have:
        # Continue in time order from the newest stored alert (times only grow with the log,
        # as on a real hub: what is in force at any moment stays what a day holds).
        newest = max(r.sent_ts for r in hub.store.list_alerts(limit=1))
        first = datetime.fromtimestamp(newest, UTC)
        step = (now - timedelta(hours=1) - first) / max(1, count - have)
    # A pool of composed alerts (the templates' words, issuers and regions), each sent again
    # with a new identifier and times: composing every one anew would double the build.
    pool: list[tuple[NewAlert, Alert, bytes]] = []
    for _ in range(min(count, POOL)):
        facts = background_facts(rng, by_level, start)
        alert = compose_alert(facts, regions)
        signer = signers[facts.issuer_id]
        cap = to_xml(alert)
        pool.append((fast_record(alert, cap, b"", facts.issuer_id, f"{signer.key_id:08x}",
                                 start.timestamp() + 1, regions, hub.registry), alert, cap))
    batch: list[NewAlert] = []
    stored = 0
    t0 = time.perf_counter()
    n = have
    mark = (n, t0)
    while n < count and time.perf_counter() - t0 < budget_secs:
        pooled, model, cap = pool[rng.randrange(len(pool))]
        signer = signers[pooled.issuer_id]
        sent = ((start + step * n) if not have else (first + step * (n - have + 1))
                ).replace(microsecond=0)
        new = respin(pooled, model, cap, sent, signer, regions, hub.registry)
        if n - have < verify_sample:
            clock.now = new.received_ts
            verified, _ = hub.issuer.prepare(new.cap, new.statement)
            if verified != new:
                raise SystemExit(f"alert {n}: the fast record differs from Issuer.prepare's:\n"
                                 f"{verified}\n{new}")
        batch.append(new)
        n += 1
        if len(batch) >= BATCH:
            stored += sum(1 for r in hub.store.append_batch(batch) if not isinstance(r, Exception))
            batch = []
            if n % 50_000 < BATCH:
                now_s = time.perf_counter()
                rate = (n - have) / (now_s - t0)
                recent = (n - mark[0]) / (now_s - mark[1])
                mark = (n, now_s)
                print(f"  {n:,} alerts ({rate:,.0f}/s overall, {recent:,.0f}/s lately; "
                      f"{datetime.now(UTC):%H:%M:%S})", file=sys.stderr, flush=True)
    if batch:
        stored += sum(1 for r in hub.store.append_batch(batch) if not isinstance(r, Exception))
    hub.checkpointer.sign_now()
    total = hub.store.last_event_id()
    hub.issuer.close()
    hub.store.close()
    print(f"built {stored:,} alerts in {time.perf_counter() - t0:.0f} s; the store holds "
          f"{total:,} (database {(data / 'tocsin.sqlite3').stat().st_size / 2**20:,.0f} MiB)")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def messages(sample: list[Alert], rng: random.Random, n: int) -> list[str]:
    """Copies, altered copies and made-up messages, in a fixed mix."""
    out: list[str] = []
    for k in range(n):
        alert = rng.choice(sample)
        info = alert.info[0]
        text = "\n".join(p for p in (info.headline, info.description, info.instruction) if p)
        if k % 3 == 1:
            text = text.replace("укриття", "укриття. Поширте всім знайомим!")
        elif k % 3 == 2:
            text = (f"Повітряні сили: увага! {rng.randint(3, 40)} ракет у напрямку Києва, "
                    "терміново всім до укриттів, деталі в нашому каналі t.me/fake")
        out.append(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--data", type=Path, help="keep (or continue) the data directory here")
    parser.add_argument("--build-minutes", type=float, default=float("inf"),
                        help="stop building after this long and measure what is stored")
    parser.add_argument("--checks", type=int, default=150)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--verify-sample", type=int, default=300)
    parser.add_argument("--build-only", action="store_true",
                        help="build (or continue) the data directory, measure nothing")
    parser.add_argument("--measure-only", action="store_true",
                        help="measure the data directory as it is, build nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data: Path = args.data or Path(tmp) / "data"
        data.mkdir(parents=True, exist_ok=True)
        if not args.measure_only:
            build(data, args.alerts, args.seed, args.verify_sample, args.build_minutes * 60)
        if not args.build_only:
            run(data, sample_from(data), args.checks, args.seed)


def sample_from(data: Path) -> list[Alert]:
    """The newest stored alerts, parsed back (a reused directory)."""
    from tocsin.cap import parse_alert
    from tocsin.ledger.effects import state_rules
    from tocsin.store.sqlite import SqliteStore

    store = SqliteStore(data / "tocsin.sqlite3", rules=state_rules(lambda code: []))
    try:
        return [parse_alert(r.cap, strict=False).alert
                for r in store.list_alerts(limit=SAMPLE_KEEP) if "denial" not in r.kinds]
    finally:
        store.close()


def run(data: Path, sample: list[Alert], checks: int, seed: int) -> None:
    testing.STARTUP_TIMEOUT_SECS = 900  # generous: a first start on an older store builds indexes
    # One client posts every check: lift the per-client limit (429) for the measurement.
    with tempfile.TemporaryDirectory() as empty:  # the same start on nothing, for comparison
        blank = HubProcess(Path(empty) / "data")
        t0 = time.perf_counter()
        blank.start()
        blank_startup = time.perf_counter() - t0
        blank.stop()
    hub = HubProcess(data, env={"TOCSIN_CHECK_BURST": "100000", "TOCSIN_CHECK_RATE_PER_SEC": "1000"})
    t0 = time.perf_counter()
    hub.start()
    startup = time.perf_counter() - t0
    assert hub.proc is not None
    rss_start = rss_mib(hub.proc.pid)
    try:
        with httpx.Client(base_url=hub.url, timeout=60) as client:
            health: dict[str, Any] = client.get("/healthz").json()
            verdicts: Counter[str] = Counter()
            latencies: list[float] = []
            for text in messages(sample, random.Random(seed), checks):
                t = time.perf_counter()
                response = client.post("/api/v1/check", json={"text": text})
                latencies.append((time.perf_counter() - t) * 1000)
                response.raise_for_status()
                verdicts[response.json()["verdict"]] += 1
            reads = {path: timed_get(client, path) for path in IN_FORCE_READS}
            issued = timed_issues(client, data, ISSUES)
            scan = client.get("/readyz").json().get("store_scan", {})
            scan_wait = time.perf_counter()
            while (scan.get("state") in ("pending", "running")  # the whole-file scan, beside
                   and time.perf_counter() - scan_wait < SCAN_WAIT_SECS):
                time.sleep(1)
                scan = client.get("/readyz").json().get("store_scan", {})
            scan_wait = time.perf_counter() - scan_wait
        rss_after = rss_mib(hub.proc.pid)
    finally:
        hub.stop()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"hub start-up to /healthz 200: {startup:.2f} s; resident {rss_start:.0f} MiB "
          f"(last event id {health.get('last_event_id')}); an empty data directory just "
          f"before: {blank_startup:.2f} s; load average {Path('/proc/loadavg').read_text()[:14]}")
    print(f"check over HTTP, {len(latencies)} checks: p50 {statistics.median(latencies):.1f} ms, "
          f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms; verdicts {dict(sorted(verdicts.items()))}")
    print(f"resident after the checks: {rss_after:.0f} MiB")
    for path, (status, ms) in reads.items():
        print(f"GET {path}: {status}, median of 5 {ms:.1f} ms")
    print(f"issue (POST /api/v1/alerts, one at a time, fsync on) on this store: {len(issued)} "
          f"alerts, p50 {statistics.median(issued):.1f} ms, max {max(issued):.1f} ms")
    print(f"background store scan: {scan.get('state')} ({scan.get('detail')}), "
          f"{scan.get('seconds')} s (waited {scan_wait:.0f} s after the checks)")


#: Reads of what is in force now, which must not grow with the history either.
IN_FORCE_READS = ("/api/v1/alerts?active=1", "/api/v1/regions/UA32000000000030281/status",
                  "/api/v1/regions/UA80000000000093317/status")


ISSUES = 20  # alerts issued over HTTP to the measured hub
SCAN_WAIT_SECS = 420  # how long the benchmark waits for the background scan to finish


def timed_issues(client: httpx.Client, data: Path, count: int) -> list[float]:
    """Issue ``count`` fresh Kyiv alerts one at a time; each 201's latency in ms."""
    from tocsin.client import issue_request, sign_cap
    from tocsin.compose import AlertFacts

    signer = Signer.from_skey(demo_key_path(data, "demo-air-force").read_text().strip())
    bodies = []
    for k in range(count):
        cap = to_xml(compose_alert(AlertFacts(
            issuer_id="demo-air-force", kind="air-raid", areas=("UA80000000000093317",),
            headline=f"Scale bench {k}", description="Benchmark alert on a large store.",
            instruction="Go to the nearest shelter.", expires_in=timedelta(hours=1))))
        bodies.append(issue_request(cap, sign_cap(cap, signer)))
    times = []
    for body in bodies:
        t = time.perf_counter()
        response = client.post("/api/v1/alerts", json=body)
        times.append((time.perf_counter() - t) * 1000)
        response.raise_for_status()
    return times


def timed_get(client: httpx.Client, path: str) -> tuple[int, float]:
    times, status = [], 0
    for _ in range(5):
        t = time.perf_counter()
        status = client.get(path).status_code
        times.append((time.perf_counter() - t) * 1000)
    return status, statistics.median(times)


if __name__ == "__main__":
    main()

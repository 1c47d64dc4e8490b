"""Failover figures (issue 14): writer death to the standby's first 201; alerts while NATS is down.

Run: ``python bench/bench_failover.py [--rounds 5] [--alerts 10] [--json out.json]``
(needs Debian's PostgreSQL and ``nats-server``; everything on 127.0.0.1, started and stopped here).

Set-up: one PostgreSQL server (``tocsin.testing_postgres``, fsync off as in the tests), one
nats-server, two writers on the store — ``a`` leading, ``b`` a standby holding a copy of
``a``'s data directory — and one edge with no ``writer_url`` (it hands writes to the leader the
store names), ``bus_poll_secs`` 1.

1. **Writer death.** An issuer posts signed alerts through the edge in a loop, retrying each
   (same bytes) after a 503 or a lost answer every 50 ms. Each round SIGKILLs the leading
   writer while requests are in flight and measures the seconds from the kill to the 201 of
   the first alert posted *after* the kill (only the standby can have answered it), and to
   the standby's ``/healthz`` saying ``leading: true``. The killed writer is started again
   (it becomes the standby) and the next round kills the other.
2. **NATS down.** A subscriber streams Kyiv through the edge. ``--alerts`` alerts with NATS up,
   then NATS is stopped (SIGKILL) and ``--alerts`` more are issued at random moments (0–1 s
   apart, so they fall anywhere in the edge's poll period), then NATS returns. For each: the
   delay from the writer's 201 to the subscriber's receipt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import shutil
import signal
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx

from bench_issue import machine_facts, percentile
from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess, NatsProcess
from tocsin.testing_postgres import PostgresServer

KYIV = "UA80000000000093317"
POLL_SECS = 1.0
RETRY_SECS = 0.05


def signed(hub: HubProcess) -> dict[str, str]:
    alert = compose_alert(AlertFacts(issuer_id="demo-air-force", areas=(KYIV,), kind="air-raid",
                                     expires_in=timedelta(hours=1)))
    cap = to_xml(alert)
    return issue_request(cap, sign_cap(cap, hub.signer("demo-air-force")))


def issue(url: str, body: dict[str, str]) -> tuple[str, float]:
    """Post until a 201 (the same bytes: idempotent); (alert id, monotonic time of the 201)."""
    while True:
        try:
            response = httpx.post(f"{url}/api/v1/alerts", json=body, timeout=30)
            if response.status_code == 201:
                return str(response.json()["id"]), time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(RETRY_SECS)  # the issuer's retry pace


def leading(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/healthz", timeout=1).json().get("leading"))
    except (httpx.HTTPError, ValueError):
        return False


class Stream:
    """One SSE subscriber in a thread: (alert id, monotonic arrival) on ``events``."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue[tuple[str, float]] = queue.Queue()
        self.connected = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=None))
        threading.Thread(target=self._run, args=(url,), daemon=True).start()

    def _run(self, url: str) -> None:
        with contextlib.suppress(httpx.HTTPError, RuntimeError), self._client.stream(
                "GET", f"{url}/api/v1/stream?regions={KYIV}") as response:
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("data: "):
                    self.events.put((json.loads(line[6:])["id"], time.monotonic()))

    def close(self) -> None:
        self._client.close()


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 3),
            "max": round(ordered[-1], 3), "p90": round(percentile(ordered, 90), 3)}


def writer_deaths(rounds: int, writers: list[HubProcess], edge: HubProcess
                  ) -> tuple[list[float], list[float]]:
    issued: list[tuple[str, float]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            issued.append(issue(edge.url, signed(writers[0])))

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    to_201, to_leading = [], []
    try:
        for n in range(rounds):
            dying, standby = (writers[0], writers[1]) if n % 2 == 0 else (writers[1], writers[0])
            start = len(issued)
            while len(issued) < start + 3:  # the leader is answering
                time.sleep(0.02)  # polling the issuer thread
            in_flight = len(issued)
            dying.kill()
            killed = time.monotonic()
            while not leading(standby.url):
                time.sleep(0.02)  # polling the standby's /healthz
            to_leading.append(time.monotonic() - killed)
            while len(issued) < in_flight + 2:
                time.sleep(0.02)  # polling the issuer thread
            to_201.append(issued[in_flight + 1][1] - killed)
            print(f"round {n + 1}: {dying.url} killed; standby leading after "
                  f"{to_leading[-1]:.2f} s, first 201 after {to_201[-1]:.2f} s", flush=True)
            dying.start()  # back as the standby
    finally:
        stop.set()
        loader.join(timeout=60)
    return to_201, to_leading


def nats_down(alerts: int, nats: NatsProcess, writer: HubProcess, edge: HubProcess
              ) -> tuple[list[float], list[float]]:
    stream = Stream(edge.url)
    assert stream.connected.wait(30), "the stream never connected"

    def one() -> float:
        alert_id, at = issue(edge.url, signed(writer))
        while True:
            got, arrived = stream.events.get(timeout=30)
            if got == alert_id:
                return arrived - at

    up = [one() for _ in range(alerts)]
    nats.stop()
    deadline = time.monotonic() + 30
    while httpx.get(f"{edge.url}/healthz").json()["bus"] != "disconnected":
        assert time.monotonic() < deadline
        time.sleep(0.05)  # polling the edge's /healthz
    down = []
    for _ in range(alerts):
        time.sleep(random.uniform(0, POLL_SECS))
        down.append(one())
    nats.start()
    stream.close()
    return up, down


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(json.dumps(machine_facts()), f"load average {os.getloadavg()}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="tocsin-failover-", dir="/var/tmp"))
    postgres = PostgresServer.create()
    nats = NatsProcess()
    procs: list[HubProcess] = []
    try:
        nats.start()
        dsn = postgres.create_database()
        args_w = ("--role", "writer", "--store", dsn, "--bus", nats.url)
        a = HubProcess(root / "a", args=args_w)
        a.start()
        procs.append(a)
        shutil.copytree(a.data_dir, root / "b",  # not live SQLite files (a copy may be torn)
                        ignore=shutil.ignore_patterns("writer.url*", "*.tmp", "*.sqlite3*"))
        b = HubProcess(root / "b", args=args_w)
        b.start()
        procs.append(b)
        (root / "e").mkdir()
        for key in ("log.pub", "registry-root.pub"):
            shutil.copy(a.data_dir / key, root / "e" / key)
        edge = HubProcess(root / "e", demo=False,
                          args=("--role", "edge", "--store", dsn, "--bus", nats.url),
                          env={"TOCSIN_BUS_POLL_SECS": str(POLL_SECS)})
        edge.start()
        procs.append(edge)
        to_201, to_leading = writer_deaths(args.rounds, [a, b], edge)
        leader = a if leading(a.url) else b
        up, down = nats_down(args.alerts, nats, leader, edge)
    finally:
        for proc in reversed(procs):
            proc.kill(signal.SIGTERM)
        nats.stop()
        postgres.destroy()
        shutil.rmtree(root, ignore_errors=True)
    result = {"writer_kill_to_first_201_secs": summary(to_201),
              "writer_kill_to_standby_leading_secs": summary(to_leading),
              "delivery_delay_nats_up_secs": summary(up),
              "delivery_delay_nats_down_secs": summary(down),
              "nats_down_alerts_delayed": sum(d > max(up) for d in down),
              "nats_down_alerts": len(down), "bus_poll_secs": POLL_SECS}
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps({**result, "samples": {
            "to_201": to_201, "to_leading": to_leading, "up": up, "down": down}}, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark live fan-out across edge processes: ``tocsin serve --workers W`` against one process.

Run: ``python bench/bench_edges.py [--sizes 2000] [--alerts 10] [--workers 2] [--no-single]``
(needs Debian's ``nats-server``).

For each N, in the same run, with the same clients (``bench/_sse_clients.py`` processes on
core 1, each from its own 127.0.x.y source address), alternating alert by alert:

* ``single``: ``tocsin serve --demo`` — one process, SQLite, fsync on (as bench_fanout.py);
* ``edges``: ``tocsin serve --demo --workers W --bus nats://…`` — the writer on a private
  port and W edge processes sharing the public port (SO_REUSEPORT), woken by the NATS
  doorbell, reading each event from the store.

Both run under ``taskset -c 0`` (all their processes), so the figure is what the extra hop
(hand-over to the writer, doorbell, a store read per edge) costs on the same CPU, not what
more cores would buy. Reported per target: the time from the issue request to the *last*
subscriber (p50/p99/max), deliveries counted, and the resident memory of all the target's
processes per connected subscriber (RSS with everyone connected minus RSS before, over N).
Exit status 1 if any delivery is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import httpx

from bench_fanout import CLIENTS_PER_PROCESS, RunResult, Target, load_average, run_size
from bench_issue import CLIENT_CPU, SERVER_CPU, HubServer, machine_facts, percentile, pin_self
from tocsin.testing import NatsProcess

EDGES_START_TIMEOUT_SECS = 60.0


def wait_edges(url: str, count: int) -> set[int]:
    """Return once ``count`` distinct edge processes answer on the port."""
    seen: set[int] = set()
    deadline = time.monotonic() + EDGES_START_TIMEOUT_SECS
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {count} edges answered")
        with contextlib.suppress(httpx.HTTPError):
            seen.add(httpx.get(url + "/healthz", timeout=2).json()["pid"])
        time.sleep(0.02)
    return seen


async def bench(args: argparse.Namespace) -> list[tuple[RunResult, float]]:
    env = {"TOCSIN_MAX_SUBSCRIPTIONS_PER_CLIENT": "100000", "TOCSIN_HEARTBEAT_SECS": "3600"}
    nats = NatsProcess()
    servers: list[tuple[str, HubServer]] = []
    if not args.no_single:
        servers.append(("single", HubServer(env=env)))
    nats.start()
    servers.append(("edges", HubServer(env=env, args=["--workers", str(args.workers),
                                                      "--bus", nats.url])))
    out: list[tuple[RunResult, float]] = []
    seq = 1
    try:
        for name, server in servers:
            server.start()
            if name == "edges":
                wait_edges(server.url, args.workers)
        for n in args.sizes:
            targets = [Target(name, server.url, server.port, server, source_net=1 + i,
                              pid=server.pid)
                       for i, (name, server) in enumerate(servers)]
            results = await run_size(targets, n, args.alerts, seq, args.timeout)
            for result in results:
                out.append((result, result.rss_per_subscriber))
                print(result.line(), flush=True)
            seq += args.alerts * len(targets)
    finally:
        for _, server in servers:
            server.stop()
        nats.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000", help="subscriber counts")
    parser.add_argument("--alerts", type=int, default=10, help="alerts per target and N")
    parser.add_argument("--workers", type=int, default=2, help="edge processes")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for every subscriber to get one alert")
    parser.add_argument("--no-single", action="store_true", help="measure the edges only")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.alerts <= 0 or not args.sizes or min(args.sizes) <= 0 or args.workers <= 0:
        parser.error("--alerts, --workers and every size must be positive")
    if max(args.sizes) > CLIENTS_PER_PROCESS * 250:
        parser.error("too many subscribers for 250 source addresses")
    pin_self(CLIENT_CPU)
    print(f"machine: {machine_facts()}; load average {load_average()}")
    print(f"servers (all their processes) on CPU {SERVER_CPU}; clients on CPU {CLIENT_CPU}; "
          f"{args.workers} edges; {args.alerts} alerts per target and N")
    print(f"{'server':<6} {'N':>6}  {'last p50':>8}  {'last p99':>8}  {'last max':>8}  "
          f"{'ack p50':>7}  {'first50':>8}  {'delivered':>15}  {'conn s':>6}  memory")
    results = asyncio.run(bench(args))
    by_n: dict[int, dict[str, RunResult]] = {}
    for result, _ in results:
        by_n.setdefault(result.subscribers, {})[result.server] = result
    for n, pair in by_n.items():
        single, edges = pair.get("single"), pair.get("edges")
        if single and edges and single.last_ms and edges.last_ms:
            print(f"N={n}: edges / single, time to the last subscriber: p50 "
                  f"{percentile(edges.last_ms, 50) / percentile(single.last_ms, 50):.2f}  p99 "
                  f"{percentile(edges.last_ms, 99) / percentile(single.last_ms, 99):.2f}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_facts(), "results": [
            {**asdict(r), "rss_per_subscriber": m} for r, m in results]}, indent=1))
    missing = [r for r, _ in results if r.delivered < r.subscribers * r.alerts]
    if missing:
        print("NOT ALL DELIVERED: " + ", ".join(f"{r.server} N={r.subscribers}" for r in missing))
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

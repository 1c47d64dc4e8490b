"""Benchmark live fan-out across edge processes: ``tocsin serve --workers W`` against one process.

Run: ``python bench/bench_edges.py [--sizes 2000] [--alerts 10] [--workers 2] [--no-single]
[--nchan] [--clients-per-process 2500]`` (needs Debian's ``nats-server``; ``--nchan`` also
``nginx`` + ``libnginx-mod-nchan``).

100,000 subscribers (issue 14): ``python bench/bench_edges.py --sizes 100000 --alerts 20
--workers 6 --no-single --nchan --clients-per-process 10000 --timeout 60 --ready-timeout 1200``
— six edges of at most 20,000 open files each, nginx + nchan with six workers (reuseport),
ten client processes per server, each from its own 127.0.x.y address.

For each N, in the same run, with the same clients (``bench/_sse_clients.py`` processes on
core 1, each from its own 127.0.x.y source address), alternating alert by alert:

* ``single``: ``tocsin serve --demo`` — one process, SQLite, fsync on (as bench_fanout.py);
* ``edges``: ``tocsin serve --demo --workers W --bus nats://…`` — the writer on a private
  port and W edge processes sharing the public port (SO_REUSEPORT), woken by the NATS
  doorbell, reading each event from the store (SQLite in the writer's data directory);
* ``nchan`` (``--nchan``): nginx + nchan with W workers, each with its own listening socket
  (``reuseport``), a 1 KiB message per alert (as bench_fanout.py).

Both run under ``taskset -c 0`` (all their processes), so the figure is what the extra hop
(hand-over to the writer, doorbell, a store read per edge) costs on the same CPU, not what
more cores would buy. Reported per target: the time from the issue request to the *last*
subscriber (p50/p99/max), deliveries counted, and the memory of all the target's
processes per connected subscriber (with everyone connected minus before, over N), as RSS
and as PSS (shared pages split among the processes sharing them: nchan's workers share
one memory zone). NATS's own memory is not counted.
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

from bench_fanout import (
    CLIENTS_PER_PROCESS,
    ClientFleet,
    Nchan,
    RunResult,
    Target,
    load_average,
    run_size,
)
from bench_issue import CLIENT_CPU, SERVER_CPU, HubServer, machine_facts, percentile, pin_self
from tocsin.testing import NatsProcess

EDGES_START_TIMEOUT_SECS = 60.0


def kernel_slab_bytes() -> int:
    """The kernel's slab memory (``Slab`` in /proc/meminfo): sockets, files, TCP state."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1]) * 1024
    return 0


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
    nchan = Nchan(workers=args.workers) if args.nchan else None
    out: list[tuple[RunResult, float]] = []
    seq = 1
    try:
        for name, server in servers:
            server.start()
            if name == "edges":
                wait_edges(server.url, args.workers)
        if nchan is not None:
            nchan.start()
        for n in args.sizes:
            def fleet() -> ClientFleet:
                return ClientFleet(args.clients_per_process, args.ready_timeout)

            targets = [Target(name, server.url, server.port, server, source_net=1 + i,
                              pid=server.pid, fleet=fleet())
                       for i, (name, server) in enumerate(servers)]
            if nchan is not None:
                targets.append(Target("nchan", nchan.url, nchan.port, None,
                                      source_net=1 + len(servers), pid=nchan.pid, fleet=fleet()))
            slab = [kernel_slab_bytes()]

            def connected(slab: list[int] = slab) -> None:
                slab.append(kernel_slab_bytes())

            results = await run_size(targets, n, args.alerts, seq, args.timeout,
                                     on_connected=connected)
            sockets = sum(r.connected for r in results)
            if len(slab) == 2 and sockets:
                # Both ends of every connection are on this machine: half is one end's.
                print(f"kernel slab memory per connection (both ends, {sockets} connections): "
                      f"{(slab[1] - slab[0]) / sockets / 1024:.1f} KiB", flush=True)
            for result in results:
                out.append((result, result.rss_per_subscriber))
                print(result.line(), flush=True)
            seq += args.alerts * len(targets)
    finally:
        for _, server in servers:
            server.stop()
        if nchan is not None:
            nchan.stop()
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
    parser.add_argument("--nchan", action="store_true",
                        help="also nginx + nchan with as many workers as edges (reuseport)")
    parser.add_argument("--clients-per-process", type=int, default=CLIENTS_PER_PROCESS,
                        help="connections per client process (each from its own address)")
    parser.add_argument("--ready-timeout", type=float, default=300.0,
                        help="seconds for a client process to have all its connections")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.alerts <= 0 or not args.sizes or min(args.sizes) <= 0 or args.workers <= 0:
        parser.error("--alerts, --workers and every size must be positive")
    if not 0 < args.clients_per_process <= 19_000:
        parser.error("--clients-per-process must be 1..19000 (a process may hold 20,000 files)")
    if max(args.sizes) > args.clients_per_process * 250:
        parser.error("too many subscribers for 250 source addresses")
    pin_self(CLIENT_CPU)
    print(f"machine: {machine_facts()}; load average {load_average()}")
    print(f"servers (all their processes) on CPU {SERVER_CPU}; clients on CPU {CLIENT_CPU}; "
          f"{args.workers} edges{f' and {args.workers} nchan workers' if args.nchan else ''}; "
          f"{args.alerts} alerts per target and N; {args.clients_per_process} connections per "
          "client process")
    print(f"{'server':<6} {'N':>6}  {'last p50':>8}  {'last p99':>8}  {'last max':>8}  "
          f"{'ack p50':>7}  {'first50':>8}  {'delivered':>15}  {'conn s':>6}  memory")
    results = asyncio.run(bench(args))
    by_n: dict[int, dict[str, RunResult]] = {}
    for result, _ in results:
        by_n.setdefault(result.subscribers, {})[result.server] = result
    for n, pair in by_n.items():
        edges = pair.get("edges")
        for other in ("single", "nchan"):
            base = pair.get(other)
            if base and edges and base.last_ms and edges.last_ms:
                line = (f"N={n}: edges / {other}, time to the last subscriber: p50 "
                        f"{percentile(edges.last_ms, 50) / percentile(base.last_ms, 50):.2f}  p99 "
                        f"{percentile(edges.last_ms, 99) / percentile(base.last_ms, 99):.2f}  max "
                        f"{max(edges.last_ms) / max(base.last_ms):.2f}")
                if base.rss_per_subscriber > 0 and base.pss_per_subscriber > 0:
                    line += (f"; memory per subscriber: RSS "
                             f"{edges.rss_per_subscriber / base.rss_per_subscriber:.2f}  PSS "
                             f"{edges.pss_per_subscriber / base.pss_per_subscriber:.2f}")
                print(line)
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

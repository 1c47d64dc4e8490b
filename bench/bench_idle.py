"""Benchmark what idle SSE subscribers cost: the hub's CPU for heartbeats, and its memory.

Run: ``python bench/bench_idle.py [--subscribers 10000] [--heartbeat 15] [--seconds 30]``

``tocsin serve --demo`` pinned to core 0 (as bench_fanout.py), N subscribers from client
processes on core 1 (``bench/_sse_clients.py``), no alert issued: every subscriber gets a
heartbeat every ``--heartbeat`` seconds and nothing else. After two heartbeat periods the
hub's own CPU time (user + system, ``/proc/PID/stat``) is read over ``--seconds``: divided by
the heartbeats due in that window it is an upper bound of the CPU per heartbeat (the hub's
other idle work, e.g. its checkpoint timer, is included). Also printed: resident memory per
subscriber, and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from bench_fanout import ClientFleet, load_average, rss_bytes
from bench_issue import CLIENT_CPU, KYIV, SERVER_CPU, HubServer, machine_facts, pin_self


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench(args: argparse.Namespace) -> None:
    hub = HubServer(env={"TOCSIN_MAX_SUBSCRIPTIONS_PER_CLIENT": "1000000",
                         "TOCSIN_HEARTBEAT_SECS": str(args.heartbeat)})
    hub.start()
    fleet = ClientFleet()
    try:
        before = rss_bytes([hub.pid])
        await fleet.start(hub.port, f"/api/v1/stream?regions={KYIV}", args.subscribers, 1)
        await asyncio.sleep(2 * args.heartbeat)
        memory = (rss_bytes([hub.pid]) - before) / max(1, fleet.connected)
        cpu0, t0 = cpu_seconds(hub.pid), time.monotonic()
        await asyncio.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(hub.pid), time.monotonic()
        beats = fleet.connected * (t1 - t0) / args.heartbeat
        share = (cpu1 - cpu0) / (t1 - t0)
        print(f"{fleet.connected} idle subscribers, heartbeat every {args.heartbeat:g} s: hub CPU "
              f"{cpu1 - cpu0:.2f} s in {t1 - t0:.1f} s ({share:.1%} of a core); "
              f"~{beats:,.0f} heartbeats due -> at most {(cpu1 - cpu0) / beats * 1e6:.1f} us each; "
              f"{memory / 1024:.1f} KiB resident per subscriber; load {load_average()}")
    finally:
        await fleet.stop()
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10000)
    parser.add_argument("--heartbeat", type=float, default=15.0, help="heartbeat_secs")
    parser.add_argument("--seconds", type=float, default=30.0, help="the measured window")
    args = parser.parse_args()
    if args.subscribers <= 0 or args.heartbeat <= 0 or args.seconds <= 0:
        parser.error("every figure must be positive")
    pin_self(CLIENT_CPU)
    print(f"machine: {machine_facts()}; load average {load_average()}; hub on CPU {SERVER_CPU}, "
          f"clients on CPU {CLIENT_CPU}")
    asyncio.run(bench(args))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

"""Benchmark live fan-out: one alert to N SSE subscribers, the hub against nginx + nchan.

Run: ``python bench/bench_fanout.py [--quick] [--sizes 1000,5000,10000] [--alerts 20]``
(nchan needs Debian's ``nginx`` and ``libnginx-mod-nchan``; ``--no-nchan`` skips it).

For each N, in the same run, on the same machine, with the same clients:

* the servers run pinned to core 0: ``tocsin serve --demo`` (SQLite, fsync on)
  and nginx with one worker and nchan (a fresh channel per N);
* N subscribers connect to each server from client processes pinned to core 1
  (``bench/_sse_clients.py``, at most 2,500 connections each, each process from
  its own source address: 127.0.1.2, .3, ... for the hub, 127.0.2.x for nchan);
* then alerts are published one at a time, alternating between the servers
  (hub, nchan, hub, ...) so that anything else the machine does weighs on both
  alike: to the hub a signed ~1.5 KiB CAP alert for Kyiv
  (``POST /api/v1/alerts``; its live frame is about 1 KiB), to nchan a 1 KiB
  message (``POST /pub``). The figure is the time from sending that request
  to the moment the *last* of the N subscribers has the message, on the
  machine-wide monotonic clock; the next alert goes once every subscriber has
  the previous one (or after ``--timeout`` seconds).

Reported per server and N: p50 / p99 / max of that time (nearest rank, so with
20 alerts p99 is the largest), the publish request's own latency (the hub's
includes verify + fsync), the first subscriber's receipt, and how many of the
N x alerts deliveries arrived. Then the hub / nchan ratios. Exit status 1 if
any delivery is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from bench_issue import (
    CLIENT_CPU,
    KYIV,
    SERVER_CPU,
    HubServer,
    free_port,
    issue_body,
    machine_facts,
    percentile,
    pin_self,
)

HERE = Path(__file__).resolve().parent
CLIENTS_PER_PROCESS = 2500
NCHAN_MESSAGE_BYTES = 1024
NCHAN_MODULE = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")
SERVER_START_TIMEOUT_SECS = 30.0
DRAIN_TIMEOUT_SECS = 60.0
PROFILER_ATTACH_SECS = 1.0
SETTLE_SECS = 1.0


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of ``pids`` together (VmRSS), in bytes."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def pss_bytes(pids: list[int]) -> int:
    """Proportional set size of ``pids`` together: shared pages split among their sharers.

    Fairer than RSS for several processes sharing memory (nginx workers map one shared
    zone; each worker's RSS counts the pages it touched of it).
    """
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def load_average() -> str:
    """The machine's 1/5/15-minute load averages, as /proc/loadavg says them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


@dataclass
class RunResult:
    """One server at one N."""

    server: str
    subscribers: int
    alerts: int
    connected: int = 0
    delivered: int = 0
    last_ms: list[float] = field(default_factory=list)  # request sent -> last subscriber
    first_ms: list[float] = field(default_factory=list)  # request sent -> first subscriber
    ack_ms: list[float] = field(default_factory=list)  # request sent -> response (201)
    connect_secs: float = 0.0
    # resident memory of the server's processes with everyone connected, minus before, over N
    rss_per_subscriber: float = 0.0
    pss_per_subscriber: float = 0.0  # the same by proportional set size (see pss_bytes)
    load_average: str = ""  # /proc/loadavg when the subscribers had connected

    def line(self) -> str:
        if not self.last_ms:
            return f"{self.server:<6} {self.subscribers:>6}  no alert measured"
        return (f"{self.server:<6} {self.subscribers:>6}  {percentile(self.last_ms, 50):8.1f}  "
                f"{percentile(self.last_ms, 99):8.1f}  {max(self.last_ms):8.1f}  "
                f"{percentile(self.ack_ms, 50):7.1f}  {percentile(self.first_ms, 50):8.1f}  "
                f"{self.delivered:>7}/{self.subscribers * self.alerts:<7}  {self.connect_secs:6.1f}"
                f"  {self.rss_per_subscriber / 1024:6.1f} KiB/sub (PSS "
                f"{self.pss_per_subscriber / 1024:.1f})  load {self.load_average}")


class Nchan:
    """nginx with the nchan module, in the foreground, on a temp prefix.

    One worker by default (``master_process off``); with ``workers`` > 1 a master and that
    many workers, each with its own listening socket (``reuseport``: the kernel spreads the
    connections as it does over the hub's edges), each allowed 20,000 open files.
    """

    def __init__(self, cpu: str = SERVER_CPU, workers: int = 1) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="tocsin-nchan-"))
        self.port = free_port()
        self.cpu = cpu
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists() or not NCHAN_MODULE.exists():
            raise RuntimeError("nginx or the nchan module is missing: "
                               "apt-get install -y nginx libnginx-mod-nchan (or pass --no-nchan)")
        text = (HERE / "nchan" / "nginx.conf.template").read_text()
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / sub).mkdir()
        config = self.prefix / "nginx.conf"
        many = self.workers > 1
        for name, value in (("PREFIX", self.prefix), ("PORT", self.port),
                            ("MODULE", NCHAN_MODULE), ("NOFILE", 20000),
                            ("WORKERS", self.workers), ("MASTER", "on" if many else "off"),
                            ("REUSEPORT", " reuseport" if many else "")):
            text = text.replace(f"@{name}@", str(value))
        if "@" in text:
            raise RuntimeError("nginx.conf.template has a placeholder bench_fanout.py does not fill")
        config.write_text(text)
        command = [nginx, "-p", str(self.prefix), "-c", str(config), "-e",
                   str(self.prefix / "error.log")]
        if shutil.which("taskset"):
            command = ["taskset", "-c", self.cpu, *command]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.prefix / "error.log")
                raise RuntimeError("nginx exited: " + (log.read_text() if log.exists() else ""))
            try:
                # Publisher GET on an unknown channel answers 404 once nginx listens.
                httpx.get(f"{self.url}/pub?id=probe", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        shutil.rmtree(self.prefix, ignore_errors=True)


class ClientFleet:
    """The subscriber processes of one run and the receipts they report."""

    def __init__(self, per_process: int = CLIENTS_PER_PROCESS,
                 ready_timeout: float = 300.0) -> None:
        self.per_process = per_process  # connections per client process (< its file limit)
        self.ready_timeout = ready_timeout  # seconds for one process to have all connected
        self.procs: list[asyncio.subprocess.Process] = []
        self.ready: list[tuple[int, int]] = []
        self.got: dict[int, dict[int, tuple[int, int, int]]] = {}
        self.changed = asyncio.Event()
        self.readers: list[asyncio.Task[None]] = []

    async def start(self, port: int, path: str, total: int, source_net: int) -> None:
        processes = max(1, math.ceil(total / self.per_process))
        shares = [total // processes + (1 if i < total % processes else 0) for i in range(processes)]
        pin = ["taskset", "-c", CLIENT_CPU] if shutil.which("taskset") else []
        for index, share in enumerate(shares):
            proc = await asyncio.create_subprocess_exec(
                *pin, sys.executable, str(HERE / "_sse_clients.py"), "--port", str(port),
                "--path", path, "--count", str(share), "--source", f"127.0.{source_net}.{2 + index}",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )
            self.procs.append(proc)
        for proc in self.procs:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(),
                                           self.ready_timeout)).decode().split()
            if len(line) != 3 or line[0] != "READY":
                raise RuntimeError(f"client process said {line!r} instead of READY")
            self.ready.append((int(line[1]), int(line[2])))
        self.readers = [asyncio.create_task(self._read(i, p)) for i, p in enumerate(self.procs)]

    @property
    def connected(self) -> int:
        return sum(ok for ok, _ in self.ready)

    async def _read(self, index: int, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            parts = line.decode().split()
            if len(parts) == 5 and parts[0] == "GOT":
                seq, count, first, last = (int(p) for p in parts[1:])
                self.got.setdefault(seq, {})[index] = (count, first, last)
                self.changed.set()

    async def wait_for(self, seq: int, timeout: float) -> list[tuple[int, int, int]]:
        """Every process's (count, first_ns, last_ns) for ``seq``, asking after ``timeout``."""
        deadline = time.monotonic() + timeout
        asked = False
        while len(self.got.get(seq, {})) < len(self.procs):
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if asked:
                    break
                for index, proc in enumerate(self.procs):
                    if index not in self.got.get(seq, {}) and proc.stdin is not None:
                        proc.stdin.write(f"ASK {seq}\n".encode())
                asked, deadline = True, time.monotonic() + 5.0
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return list(self.got.get(seq, {}).values())

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.stdin is not None and proc.returncode is None:
                proc.stdin.write(b"QUIT\n")
                proc.stdin.close()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self.readers:
            task.cancel()


async def _hub_subscribers(http: httpx.AsyncClient, url: str) -> float:
    text = (await http.get(url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith("tocsin_subscribers_connected "):
            return float(line.split()[1])
    return -1.0


async def start_profiler(pid: int, out: Path) -> asyncio.subprocess.Process | None:
    """Sample the hub with py-spy (raw collapsed stacks) until :func:`stop_profiler`."""
    spy = shutil.which("py-spy")
    if spy is None:
        print("warning: py-spy not installed; no profile taken", file=sys.stderr)
        return None
    proc = await asyncio.create_subprocess_exec(
        spy, "record", "--pid", str(pid), "--rate", "1000", "--format", "raw", "--nonblocking",
        "--output", str(out), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(PROFILER_ATTACH_SECS)  # py-spy samples only once attached
    return proc


async def stop_profiler(proc: asyncio.subprocess.Process | None) -> None:
    if proc is not None and proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@dataclass
class Target:
    """One server under test at one N: its subscribers, and how to publish to it."""

    name: str
    url: str
    port: int
    hub: HubServer | None  # None: nchan
    source_net: int  # client processes connect from 127.0.<source_net>.2, .3, ...
    pid: int = 0  # the server's root process (its tree's memory is measured); 0: not measured
    channel: str = field(default_factory=lambda: f"bench-{secrets.token_hex(6)}")
    fleet: ClientFleet = field(default_factory=ClientFleet)

    @property
    def path(self) -> str:
        if self.hub is not None:
            return f"/api/v1/stream?regions={KYIV}"
        return f"/sub?id={self.channel}"  # nchan: a fresh channel per run

    def message(self, seq: int) -> tuple[str, bytes, str]:
        """URL, body and content type of message ``seq`` (signed here, before the clock starts)."""
        if self.hub is not None:
            body = issue_body(self.hub.signer(), headline=_headline(seq))
            return self.url + "/api/v1/alerts", body, "application/json"
        return self.url + f"/pub?id={self.channel}", _nchan_message(seq), "text/plain"


async def run_size(targets: list[Target], n: int, alerts: int, first_seq: int, timeout: float,
                   profile_dir: Path | None = None,
                   on_connected: Callable[[], None] | None = None) -> list[RunResult]:
    """Connect ``n`` subscribers to every target, then publish alerts alternately, timing each.

    Alternating alert by alert (hub, nchan, hub, nchan, ...) means that whatever
    else the machine is doing at the time weighs on both servers alike.
    """
    results = [RunResult(t.name, n, alerts) for t in targets]
    seq = first_seq
    profiler: asyncio.subprocess.Process | None = None
    async with httpx.AsyncClient(timeout=30.0) as http:
        try:
            trees = [process_tree(t.pid) if t.pid else [] for t in targets]
            before = [rss_bytes(tree) for tree in trees]
            before_pss = [pss_bytes(tree) for tree in trees]
            for target, result in zip(targets, results, strict=True):
                t0 = time.monotonic()
                await target.fleet.start(target.port, target.path, n, target.source_net)
                result.connect_secs = time.monotonic() - t0
                result.connected = target.fleet.connected
            await asyncio.sleep(SETTLE_SECS)  # the last streams' first writes are done
            for tree, low, low_pss, target, result in zip(trees, before, before_pss, targets,
                                                           results, strict=True):
                if target.pid:  # a process forked meanwhile (an nginx worker) counts too
                    tree = sorted(set(tree) | set(process_tree(target.pid)))
                    result.rss_per_subscriber = (rss_bytes(tree) - low) / max(1, result.connected)
                    result.pss_per_subscriber = ((pss_bytes(tree) - low_pss)
                                                 / max(1, result.connected))
                result.load_average = load_average()
            if on_connected is not None:  # e.g. the servers' memory with everyone connected
                on_connected()
            hubs = [t.hub for t in targets if t.hub is not None]
            if hubs and profile_dir is not None:
                profiler = await start_profiler(hubs[0].pid, profile_dir / f"hub-{n}.txt")
            for _ in range(alerts):
                for target, result in zip(targets, results, strict=True):
                    url, body, content_type = target.message(seq)
                    sent = time.monotonic_ns()
                    response = await http.post(url, content=body,
                                               headers={"content-type": content_type})
                    acked = time.monotonic_ns()
                    if response.status_code not in (200, 201, 202):
                        raise RuntimeError(f"{target.name} publish answered "
                                           f"{response.status_code}: {response.text[:300]}")
                    reports = await target.fleet.wait_for(seq, timeout)
                    got = sum(count for count, _, _ in reports)
                    result.delivered += got
                    result.ack_ms.append((acked - sent) / 1e6)
                    if got:
                        result.last_ms.append((max(last for _, _, last in reports) - sent) / 1e6)
                        result.first_ms.append(
                            (min(first for c, first, _ in reports if c) - sent) / 1e6)
                    seq += 1
        finally:
            await stop_profiler(profiler)
            for target in targets:
                await target.fleet.stop()
        for target in targets:
            if target.hub is not None:  # let the hub forget the closed streams
                deadline = time.monotonic() + DRAIN_TIMEOUT_SECS
                while (time.monotonic() < deadline
                       and await _hub_subscribers(http, target.url) > 0):
                    await asyncio.sleep(0.2)
    return results


def _headline(seq: int) -> str:
    # Padded so the hub's live frame (summary JSON, not the description) is about 1 KiB.
    return f"Air raid alert BENCHSEQ={seq}; " + "Go to the nearest shelter now. " * 5


def _nchan_message(seq: int) -> bytes:
    head = f'{{"headline":"Air raid alert BENCHSEQ={seq};","pad":"'.encode()
    return head + b"x" * (NCHAN_MESSAGE_BYTES - len(head) - 2) + b'"}'


async def bench(args: argparse.Namespace) -> list[RunResult]:
    results: list[RunResult] = []
    env = {"TOCSIN_MAX_SUBSCRIPTIONS_PER_CLIENT": "100000",
           # Idle heartbeats off for the run's length (nchan sends none by default either).
           "TOCSIN_HEARTBEAT_SECS": "3600"}
    for assignment in args.hub_env:
        key, _, value = assignment.partition("=")
        env[key] = value
    nchan = None if args.no_nchan else Nchan()
    hub = HubServer(env=env)
    seq = 1
    try:
        hub.start()
        if nchan is not None:
            nchan.start()
        for n in args.sizes:
            targets = [Target("hub", hub.url, hub.port, hub, source_net=1, pid=hub.pid)]
            if nchan is not None:
                targets.append(Target("nchan", nchan.url, nchan.port, None, source_net=2,
                                      pid=nchan.pid))
            for result in await run_size(targets, n, args.alerts, seq, args.timeout,
                                         args.profile_hub):
                results.append(result)
                print(result.line(), flush=True)
            seq += args.alerts * len(targets)
    finally:
        hub.stop()
        if nchan is not None:
            nchan.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=1000 and 5 alerts only")
    parser.add_argument("--sizes", default="1000,5000,10000", help="subscriber counts")
    parser.add_argument("--alerts", type=int, default=20, help="alerts per server and N")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for every subscriber to get one alert")
    parser.add_argument("--no-nchan", action="store_true", help="measure the hub only")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--hub-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the hub (repeatable; for experiments)")
    parser.add_argument("--profile-hub", type=Path, metavar="DIR",
                        help="sample the hub with py-spy while it publishes (DIR/hub-N.txt, "
                             "collapsed stacks); the figures of such a run are not comparable")
    args = parser.parse_args()
    args.sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        args.alerts = 5
    if args.alerts <= 0 or not args.sizes or min(args.sizes) <= 0:
        parser.error("--alerts and every size must be positive")
    if max(args.sizes) > CLIENTS_PER_PROCESS * 250:
        parser.error("too many subscribers for 250 source addresses")

    if args.profile_hub is not None:
        args.profile_hub.mkdir(parents=True, exist_ok=True)
    pin_self(CLIENT_CPU)
    print(f"machine: {machine_facts()}; load average {load_average()}")
    print(f"servers on CPU {SERVER_CPU}; {CLIENTS_PER_PROCESS} subscribers per client process "
          f"on CPU {CLIENT_CPU}; {args.alerts} alerts per server and N")
    print("times in ms from the publish request to: last subscriber (p50, p99, max), "
          "publish response (p50), first subscriber (p50)")
    print(f"{'server':<6} {'N':>6}  {'last p50':>8}  {'last p99':>8}  {'last max':>8}  "
          f"{'ack p50':>7}  {'first50':>8}  {'delivered':>15}  {'conn s':>6}  memory")
    results = asyncio.run(bench(args))
    by_n: dict[int, dict[str, RunResult]] = {}
    for result in results:
        by_n.setdefault(result.subscribers, {})[result.server] = result
    print("\nratio hub / nchan of the time to the last subscriber (below 1: the hub is faster)")
    for n, pair in by_n.items():
        hub, nchan = pair.get("hub"), pair.get("nchan")
        if hub and nchan and hub.last_ms and nchan.last_ms:
            ratios = [percentile(hub.last_ms, q) / percentile(nchan.last_ms, q) for q in (50, 99)]
            ratios.append(max(hub.last_ms) / max(nchan.last_ms))
            memory = (f"  memory per subscriber {hub.rss_per_subscriber / nchan.rss_per_subscriber:.2f}"
                      if nchan.rss_per_subscriber > 0 else "")
            print(f"N={n:>6}: p50 {ratios[0]:.2f}  p99 {ratios[1]:.2f}  max {ratios[2]:.2f}{memory}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_facts(),
                                         "results": [asdict(r) for r in results]}, indent=1))
    missing = [r for r in results if r.delivered < r.subscribers * r.alerts]
    if missing:
        print("NOT ALL DELIVERED: " + ", ".join(f"{r.server} N={r.subscribers}" for r in missing))
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

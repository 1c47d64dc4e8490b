"""Benchmark issuing against a real hub: issue request -> durable 201, with fsync on.

Run: ``python bench/bench_issue.py [--quick] [--alerts 300] [--concurrency 1,8,32]``.

A ``tocsin serve --demo`` child process (SQLite in WAL mode, ``synchronous=FULL``:
every 201 follows an fsync) is pinned to core 0; this process, the client,
to core 1. Every alert is composed and signed *before* the clock starts, so
the figures are the hub's: parse, verify the signature, authorise, append to
the log and store, fsync, answer. At each concurrency level C, C requests
are kept in flight over C keep-alive connections; latency is per request,
throughput is alerts / wall time of the whole level.

This module also holds :class:`HubServer` and :func:`issue_body`, which
``bench_fanout.py`` reuses.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import httpx
import msgspec

from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.demo import demo_key_path
from tocsin.trust.note import Signer

KYIV = "UA80000000000093317"
ISSUER = "demo-air-force"
HUB_START_TIMEOUT_SECS = 60.0
SERVER_CPU = "0"
CLIENT_CPU = "1"
PROFILER_ATTACH_SECS = 1.0


def machine_facts() -> str:
    """One line naming what the figures were measured on."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (with 20 samples, p99 is the maximum)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used (all its threads): what the hub spent, whatever
    else the machine was doing (wall-clock latency on a shared machine is the machine's too)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pin_self(cpu: str) -> None:
    """Pin this process to ``cpu`` (the client core), if the machine has it."""
    try:
        os.sched_setaffinity(0, {int(cpu)})
    except (OSError, ValueError) as exc:
        print(f"warning: cannot pin the client to CPU {cpu}: {exc}", file=sys.stderr)


class HubServer:
    """A ``tocsin serve --demo`` child pinned to one core, on a fresh data directory."""

    def __init__(self, *, env: dict[str, str] | None = None, cpu: str = SERVER_CPU,
                 workdir: Path | None = None, args: Sequence[str] = ()) -> None:
        # A disk-backed directory (not tmpfs), so fsync costs what it costs.
        self.root = Path(tempfile.mkdtemp(prefix="tocsin-bench-", dir=workdir or "/var/tmp"))
        self.data_dir = self.root / "data"
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.cpu = cpu
        self.args = list(args)  # extra ``tocsin serve`` arguments (e.g. ``--workers 2``)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> HubServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        command = [sys.executable, "-m", "tocsin", "serve", "--demo", "--data-dir",
                   str(self.data_dir), "--port", str(self.port), "--log-level", "warning",
                   *self.args]
        if shutil.which("taskset"):
            command = ["taskset", "-c", self.cpu, *command]
        log = (self.root / "hub.log").open("wb")
        self.proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + HUB_START_TIMEOUT_SECS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n"
                                   + (self.root / "hub.log").read_text(errors="replace"))
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"hub did not answer /healthz within {HUB_START_TIMEOUT_SECS:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)

    def signer(self, issuer_id: str = ISSUER) -> Signer:
        return Signer.from_skey(demo_key_path(self.data_dir, issuer_id).read_text().strip())


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` with py-spy (raw collapsed stacks into ``out``) until stopped."""
    spy = shutil.which("py-spy")
    if spy is None:
        print("warning: py-spy not installed; no profile taken", file=sys.stderr)
        return None
    proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "1000", "--format", "raw",
                             "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(PROFILER_ATTACH_SECS)  # py-spy samples only once attached
    return proc


def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def issue_body(signer: Signer, *, headline: str, description_bytes: int = 700) -> bytes:
    """The JSON body of one signed air-raid alert for Kyiv (CAP about 1.5 KiB with the defaults)."""
    alert = compose_alert(AlertFacts(
        issuer_id=signer.name, kind="air-raid", areas=(KYIV,), headline=headline,
        description="Benchmark alert. " + "x" * max(0, description_bytes - 17),
        instruction="Go to the nearest shelter.", expires_in=timedelta(hours=1),
    ))
    cap = to_xml(alert)
    return msgspec.json.encode(issue_request(cap, sign_cap(cap, signer)))


async def _issue_level(url: str, bodies: list[bytes], concurrency: int) -> tuple[list[float], float]:
    """Issue every body with ``concurrency`` in flight; per-request ms and wall seconds."""
    latencies: list[float] = []
    pending = iter(bodies)
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as http:
        await http.get("/healthz")

        async def worker() -> None:
            for body in pending:
                t0 = time.perf_counter()
                response = await http.post("/api/v1/alerts", content=body, headers=headers)
                elapsed = time.perf_counter() - t0
                if response.status_code != 201:
                    raise RuntimeError(f"hub answered {response.status_code}: {response.text[:300]}")
                latencies.append(elapsed * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 alerts per level")
    parser.add_argument("--alerts", type=int, default=300, help="alerts per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32",
                        help="comma-separated requests in flight (default 1,8,32)")
    parser.add_argument("--profile-hub", type=Path, metavar="FILE",
                        help="sample the hub with py-spy while measuring (collapsed stacks)")
    parser.add_argument("--warmup", type=int, default=20, help="alerts issued before measuring")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    count = 100 if args.quick else args.alerts
    if count <= 0 or not levels or min(levels) <= 0:
        parser.error("--alerts and every --concurrency level must be positive")

    pin_self(CLIENT_CPU)
    print(f"machine: {machine_facts()}")
    print(f"hub on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}; SQLite WAL, synchronous=FULL "
          f"(fsync before every 201); {count} alerts per level")
    with HubServer() as hub:
        signer = hub.signer()
        body_size = len(issue_body(signer, headline="size probe"))
        print(f"request body {body_size} bytes (CAP + signed statement, base64 in JSON)")
        warm = [issue_body(signer, headline=f"warm-up {i}") for i in range(args.warmup)]
        asyncio.run(_issue_level(hub.url, warm, 1))
        profiler = start_profiler(hub.pid, args.profile_hub) if args.profile_hub else None
        print(f"{'in flight':>9}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  {'alerts/s':>9}  "
              f"{'hub CPU ms/alert':>16}")
        for level in levels:
            # Signed just before each level, so every ``sent`` is fresh when issued.
            bodies = [issue_body(signer, headline=f"level {level} alert {i}") for i in range(count)]
            cpu = cpu_seconds(hub.pid)
            latencies, wall = asyncio.run(_issue_level(hub.url, bodies, level))
            cpu = cpu_seconds(hub.pid) - cpu
            print(f"{level:>9}  {percentile(latencies, 50):7.2f}  {percentile(latencies, 99):7.2f}  "
                  f"{max(latencies):7.2f}  {count / wall:9.0f}  {cpu * 1000 / count:16.2f}")
        stop_profiler(profiler)


if __name__ == "__main__":
    main()

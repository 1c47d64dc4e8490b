"""The CPU one issued alert costs the hub, in process: ``Issuer.prepare`` and the store's append.

Run: ``python bench/bench_write_cost.py [--alerts 300]`` (``PYTHONPATH=OTHER/src`` to measure
another tree's code with the same script).

``Issuer.prepare`` verifies, authorises and makes the record (since issue 13 also the check's
search text), on a verify worker thread in the hub; ``append_batch([record])`` is the writer's
transaction for one alert (the SQLite store, WAL, ``synchronous=FULL``: one fsync each). Both
are timed with the thread's own CPU clock (``time.thread_time``), so other work on a shared
machine changes the figures far less than it changes wall-clock latency: what the issue path
gained or lost shows even when ``bench_issue.py``'s latencies are the machine's. The append's
wall time (fsync included) is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from tocsin.cap import to_xml
from tocsin.client import sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.config import load_settings
from tocsin.demo import build_demo_registry, demo_key_path
from tocsin.regions import default_region_set
from tocsin.runtime import Hub
from tocsin.trust.note import Signer

KYIV = "UA80000000000093317"
WARMUP = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=300)
    args = parser.parse_args()
    regions = default_region_set()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:  # on disk: fsync costs what it costs
        data = Path(tmp) / "data"
        data.mkdir()
        registry = build_demo_registry(data, regions)
        (data / "registry.json").write_bytes(registry)
        hub = Hub(load_settings({"data_dir": data, "demo": True}), registry_bytes=registry,
                  regions=regions)
        signer = Signer.from_skey(demo_key_path(data, "demo-air-force").read_text().strip())
        hub.store.append_registry(hub.registry_bytes)
        signed = []
        for k in range(args.alerts + WARMUP):  # bench_issue.py's alert: Kyiv, ~1.5 KiB of CAP
            cap = to_xml(compose_alert(AlertFacts(
                issuer_id="demo-air-force", kind="air-raid", areas=(KYIV,),
                headline=f"Benchmark alert {k}", description="Benchmark alert. " + "x" * 683,
                instruction="Go to the nearest shelter.", expires_in=timedelta(hours=1))))
            signed.append((cap, sign_cap(cap, signer)))
        prepare, append, wall = [], [], []
        for k, (cap, statement) in enumerate(signed):
            t0 = time.thread_time()
            record, _ = hub.issuer.prepare(cap, statement)
            t1 = time.thread_time()
            w0 = time.perf_counter()
            result = hub.store.append_batch([record])[0]
            w1 = time.perf_counter()
            t2 = time.thread_time()
            if isinstance(result, Exception):
                raise SystemExit(f"alert {k} was not stored: {result}")
            if k >= WARMUP:
                prepare.append((t1 - t0) * 1000)
                append.append((t2 - t1) * 1000)
                wall.append((w1 - w0) * 1000)
        hub.issuer.close()
        hub.store.close()
    print(f"{args.alerts} alerts: prepare CPU p50 {statistics.median(prepare):.3f} ms; append CPU "
          f"p50 {statistics.median(append):.3f} ms; append wall (fsync) p50 "
          f"{statistics.median(wall):.2f} ms; load average {Path('/proc/loadavg').read_text()[:14]}")


if __name__ == "__main__":
    main()

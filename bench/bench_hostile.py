"""Does one hostile alert freeze everyone? ``/healthz`` latency while hostile alerts are posted.

Run: ``python bench/bench_hostile.py [--seconds 20] [--posters 4] [--nice -10] [--src DIR]``.

A ``tocsin serve --demo`` child (pinned to core 0, like the other benchmarks)
is sent, by ``--posters`` concurrent clients for ``--seconds``, a rotation of
hostile alerts, every one signed by a demo issuer's real key so that only the
rules stop them:

* ``circles-2400km``: Kyiv City, 380 areas each with a 2,400 km circle (the
  57 KiB alert of issue 10: refused by the cost budget, 422);
* ``kyiv-polygon-over-lviv``: Kyiv City's geocode plus a polygon over Lviv (403);
* ``oversize``: a 740 KiB alert (413 ``alert_too_large``, refused before anything is parsed);
* ``budget-max-circles``: Defence Intelligence (nationwide), 64 circles of 88 km
  inside Ukraine, the most the budget admits (accepted, 201: the most CPU an
  alert can make the hub spend);
* ``polygon-3000`` and ``polygon-19999``: Air Force polygons of 3,000 and
  19,999 vertices inside Ukraine (accepted, 201).

Meanwhile a prober on its own thread and connection asks ``/healthz`` every
10 ms; its latency (p50, p99, max) is the figure: the target is p99 < 50 ms.
A first phase measures ``/healthz`` with no load, for comparison.

``--src DIR`` runs the hub from another source tree (``PYTHONPATH=DIR``), e.g.
an export of an older commit, to measure the same load before a change.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import msgspec

from bench_issue import CLIENT_CPU, HubServer, machine_facts, percentile, pin_self
from tocsin.cap import to_xml
from tocsin.cap.model import Alert, Area, Circle, Polygon, ValuePair
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.demo import demo_key_path
from tocsin.trust.note import Signer

KYIV = "UA80000000000093317"
PROBE_INTERVAL_SECS = 0.01
POOL = 40  # distinct alerts of each kind, composed and signed before the clock starts


def _alert(issuer: str, areas: list[Area], kind: str, **facts: object) -> Alert:
    base = compose_alert(AlertFacts(issuer_id=issuer, kind=kind, areas=(KYIV,),
                                    expires_in=timedelta(hours=1), **facts))  # type: ignore[arg-type]
    return msgspec.structs.replace(base, info=(msgspec.structs.replace(base.info[0],
                                                                       area=tuple(areas)),))


def _circle(lat: float, lon: float, km: float) -> Circle:
    return Circle(lat=lat, lon=lon, radius_km=km, text=f"{lat},{lon} {km:g}")


def _ring(lat: float, lon: float, n: int, radius_deg: float) -> Polygon:
    points = [(round(lat + radius_deg * 0.65 * math.sin(2 * math.pi * k / n), 6),
               round(lon + radius_deg * math.cos(2 * math.pi * k / n), 6)) for k in range(n)]
    points.append(points[0])
    return Polygon(points=tuple(points), text=" ".join(f"{a},{b}" for a, b in points))


def _kyiv() -> Area:
    return Area(area_desc="Київ", geocode=(ValuePair(value_name="KATOTTG", value=KYIV),))


HOSTILE: dict[str, tuple[str, Callable[[], Alert]]] = {
    "circles-2400km": ("demo-kyiv-city", lambda: _alert("demo-kyiv-city", [
        Area(area_desc=f"Київ {n}", geocode=_kyiv().geocode, circle=(_circle(50.45, 30.52, 2400),))
        for n in range(380)], "air-raid")),
    "kyiv-polygon-over-lviv": ("demo-kyiv-city", lambda: _alert("demo-kyiv-city", [
        Area(area_desc="Київ", geocode=_kyiv().geocode, polygon=(_ring(49.84, 24.03, 8, 0.05),))],
        "air-raid")),
    "oversize": ("demo-air-force", lambda: _alert("demo-air-force", [_kyiv()], "air-raid",
                                                  description="Увага. " * 63_000)),
    "budget-max-circles": ("demo-defence-intelligence", lambda: _alert(
        "demo-defence-intelligence",
        [Area(area_desc=f"c{n}", circle=(_circle(48 + (n % 4) * 0.5, 24 + n * 0.25, 88),))
         for n in range(64)], "threat-notice")),
    "polygon-3000": ("demo-air-force", lambda: _alert("demo-air-force", [
        Area(area_desc="p", polygon=(_ring(49.0, 31.0, 3000, 1.5),))], "air-raid")),
    "polygon-19999": ("demo-air-force", lambda: _alert("demo-air-force", [
        Area(area_desc="p", polygon=(_ring(49.0, 31.0, 19_999, 1.2),))], "air-raid")),
}


def _pool(hub: HubServer) -> list[tuple[str, dict[str, str]]]:
    signers = {i: Signer.from_skey(demo_key_path(hub.data_dir, i).read_text().strip())
               for i in {issuer for issuer, _ in HOSTILE.values()}}
    bodies: list[tuple[str, dict[str, str]]] = []
    for _ in range(POOL):
        for name, (issuer, build) in HOSTILE.items():
            cap = to_xml(build())
            bodies.append((name, issuer_body(cap, signers[issuer])))
    return bodies


def issuer_body(cap: bytes, signer: Signer) -> dict[str, str]:
    return issue_request(cap, sign_cap(cap, signer))


class Prober(threading.Thread):
    """``GET /healthz`` every 10 ms on one keep-alive connection; latencies in seconds."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[float] = []
        self.failures = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop_event.is_set():
                start = time.perf_counter()
                try:
                    ok = http.get(self.url + "/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - start
                if ok:
                    self.samples.append(elapsed)
                else:
                    self.failures += 1
                self.stop_event.wait(max(0.0, PROBE_INTERVAL_SECS - elapsed))


def _probe(url: str, seconds: float, load: Callable[[], None] | None) -> Prober:
    prober = Prober(url)
    prober.start()
    if load is None:
        time.sleep(seconds)  # the idle phase: nothing else to wait for
    else:
        load()
    prober.stop_event.set()
    prober.join()
    return prober


async def _post_all(url: str, bodies: list[tuple[str, dict[str, str]]], posters: int,
                    seconds: float, outcomes: Counter[str], server_side: list[float]) -> None:
    deadline = time.monotonic() + seconds
    queue = list(bodies)

    async def poster(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline and queue:
            name, body = queue.pop(0)
            start = time.perf_counter()
            try:
                response = await http.post(url + "/api/v1/alerts", json=body)
            except httpx.HTTPError as exc:  # a hub that drops a request is a finding too
                outcomes[f"{name} -> no answer ({type(exc).__name__})"] += 1
                continue
            server_side.append(time.perf_counter() - start)
            outcomes[f"{name} -> {response.status_code}"] += 1

    async with httpx.AsyncClient(timeout=120) as http:
        await asyncio.gather(*(poster(http) for _ in range(posters)))


def _report(label: str, prober: Prober) -> None:
    s = prober.samples
    print(f"{label:28s} /healthz n={len(s):5d}  p50 {percentile(s, 50) * 1000:7.1f} ms  "
          f"p99 {percentile(s, 99) * 1000:7.1f} ms  max {max(s) * 1000:7.1f} ms  "
          f"failures {prober.failures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--posters", type=int, default=4)
    parser.add_argument("--only", action="append", choices=sorted(HOSTILE), default=None,
                        help="post only these kinds of hostile alert (repeatable)")
    parser.add_argument("--hub-cpus", default="0",
                        help="taskset CPU list for the hub (default core 0, like the other benchmarks)")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the hub and this client at this nice value (negative needs root): "
                             "on a shared machine, measures the hub rather than its neighbours")
    parser.add_argument("--src", type=Path, default=None,
                        help="run the hub from this source tree (PYTHONPATH) instead")
    args = parser.parse_args()
    pin_self(CLIENT_CPU)
    # Measure what the rulebook costs, not the per-client limit on refused writes (which would
    # answer most of these posts with a cheap 429 after the first 30).
    env = {"TOCSIN_FAILED_WRITE_BURST": "1000000",
           **({"PYTHONPATH": str(args.src.resolve())} if args.src else {})}
    print(machine_facts())
    print("load average (1, 5, 15 min) at start: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    print(f"hub from {args.src or 'this checkout'}; {args.posters} posters for {args.seconds:.0f} s; "
          f"nice {args.nice}; hub on CPU(s) {args.hub_cpus}")
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # threads started later inherit it
    with HubServer(env=env, cpu=args.hub_cpus) as hub:
        if args.nice:
            for task in Path(f"/proc/{hub.pid}/task").iterdir():  # nice is per thread on Linux
                os.setpriority(os.PRIO_PROCESS, int(task.name), args.nice)
        bodies = [b for b in _pool(hub) if args.only is None or b[0] in args.only]
        sizes = {name: len(body["cap"]) * 3 // 4 for name, body in bodies}
        print("hostile CAP sizes: " + ", ".join(f"{n} {b / 1024:.0f} KiB" for n, b in sizes.items()))
        _report("idle", _probe(hub.url, min(5.0, args.seconds), None))
        outcomes: Counter[str] = Counter()
        posts: list[float] = []
        loaded = _probe(hub.url, args.seconds, lambda: asyncio.run(
            _post_all(hub.url, bodies, args.posters, args.seconds, outcomes, posts)))
        _report("under hostile posts", loaded)
        print(f"posts: {len(posts)}, p50 {percentile(posts, 50) * 1000:.0f} ms, "
              f"max {max(posts) * 1000:.0f} ms")
        for outcome, count in sorted(outcomes.items()):
            print(f"  {outcome}: {count}")


if __name__ == "__main__":
    main()

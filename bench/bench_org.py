"""Organisations (issue 17): a check-in request to N people and N answers.

In one process: an org store on disk (``synchronous=FULL``), the org service with the real
SMS gateway channel posting over HTTP to a local receiver (uvicorn, 127.0.0.1), N people
each with a phone number. We measure

* **send**: from the request until every SMS was accepted by the gateway (signing, N
  personal tokens stored hashed, N deliveries queued and sent, results stored);
* **answers**: N answers submitted at once through the service (group commit), until
  every one is acknowledged as recorded;
* **dashboard latency**: while answers arrive, the time from an answer being recorded to
  a live listener being woken and the dashboard JSON for the changed people being built.

    python bench/bench_org.py            # N = 10,000
    python bench/bench_org.py --n 1000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tocsin.org.channels import SmsGateway
from tocsin.org.model import Person, Place
from tocsin.org.service import Audience, OrgService
from tocsin.org.signing import new_signer
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.regions import region_set_for
from tocsin.testing import serve_asgi

KYIV = "UA80000000000093317"


async def run(n: int, directory: Path, url: str, received: list[str]) -> None:
    store = OrgStore(directory / FILE_NAME)
    org, _, _ = store.create_org("Bench", new_signer, "a@a.org")
    store.save_people(org.id, [Person(id="", org_id="", ref=str(i), name=f"P{i}", language="uk",
                                      channels={"sms": f"+38050{i:07d}"}, places=(Place("home", KYIV),))
                               for i in range(n)], "admin")
    service = OrgService(store, region_set_for(None), base_url="https://hub",
                         channels=[SmsGateway(url, None, frozenset({"127.0.0.1"}))], workers=64)
    await service.start()
    try:
        started = time.perf_counter()
        message = await service.send(org, "admin", texts={"uk": "Залишайтеся в укритті"},
                                     audience=Audience(everyone=True), checkin=True)
        stored = time.perf_counter()
        while len(received) < n or any(s == "queued" for d in store.deliveries(org.id, message.id).values()
                                       for s in d.values()):
            await asyncio.sleep(0.05)
        sent = time.perf_counter()
        print(f"send: signed + {n} tokens stored {stored - started:.2f} s; all {n} SMS accepted by the "
              f"gateway and recorded {sent - started:.2f} s ({n / (sent - started):,.0f}/s)")
        tokens = [text.rsplit("/", 1)[1] for text in received]
        listener = service.listen(org.id, message.id)
        latencies: list[float] = []

        async def watch() -> None:
            while True:
                await listener.wake.wait()
                woke = time.perf_counter()
                listener.wake.clear()
                changed, listener.changed = listener.changed, set()
                await asyncio.to_thread(service.dashboard, org.id, message.id, changed)
                latencies.append(time.perf_counter() - woke)

        watcher = asyncio.create_task(watch())
        began = time.perf_counter()
        waves = 50  # the answers arrive over a few seconds, as from phones, not all in one tick
        pending = []
        for w in range(waves):
            pending.extend(asyncio.ensure_future(service.answer(message.id, t, "safe", ""))
                           for t in tokens[w::waves])
            await asyncio.sleep(0.02)
        await asyncio.gather(*pending)
        done = time.perf_counter()
        watcher.cancel()
        counts = service.dashboard(org.id, message.id)["counts"]
        assert counts["safe"] == n, counts
        print(f"answers: {n} submitted over {waves} waves, all recorded once each in {done - began:.2f} s "
              f"({n / (done - began):,.0f}/s)")
        p50, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
        print(f"dashboard: {len(latencies)} live updates while answers arrived; from wake-up to the "
              f"changed rows built: p50 {p50:.0f} ms, max {worst:.0f} ms")
    finally:
        await service.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    received: list[str] = []

    async def sms(request: Request) -> JSONResponse:
        body = await request.json()
        received.append(body["text"].rsplit("\n", 1)[1])
        return JSONResponse({"status": "accepted"})

    with serve_asgi(Starlette(routes=[Route("/sms", sms, methods=["POST"])])) as url, \
            tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.n, Path(tmp), url + "/sms", received))


if __name__ == "__main__":
    main()

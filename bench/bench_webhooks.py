"""Webhook throughput (issue 16): one oblast-wide alert to N webhook endpoints.

A real demo hub (``tocsin serve``, pinned to core 0) holds N webhook endpoints on one
local receiver (a bare ``asyncio.Protocol`` HTTP/1.1 server on uvloop, pinned to core 1)
that answers 204 to each message and verifies every 100th with the ``standardwebhooks``
library. Every endpoint wants Lviv oblast; one Air Force alert for the whole oblast is
issued; we measure the time from the issue request until the receiver has the last
message, and the hub's CPU seconds over that time (``/proc/PID/stat``).

Endpoints are written straight into the hub's ``callbacks.sqlite3`` before it starts
(the API would send each a verification request and fsync it).

    python bench/bench_webhooks.py            # N = 2,000
    python bench/bench_webhooks.py --n 500    # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tocsin.callbacks.store import SqliteCallbackStore, new_signing_secret  # noqa: E402
from tocsin.cap import to_xml  # noqa: E402
from tocsin.client import issue_request, sign_cap  # noqa: E402
from tocsin.compose import AlertFacts, compose_alert  # noqa: E402
from tocsin.testing import HubProcess, free_port  # noqa: E402

LVIV_OBLAST = "UA46000000000026241"
CHECK_EVERY = 100


def receiver(port: int, n: int, secret: str) -> None:
    """Answer 204 to every POST; verify every CHECK_EVERY-th; print a line when n arrived."""
    import uvloop
    from standardwebhooks import Webhook

    os.sched_setaffinity(0, {1})
    hook = Webhook(secret)
    state = {"count": 0, "checked": 0, "bad": 0, "first": 0.0, "last": 0.0}
    reply = b"HTTP/1.1 204 No Content\r\n\r\n"

    class Conn(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                lines = self.buf[:end].decode("latin-1").split("\r\n")[1:]
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
                length = int(headers.get("content-length", "0"))
                if len(self.buf) < end + 4 + length:
                    return
                body = self.buf[end + 4:end + 4 + length]
                self.buf = self.buf[end + 4 + length:]
                state["count"] += 1
                now = time.time()
                if state["count"] == 1:
                    state["first"] = now
                if state["count"] % CHECK_EVERY == 0:
                    try:
                        data = hook.verify(body, headers)
                        state["checked"] += 1
                        if data["data"]["class"] != "threat":
                            state["bad"] += 1
                    except Exception:
                        state["bad"] += 1
                self.t.write(reply)  # type: ignore[attr-defined]
                if state["count"] == n:
                    state["last"] = now
                    print(json.dumps(state), flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Conn, "127.0.0.1", port, backlog=1024)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def seed(data_dir: Path, n: int, port: int, secret: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteCallbackStore(data_dir / "callbacks.sqlite3")
    for i in range(n):
        store.add_webhook(url=f"http://127.0.0.1:{port}/hook/{i}", regions=[LVIV_OBLAST], kinds=[],
                          signing_secret=secret, cursor=0, now=time.time())
    store.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--receiver", nargs=3, metavar=("PORT", "N", "SECRET"))
    args = parser.parse_args()
    if args.receiver:
        receiver(int(args.receiver[0]), int(args.receiver[1]), args.receiver[2])
        return
    os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-", dir="/var/tmp"))
    secret = new_signing_secret()
    port = free_port()
    seed(work / "data", args.n, port, secret)
    rec = subprocess.Popen([sys.executable, __file__, "--receiver", str(port), str(args.n), secret],
                           stdout=subprocess.PIPE, text=True)
    assert rec.stdout is not None
    assert rec.stdout.readline().strip() == "ready"
    hub = HubProcess(work / "data", env={"TOCSIN_CALLBACK_ALLOWED_HOSTS": "127.0.0.1"})
    hub.start()
    assert hub.proc is not None
    os.sched_setaffinity(hub.proc.pid, {0})
    try:
        cap = to_xml(compose_alert(AlertFacts(issuer_id="demo-air-force", kind="air-raid",
                                              areas=(LVIV_OBLAST,))))
        body = issue_request(cap, sign_cap(cap, hub.signer("demo-air-force")))
        cpu0 = cpu_seconds(hub.proc.pid)
        t0 = time.time()
        response = httpx.post(f"{hub.url}/api/v1/alerts", json=body, timeout=30)
        assert response.status_code == 201, response.text
        done = json.loads(rec.stdout.readline())
        cpu = cpu_seconds(hub.proc.pid) - cpu0
        wall = done["last"] - t0
    finally:
        hub.stop()
        rec.kill()
        rec.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"(shared with other work), Python {platform.python_version()}")
    print(f"endpoints: {args.n}, one oblast-wide air-raid alert")
    print(f"last message taken after {wall:.2f} s (issue request -> the receiver's {args.n}th); "
          f"first after {done['first'] - t0:.3f} s")
    print(f"hub CPU: {cpu:.2f} s -> {args.n / cpu:,.0f} messages/s per core; wall rate "
          f"{args.n / wall:,.0f} messages/s")
    print(f"verified with standardwebhooks: {done['checked']}, bad: {done['bad']}")


if __name__ == "__main__":
    main()

"""Web Push throughput (issue 15): one oblast-wide alert to N push subscriptions.

A real demo hub (``tocsin serve``, pinned to core 0) holds N push subscriptions spread
over the hromadas of Lviv oblast; a local push service (a bare ``asyncio.Protocol``
HTTP/1.1 receiver on uvloop, pinned to core 1) answers 201 to each message and decrypts
every 500th with ``http_ece`` (independently of the hub's encryption) to check it. One
Air Force alert for the whole oblast is issued; we measure

* the time from the issue request until the push service has received the last message;
* the hub's CPU seconds over that time (``/proc/PID/stat``), hence messages per second
  per core;
* in the same run, a bare loop of the same primitives per message (a fresh P-256 key,
  ECDH, HKDF-SHA-256, AES-128-GCM: :func:`tocsin.push.crypto.encrypt`) in this process,
  to show how close to the crypto limit the sender runs.

Subscriptions are written straight into the hub's ``push.sqlite3`` before it starts (the
API would fsync each of 100,000). 1,000 distinct device keys are shared by the N
endpoints (every message still gets a fresh ephemeral key and ECDH).

    python bench/bench_push.py            # N = 100,000
    python bench/bench_push.py --n 10000  # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tocsin.cap import to_xml  # noqa: E402
from tocsin.client import issue_request, sign_cap  # noqa: E402
from tocsin.compose import AlertFacts, compose_alert  # noqa: E402
from tocsin.push.store import SqlitePushStore  # noqa: E402
from tocsin.regions import default_region_set  # noqa: E402
from tocsin.testing import HubProcess, free_port  # noqa: E402

LVIV_OBLAST = "UA46000000000026241"
DEVICE_KEYS = 1000
CHECK_EVERY = 500


# -- the push service (a child process) ---------------------------------------------------

def receiver(port: int, n: int, keys_file: str) -> None:
    """Answer 201 to every POST; decrypt every CHECK_EVERY-th; print a line when n arrived."""
    import base64

    import http_ece
    import uvloop
    from cryptography.hazmat.primitives import serialization

    os.sched_setaffinity(0, {1})
    keys = json.loads(Path(keys_file).read_text())
    devices = [(serialization.load_pem_private_key(k.encode(), None), base64.b64decode(a))
               for k, a in keys]
    state = {"count": 0, "checked": 0, "bad": 0, "first": 0.0, "last": 0.0}
    reply = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"

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
                head = self.buf[:end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if len(self.buf) < end + 4 + length:
                    return
                body = self.buf[end + 4:end + 4 + length]
                self.buf = self.buf[end + 4 + length:]
                path = head.split(" ", 2)[1]
                state["count"] += 1
                now = time.time()
                if state["count"] == 1:
                    state["first"] = now
                if state["count"] % CHECK_EVERY == 0 and devices:
                    index = int(path.rsplit("/", 1)[1]) % DEVICE_KEYS
                    key, auth = devices[index]
                    try:
                        payload = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth,
                                                              version="aes128gcm"))
                        state["checked"] += 1
                        if payload.get("class") != "threat":
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


# -- set-up ---------------------------------------------------------------------------

def make_devices(path: Path) -> list[tuple[str, str]]:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pairs = []
    public = []
    for _ in range(DEVICE_KEYS):
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        pairs.append((pem, base64.b64encode(auth).decode()))
        public.append((key.public_key().public_bytes(serialization.Encoding.X962,
                                                     serialization.PublicFormat.UncompressedPoint), auth))
    path.write_text(json.dumps(pairs))
    return [(p.hex(), a.hex()) for p, a in public]


def seed_subscriptions(data_dir: Path, n: int, port: int, public: list[tuple[str, str]]) -> None:
    regions = default_region_set()
    hromadas = [r.code for r in regions.descendants(LVIV_OBLAST) if r.level == "hromada"]
    data_dir.mkdir(parents=True, exist_ok=True)
    SqlitePushStore(data_dir / "push.sqlite3").close()  # the schema
    conn = sqlite3.connect(data_dir / "push.sqlite3")
    rnd = random.Random(15)
    rows = []
    for i in range(n):
        p256dh, auth = public[i % DEVICE_KEYS]
        rows.append((secrets.token_urlsafe(16), f"http://127.0.0.1:{port}/push/{i}",
                     bytes.fromhex(p256dh), bytes.fromhex(auth), rnd.choice(hromadas), "[]",
                     "uk" if i % 4 else "en", os.urandom(32), 0))
    conn.executemany("INSERT INTO push_subscriptions (id, endpoint, p256dh, auth, regions, points, "
                     "language, secret_sha256, last_event) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_loop(count: int, public: list[tuple[str, str]]) -> float:
    """Messages per CPU second of the primitives alone (tocsin.push.crypto.encrypt)."""
    from tocsin.push.crypto import check_keys, encrypt

    payload = b"x" * 900  # about the size of the hub's payload
    keys = [(bytes.fromhex(p), bytes.fromhex(a)) for p, a in public[:100]]
    parsed = [check_keys(p, a) for p, a in keys]
    start = time.process_time()
    for i in range(count):
        p256dh, auth = keys[i % 100]
        encrypt(payload, p256dh, auth, ua_key=parsed[i % 100])
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--receiver", nargs=3, metavar=("PORT", "N", "KEYS"))
    args = parser.parse_args()
    if args.receiver:
        receiver(int(args.receiver[0]), int(args.receiver[1]), args.receiver[2])
        return
    os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="bench-push-", dir="/var/tmp"))
    keys_file = work / "devices.json"
    public = make_devices(keys_file)
    port = free_port()
    seed_subscriptions(work / "data", args.n, port, public)
    service = subprocess.Popen([sys.executable, __file__, "--receiver", str(port), str(args.n),
                                str(keys_file)], stdout=subprocess.PIPE, text=True)
    assert service.stdout is not None
    assert service.stdout.readline().strip() == "ready"
    hub = HubProcess(work / "data", env={"TOCSIN_PUSH_ALLOWED_HOSTS": "127.0.0.1"})
    hub.start()
    assert hub.proc is not None
    os.sched_setaffinity(hub.proc.pid, {0})
    try:
        facts = AlertFacts(issuer_id="demo-air-force", kind="air-raid", areas=(LVIV_OBLAST,),
                           instruction="Негайно прямуйте до укриття")
        cap = to_xml(compose_alert(facts))
        body = issue_request(cap, sign_cap(cap, hub.signer("demo-air-force")))
        cpu0 = cpu_seconds(hub.proc.pid)
        t0 = time.time()
        response = httpx.post(f"{hub.url}/api/v1/alerts", json=body, timeout=30)
        assert response.status_code == 201, response.text
        done = json.loads(service.stdout.readline())
        cpu = cpu_seconds(hub.proc.pid) - cpu0
        wall = done["last"] - t0
    finally:
        hub.stop()
        service.kill()
        service.wait()
        shutil.rmtree(work, ignore_errors=True)  # 100,000 subscriptions and the device keys
    bare = bare_loop(20_000, public)
    rate_core = args.n / cpu
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"(shared with other work), Python {platform.python_version()}, {platform.system()} "
          f"{platform.release()}")
    print(f"subscriptions: {args.n} in {len({r for r in range(args.n)}) and 'Lviv oblast'} hromadas; "
          f"one oblast-wide air-raid alert")
    print(f"last message handed over after {wall:.2f} s (issue request -> the push service's "
          f"{args.n}th receipt); first after {done['first'] - t0:.3f} s")
    print(f"hub CPU: {cpu:.2f} s -> {rate_core:,.0f} messages/s per core; wall rate "
          f"{args.n / wall:,.0f} messages/s")
    print(f"bare primitives (fresh P-256 key + ECDH + HKDF + AES-128-GCM): {bare:,.0f} messages/s "
          f"per core; the sender runs at {rate_core / bare:.0%} of it")
    print(f"checked by decryption (http_ece): {done['checked']}, bad: {done['bad']}")


if __name__ == "__main__":
    main()

"""Live delivery against a real uvicorn: SSE, WebSocket, resume, and a kill -9 crash test."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tocsin.cap import to_xml
from tocsin.client import ServerEvent, follow, issue_request, sign_cap
from tocsin.delivery.fanout import Fanout
from tocsin.store.base import StreamEvent
from tocsin.testing import HubProcess, free_port

from .conftest import KYIV, KYIV_OBLAST, LVIV_OBLAST, issue_async, make_alert, wait_subscribers

pytestmark = pytest.mark.timeout(120)


async def _collect(url: str, n: int, **kw: object) -> list[ServerEvent]:
    got: list[ServerEvent] = []
    async for event in follow(url, **kw):  # type: ignore[arg-type]
        if event.event == "comment":
            continue
        got.append(event)
        if len(got) >= n:
            break
    return got


async def test_sse_delivers_by_region_including_containing_areas(hub: HubProcess) -> None:
    hromada = httpx.get(f"{hub.url}/api/v1/regions/locate",
                        params={"lat": 50.544, "lon": 30.212}).json()["regions"][0]["code"]  # Bucha
    in_oblast = asyncio.create_task(_collect(hub.url, 1, regions=[hromada]))
    in_lviv = asyncio.create_task(_collect(hub.url, 1, regions=[LVIV_OBLAST]))
    await wait_subscribers(hub, 2)
    await issue_async(hub, "demo-air-force", (KYIV,))  # Kyiv city: not the Bucha subscriber's
    oblast = await issue_async(hub, "demo-air-force", (KYIV_OBLAST,))  # contains the hromada
    [event] = await asyncio.wait_for(in_oblast, 10)
    assert event.event == "alert"
    assert event.json()["id"] == oblast["id"]
    assert event.id == oblast["event_id"]
    assert not in_lviv.done()
    lviv = await issue_async(hub, "demo-air-force", (LVIV_OBLAST,))
    [other] = await asyncio.wait_for(in_lviv, 10)
    assert other.json()["id"] == lviv["id"]


async def test_point_subscription(hub: HubProcess) -> None:
    at_point = asyncio.create_task(_collect(hub.url, 1, lat=50.4501, lon=30.5234))  # Kyiv centre
    await wait_subscribers(hub, 1)
    issued = await issue_async(hub, "demo-kyiv-city", (KYIV,))
    [event] = await asyncio.wait_for(at_point, 10)
    assert event.json()["id"] == issued["id"]


async def test_resume_with_last_event_id_has_no_gap_and_no_duplicate(hub: HubProcess) -> None:
    ids = [await issue_async(hub, "demo-air-force", (KYIV,)) for _ in range(3)]
    first_event = int(ids[0]["event_id"])  # type: ignore[call-overload]
    replay = await asyncio.wait_for(
        _collect(hub.url, 2, regions=[KYIV], last_event_id=first_event), 10)
    assert [e.json()["id"] for e in replay] == [ids[1]["id"], ids[2]["id"]]
    # Resume from the newest id, then get only what comes next.
    follower = asyncio.create_task(
        _collect(hub.url, 1, regions=[KYIV], last_event_id=int(ids[2]["event_id"])))  # type: ignore[call-overload]
    await wait_subscribers(hub, 1)
    newer = await issue_async(hub, "demo-air-force", (KYIV,))
    [event] = await asyncio.wait_for(follower, 10)
    assert event.json()["id"] == newer["id"]


async def test_bad_stream_requests_are_catalogued(hub: HubProcess) -> None:
    async with httpx.AsyncClient() as http:
        bad_id = await http.get(f"{hub.url}/api/v1/stream", headers={"Last-Event-ID": "abc"})
        assert bad_id.status_code == 400
        assert bad_id.json()["error"]["code"] == "bad_last_event_id"
        unknown = await http.get(f"{hub.url}/api/v1/stream", params={"regions": "UA99"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_region"
        half = await http.get(f"{hub.url}/api/v1/stream", params={"lat": "50"})
        assert half.json()["error"]["code"] == "bad_parameter"
        outside = await http.get(f"{hub.url}/api/v1/stream", params={"lat": 48.85, "lon": 2.35})
        assert outside.json()["error"]["code"] == "unknown_region"


def test_too_many_subscriptions_from_one_client(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", free_port(), env={"TOCSIN_MAX_SUBSCRIPTIONS_PER_CLIENT": "2"})
    hub.start()
    try:
        async def scenario() -> None:
            tasks = [asyncio.create_task(_collect(hub.url, 1, regions=[KYIV])) for _ in range(2)]
            await wait_subscribers(hub, 2)
            async with httpx.AsyncClient() as http:
                third = await http.get(f"{hub.url}/api/v1/stream", params={"regions": KYIV})
            assert third.status_code == 429
            assert third.json()["error"]["code"] == "too_many_subscriptions"
            for task in tasks:
                task.cancel()
        asyncio.run(scenario())
    finally:
        hub.stop()


async def test_websocket_stream_and_resume(hub: HubProcess) -> None:
    first = await issue_async(hub, "demo-air-force", (KYIV,))
    ws_url = hub.url.replace("http", "ws") + f"/api/v1/stream/ws?regions={KYIV}&since=0"
    async with websockets.connect(ws_url) as ws:
        replayed = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert replayed["type"] == "alert"
        assert replayed["data"]["id"] == first["id"]
        await issue_async(hub, "demo-air-force", (KYIV_OBLAST,))  # the city is not in the oblast
        second = await issue_async(hub, "demo-kyiv-city", (KYIV,))
        live = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert live["data"]["id"] == second["id"]
        assert live["id"] > replayed["id"]
    bad = hub.url.replace("http", "ws") + "/api/v1/stream/ws?regions=NOPE"
    async with websockets.connect(bad) as ws:
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert error == {"type": "error", "code": "unknown_region",
                         "detail": "'NOPE' is not a region code of this hub"}


def test_slow_subscriber_overflows_alone() -> None:
    """Through the fan-out's public interface: a stuck subscriber never holds others back."""

    async def scenario() -> None:
        fanout = Fanout(queue_max=3)
        stuck = fanout.subscribe([KYIV], "10.0.0.1")
        reader = fanout.subscribe([KYIV], "10.0.0.2")
        for n in range(1, 11):
            fanout.publish(StreamEvent(n, "alert", f"a{n}", (KYIV,), b"{}"))
            while reader.queue:  # the healthy reader keeps up
                reader.queue.popleft()
        assert stuck.overflowed and not stuck.queue
        assert not reader.overflowed
        assert fanout.last_published == 10

    asyncio.run(scenario())


# -- the crash test --------------------------------------------------------


class _Issuer(threading.Thread):
    """Issues alerts one after another until stopped; records every 201."""

    def __init__(self, hub: HubProcess) -> None:
        super().__init__(daemon=True)
        self.hub = hub
        self.acked: list[dict[str, object]] = []
        self.stop = threading.Event()
        self.signer = hub.signer("demo-air-force")

    def run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self.stop.is_set():
                cap = to_xml(make_alert(areas=(KYIV,)))
                try:
                    response = http.post(f"{self.hub.url}/api/v1/alerts",
                                         json=issue_request(cap, sign_cap(cap, self.signer)))
                except httpx.HTTPError:
                    return  # the server died mid-request: this one was never acknowledged
                if response.status_code == 201:
                    self.acked.append(response.json())


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", free_port())
    process.start()
    yield process
    process.stop()


def test_kill_9_mid_stream_loses_nothing_acknowledged(crashable: HubProcess) -> None:
    hub = crashable
    seen: list[ServerEvent] = []

    async def subscriber() -> None:
        try:
            async for event in follow(hub.url, regions=[KYIV]):
                seen.append(event)
        except (httpx.HTTPError, ConnectionError):
            return

    def run_subscriber() -> None:
        asyncio.run(subscriber())

    reader = threading.Thread(target=run_subscriber, daemon=True)
    reader.start()
    asyncio.run(wait_subscribers(hub, 1))  # it must see the stream from the first alert
    issuer = _Issuer(hub)
    issuer.start()
    deadline = 200
    while len(issuer.acked) < 30 and deadline:
        threading.Event().wait(0.05)
        deadline -= 1
    hub.kill()  # SIGKILL while alerts are being issued and streamed
    issuer.stop.set()
    issuer.join(10)
    reader.join(10)
    acked = list(issuer.acked)
    assert len(acked) >= 30

    hub.start()
    with hub.client() as client:
        stored = {a["id"] for a in client.get("/api/v1/alerts", limit=1000)["alerts"]}
        assert {a["id"] for a in acked} <= stored  # every 201 survived the crash
        last_seen = max((e.id for e in seen if e.id is not None), default=0)

        async def resume() -> list[ServerEvent]:
            missed = len(stored) - len([e for e in seen if e.id is not None])
            if missed == 0:
                return []
            return await asyncio.wait_for(
                _collect(hub.url, missed, regions=[KYIV], last_event_id=last_seen), 20)

        rest = asyncio.run(resume())
    delivered = [e.json()["id"] for e in seen if e.id is not None] + [e.json()["id"] for e in rest]
    assert len(delivered) == len(set(delivered))  # no duplicate
    assert set(delivered) == stored  # no gap
    ids = [e.id for e in seen if e.id is not None] + [e.id for e in rest]
    assert ids == sorted(ids)
    _assert_log_and_store_agree(hub, stored)


def _assert_log_and_store_agree(hub: HubProcess, stored: set[str]) -> None:
    """After the crash every invariant re-verifies: one leaf per alert, and the tree is whole."""
    import time

    from tocsin.tlog.checkpoint import open_checkpoint
    from tocsin.tlog.entry import decode_entry
    from tocsin.tlog.tiles import Tile, TileHashReader, decode_entry_bundle, verify_entry_bundle
    from tocsin.tlog.tree import leaf_hash, prove_inclusion, verify_inclusion
    from tocsin.trust.note import Verifier

    verifier = Verifier.from_vkey((hub.data_dir / "log.pub").read_text().strip())
    with hub.client() as client:
        records = {a["id"]: a for a in client.get("/api/v1/alerts", limit=1000)["alerts"]}
        expected = len(records) + 1  # plus the registry leaf
        for _ in range(100):
            cp, _ = open_checkpoint(httpx.get(f"{hub.url}/checkpoint").content, verifier,
                                    "tocsin.localhost/log")
            if cp.size >= expected:
                break
            time.sleep(0.02)
    assert cp.size == expected

    def fetch(tiles: list[Tile]) -> list[bytes]:
        return [httpx.get(f"{hub.url}/{t.path}").content for t in tiles]

    reader = TileHashReader(cp.size, cp.root_hash, fetch)
    entries: list[bytes] = []
    for start in range(0, cp.size, 256):
        width = min(256, cp.size - start)
        bundle_tile = Tile(0, start // 256, width, entries=True)
        bundle = decode_entry_bundle(httpx.get(f"{hub.url}/{bundle_tile.path}").content)
        verify_entry_bundle(bundle, reader.tile(Tile(0, start // 256, width)))
        entries.extend(bundle)
    by_index = {r["log"]["index"]: r for r in records.values()}
    assert sorted(by_index) == list(range(1, cp.size))
    for index, data in enumerate(entries):
        entry = decode_entry(data)
        if index == 0:
            assert entry.type == "registry"
            continue
        assert entry.type == "alert"
        record = by_index[index]
        cap = httpx.get(f"{hub.url}/api/v1/alerts/{record['id']}/cap").content
        assert entry.cap == cap
        proof = prove_inclusion(cp.size, index, reader)
        verify_inclusion(index, cp.size, leaf_hash(data), proof, cp.root_hash)
    assert set(records) == stored


async def test_point_subscribers_get_exactly_the_shapes_that_contain_them(hub: HubProcess) -> None:
    import msgspec

    from tocsin.cap.model import Area, Polygon

    centre = (50.4501, 30.5234)  # inside the square below
    elsewhere = (50.5200, 30.3700)  # Kyiv city too (same hromada), outside the square
    ring = [(50.43, 30.50), (50.43, 30.55), (50.47, 30.55), (50.47, 30.50), (50.43, 30.50)]
    polygon = Polygon(points=tuple(ring), text=" ".join(f"{lat},{lon}" for lat, lon in ring))
    base = make_alert("demo-defence-intelligence", (KYIV,), kind="threat-notice")
    area = Area(area_desc="Kyiv centre", polygon=(polygon,))
    alert = msgspec.structs.replace(
        base, info=tuple(msgspec.structs.replace(i, area=(area,)) for i in base.info))
    inside = asyncio.create_task(_collect(hub.url, 1, lat=centre[0], lon=centre[1]))
    outside = asyncio.create_task(_collect(hub.url, 1, lat=elsewhere[0], lon=elsewhere[1]))
    await wait_subscribers(hub, 2)
    cap = to_xml(alert)
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{hub.url}/api/v1/alerts", json=issue_request(
            cap, sign_cap(cap, hub.signer("demo-defence-intelligence"))))
    assert response.status_code == 201, response.text
    [event] = await asyncio.wait_for(inside, 10)
    assert event.json()["id"] == response.json()["id"]
    assert response.json()["targets"][KYIV] == "partial"
    # The other point is in the same hromada but outside the shape: nothing for it.
    later = await issue_async(hub, "demo-kyiv-city", (KYIV,))
    [first_for_outside] = await asyncio.wait_for(outside, 10)
    assert first_for_outside.json()["id"] == later["id"]


def test_idle_streams_get_heartbeats(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", free_port(), env={"TOCSIN_HEARTBEAT_SECS": "0.2"})
    hub.start()
    try:
        async def scenario() -> list[ServerEvent]:
            got: list[ServerEvent] = []
            async for event in follow(hub.url, regions=[KYIV], include_heartbeats=True):
                got.append(event)
                if sum(e.data == "heartbeat" for e in got) >= 2:
                    return got
            return got

        events = asyncio.run(asyncio.wait_for(scenario(), 10))
        assert [e.data for e in events if e.event == "comment"][-2:] == ["heartbeat", "heartbeat"]
    finally:
        hub.stop()


def test_sigterm_with_open_streams_shuts_down_promptly(tmp_path: Path) -> None:
    import time

    hub = HubProcess(tmp_path / "data", free_port())
    hub.start()
    sock = __import__("socket").create_connection(("127.0.0.1", hub.port))
    sock.sendall(f"GET /api/v1/stream?regions={KYIV} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert b"200 OK" in sock.recv(4096)
    started = time.monotonic()
    hub.stop()  # SIGTERM, then wait
    assert time.monotonic() - started < 10
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert hub.proc is not None and hub.proc.returncode in (0, -15)
    sock.close()


def test_a_stuck_reader_is_told_to_resync_and_others_keep_up(tmp_path: Path) -> None:
    """A subscriber that stops reading falls back from direct writes to its bounded queue,
    overflows and is told where to resume; a healthy one receives every alert meanwhile."""
    import socket

    hub = HubProcess(tmp_path / "data", env={"TOCSIN_SUBSCRIBER_QUEUE_MAX": "4"})
    hub.start()
    try:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", hub.port))
        stuck.sendall(f"GET /api/v1/stream?regions={KYIV} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        healthy = []

        async def scenario() -> None:
            reader = asyncio.create_task(_collect(hub.url, 60, regions=[KYIV]))
            await wait_subscribers(hub, 2)
            signer = hub.signer("demo-air-force")
            async with httpx.AsyncClient(timeout=30) as http:
                for _ in range(60):
                    cap = to_xml(make_alert(areas=(KYIV,), headline="Ж" * 3000))
                    response = await http.post(f"{hub.url}/api/v1/alerts",
                                               json=issue_request(cap, sign_cap(cap, signer)))
                    assert response.status_code == 201
            healthy.extend(await asyncio.wait_for(reader, 30))

        asyncio.run(scenario())
        assert [e.id for e in healthy] == sorted(e.id for e in healthy)
        assert len({e.id for e in healthy}) == 60
        stuck.settimeout(10)
        data = b""
        while b"event: resync" not in data:
            chunk = stuck.recv(1 << 20)
            assert chunk, "connection closed without a resync"
            data += chunk
        delivered = [int(x) for x in __import__("re").findall(rb"\nid: (\d+)\n", data)]
        resume = int(__import__("re").search(rb'"resume_after":(\d+)', data).group(1))
        assert delivered and resume == delivered[-1] < max(e.id for e in healthy)
        assert delivered == sorted(delivered)
        stuck.close()
        rest = asyncio.run(asyncio.wait_for(_collect(hub.url, max(e.id for e in healthy) - resume,
                                                     regions=[KYIV], last_event_id=resume), 30))
        assert delivered + [e.id for e in rest] == sorted(e.id for e in healthy)
    finally:
        hub.stop()


async def test_a_resume_id_from_the_future_does_not_silence_the_stream(hub: HubProcess) -> None:
    follower = asyncio.create_task(_collect(hub.url, 1, regions=[KYIV], last_event_id=999_999_999))
    await wait_subscribers(hub, 1)
    issued = await issue_async(hub, "demo-air-force", (KYIV,))
    [event] = await asyncio.wait_for(follower, 10)
    assert event.json()["id"] == issued["id"]


def test_head_on_the_stream_carries_no_body(hub: HubProcess) -> None:
    import socket

    sock = socket.create_connection(("127.0.0.1", hub.port))
    sock.sendall(f"HEAD /api/v1/stream?regions={KYIV} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    sock.settimeout(5)
    head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200")
    asyncio.run(issue_async(hub, "demo-air-force", (KYIV,)))
    sock.settimeout(1)
    try:
        extra = sock.recv(4096)
    except TimeoutError:
        extra = b""
    assert b"event: alert" not in extra
    sock.close()

"""A real ``tocsin serve`` on a real PostgreSQL store (``--store`` / ``TOCSIN_STORE``).

The hub issues, serves and proves alerts from PostgreSQL exactly as from SQLite; a second
writer on the same store is refused; and a PostgreSQL restart under the running hub turns
writes into ``503`` with ``Retry-After`` (never a 500, nothing lost), keeps open streams open,
and recovers by itself.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tocsin.cap import to_xml
from tocsin.client import ServerEvent, follow, issue_request, sign_cap
from tocsin.store.postgres import WRITER_LOCK_KEY
from tocsin.testing import HubProcess
from tocsin.testing_postgres import PostgresServer
from tocsin.tlog.checkpoint import open_checkpoint
from tocsin.tlog.entry import alert_entry
from tocsin.tlog.proof import verify_proof_bundle
from tocsin.trust.note import Verifier

from .conftest import KYIV, make_alert, wait_subscribers

ORIGIN = "tocsin.localhost/log"
RECOVERY_SECS = 15.0  # generous on a shared 2-core machine; the pool reconnects at once


def _signed(hub: HubProcess, issuer: str = "demo-air-force") -> tuple[bytes, bytes]:
    cap = to_xml(make_alert(issuer, (KYIV,)))
    return cap, sign_cap(cap, hub.signer(issuer))


def _proven(hub: HubProcess, body: dict[str, object], cap: bytes, statement: bytes) -> None:
    """The alert's proof bundle verifies offline against the hub's log key (within ~1 s)."""
    verifier = Verifier.from_vkey((hub.data_dir / "log.pub").read_text().strip())
    index = body["log"]["index"]  # type: ignore[index]
    deadline = time.monotonic() + RECOVERY_SECS
    while True:
        cp, _ = open_checkpoint(httpx.get(f"{hub.url}/checkpoint").content, verifier, ORIGIN)
        if cp.size > index or time.monotonic() > deadline:  # type: ignore[operator]
            break
        time.sleep(0.05)  # polling for the checkpointer's next signature
    bundle = httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/proof")
    assert bundle.status_code == 200, bundle.text
    proven = verify_proof_bundle(bundle.content, origin=ORIGIN, entry=alert_entry(statement, cap),
                                 log_verifier=verifier)
    assert proven.index == index


def _writer_lock_held(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s", (WRITER_LOCK_KEY,)).fetchone()
    return bool(row and row[0])


@pytest.fixture
def pg_server(postgres: PostgresServer) -> Iterator[PostgresServer]:
    """A server of this test's own, to restart under the hub."""
    server = PostgresServer.create(postgres.bindir)
    yield server
    server.destroy()


def test_a_hub_on_postgresql_issues_serves_and_proves(postgres: PostgresServer, tmp_path: Path) -> None:
    dsn = postgres.create_database()
    hub = HubProcess(tmp_path / "data", args=("--store", dsn))
    hub.start()
    try:
        cap, statement = _signed(hub)
        with hub.client() as client:
            body = client.issue_bytes(cap, statement)
        assert body["log"]["index"] == 1  # leaf 0: the registry in force
        got = httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}")
        assert got.status_code == 200 and got.json()["id"] == body["id"]
        assert httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/cap").content == cap
        _proven(hub, body, cap, statement)
        assert not (hub.data_dir / "tocsin.sqlite3").exists()  # the store is PostgreSQL's
        # A data directory without this log's key never writes to the store (a fork)...
        stranger = HubProcess(tmp_path / "stranger", args=("--store", dsn))
        with pytest.raises(RuntimeError, match=r"log\.key is missing but the store"):
            stranger.start()
        assert not stranger.data_dir.exists()  # a refusal writes nothing, demo files included
        # ...and with it, one writer leads the store: a second hub is refused, with the reason.
        shutil.copytree(hub.data_dir, tmp_path / "second")
        second = HubProcess(tmp_path / "second", args=("--store", dsn))
        with pytest.raises(RuntimeError, match="another writer leads the store"):
            second.start()
    finally:
        hub.stop()
    # Started again through the setting's environment variable: everything is still there.
    again = HubProcess(hub.data_dir, port=hub.port, env={"TOCSIN_STORE": dsn})
    again.start()
    try:
        assert httpx.get(f"{again.url}/api/v1/alerts/{body['id']}/cap").content == cap
        _proven(again, body, cap, statement)
    finally:
        again.stop()


async def test_postgresql_restarts_under_a_running_hub(pg_server: PostgresServer, tmp_path: Path) -> None:
    dsn = pg_server.create_database()
    hub = HubProcess(tmp_path / "data", args=("--store", dsn))
    hub.start()
    assert _writer_lock_held(dsn)
    received: list[ServerEvent] = []
    arrived = asyncio.Event()

    async def listen() -> None:
        async for event in follow(hub.url, regions=[KYIV]):
            if event.event == "alert":
                received.append(event)
                arrived.set()

    stream = asyncio.create_task(listen())
    try:
        await wait_subscribers(hub, 1)
        async with httpx.AsyncClient(timeout=30) as http:
            first_cap, first_statement = _signed(hub)
            first = await http.post(f"{hub.url}/api/v1/alerts",
                                    json=issue_request(first_cap, first_statement))
            assert first.status_code == 201, first.text
            await asyncio.wait_for(arrived.wait(), 10)
            arrived.clear()

            pg_server.stop()
            cap, statement = _signed(hub)
            refused = await http.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement))
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "storage_unavailable"
            assert int(refused.headers["Retry-After"]) > 0
            read = await http.get(f"{hub.url}/api/v1/alerts/{first.json()['id']}")
            assert read.status_code == 503 and "Retry-After" in read.headers  # never a 500
            health = await http.get(f"{hub.url}/healthz")
            assert health.status_code == 200 and health.json()["subscribers"] == 1  # stream open

            pg_server.start()
            deadline = time.monotonic() + RECOVERY_SECS
            while True:  # the issuer's retry, as a client honouring Retry-After would make it
                retried = await http.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement))
                if retried.status_code != 503 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert retried.status_code == 201, retried.text
            # The stream that stayed open through the restart gets the alert, no gap.
            await asyncio.wait_for(arrived.wait(), 10)
            assert [e.json()["id"] for e in received] == [first.json()["id"], retried.json()["id"]]
            assert received[1].id > received[0].id  # type: ignore[operator]
            assert (await http.get(f"{hub.url}/api/v1/alerts/{first.json()['id']}")).status_code == 200
        # The hub took its writer lock back by itself (the restart had freed it).
        while not await asyncio.to_thread(_writer_lock_held, dsn):
            assert time.monotonic() < deadline, "the hub never took its writer lock back"
            await asyncio.sleep(0.1)  # polling for the hub's lease check
        await asyncio.to_thread(_proven, hub, retried.json(), cap, statement)
    finally:
        stream.cancel()
        hub.stop()


def test_the_store_setting(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tocsin.cli import main
    from tocsin.config import SettingsError, load_settings
    from tocsin.store.postgres import redacted

    assert load_settings(environ={}).store == ""  # SQLite in the data directory by default
    url = "postgresql://tocsin:s3cret@db.internal:5432/tocsin"
    assert load_settings(environ={"TOCSIN_STORE": url}).store == url
    assert load_settings({"store": url}, environ={"TOCSIN_STORE": "postgres://other/x"}).store == url
    with pytest.raises(SettingsError, match="store must be"):
        load_settings(environ={"TOCSIN_STORE": "mysql://db/tocsin"})
    assert redacted(url) == "postgresql://tocsin@db.internal:5432/tocsin"  # never the password
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "d"), "--store", "sqlite:x"])
    assert result.exit_code == 2 and "store must be" in result.output

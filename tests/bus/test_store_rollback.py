"""A leading writer whose PostgreSQL comes back *behind* what its log key signed.

A primary lost and a replica promoted that lacked the last commits, or a data directory
restored from a backup under a running writer: the writer's lock session ends, and it
takes its lock back with the same epoch (the restored row holds it). Its checkpointer had
signed a tree the store no longer holds. Appending now would put new leaves at indexes
already signed for other leaves, and signing them a checkpoint of a size already signed
with another root: a fork under the log key. The writer must refuse every write (503,
nothing stored) and sign nothing smaller or different.

Real processes: Debian's PostgreSQL (its data directory copied while stopped, restored
later), a ``tocsin serve --role writer`` child.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
from tests.bus.conftest import signed_alert

from tocsin.store.integrity import read_log_key
from tocsin.testing import HubProcess
from tocsin.testing_postgres import PostgresServer
from tocsin.tlog.checkpoint import open_checkpoint


def _post(url: str, body: dict[str, str]) -> httpx.Response | None:
    try:
        return httpx.post(f"{url}/api/v1/alerts", json=body, timeout=30)
    except httpx.HTTPError:
        return None


def issue_until_answered(url: str, body: dict[str, str]) -> httpx.Response:
    """Retry while the writer's store reconnects (no answer, or a lost connection's 503)."""
    deadline = time.monotonic() + 30
    while True:
        response = _post(url, body)
        if response is not None and response.status_code != 503:
            return response
        assert time.monotonic() < deadline, "the writer never answered"
        time.sleep(0.05)  # the issuer's retry pace while the store reconnects


def wait_readable(url: str, alert_id: str) -> None:
    """Until the writer reads its store again (its pool reconnected after the restart)."""
    deadline = time.monotonic() + 30
    while httpx.get(f"{url}/api/v1/alerts/{alert_id}", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the writer never read its store again"
        time.sleep(0.05)  # polling the writer's reconnection


def log_size(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM log_entries").fetchone()
    assert row is not None
    return int(row[0])


def wait_checkpoint(hub: HubProcess, size: int) -> bytes:
    deadline = time.monotonic() + 20
    while True:
        note = httpx.get(f"{hub.url}/checkpoint", timeout=10).content
        if int(note.split(b"\n")[1]) >= size:
            return note
        assert time.monotonic() < deadline, note
        time.sleep(0.05)  # polling the writer's checkpointer


def test_a_writer_whose_store_came_back_behind_its_signed_tree_refuses_writes_and_forks_nothing(
        postgres: PostgresServer, tmp_path: Path) -> None:
    server = PostgresServer.create(postgres.bindir)  # its own: this test restores its files
    writer = HubProcess(tmp_path / "a", args=("--role", "writer", "--store",
                                               dsn := server.create_database()))
    try:
        writer.start()
        first = issue_until_answered(writer.url, signed_alert(writer))
        assert first.status_code == 201, first.text
        wait_checkpoint(writer, log_size(dsn))
        server.stop()  # a backup (or a replica that will lag), taken with the writer running
        snapshot = tmp_path / "pg-snapshot"
        subprocess.run(["cp", "-a", str(server.data), str(snapshot)], check=True)
        server.start()
        second = issue_until_answered(writer.url, signed_alert(writer))
        assert second.status_code == 201, second.text
        signed_size = log_size(dsn)
        signed = wait_checkpoint(writer, signed_size)
        server.stop()  # the primary is lost; what comes back lacks the second alert
        shutil.rmtree(server.data)
        subprocess.run(["cp", "-a", str(snapshot), str(server.data)], check=True)
        server.start()
        assert log_size(dsn) == signed_size - 1
        wait_readable(writer.url, first.json()["id"])
        for _ in range(5):  # the issuer's retries: every one refused, none a 201
            third = _post(writer.url, signed_alert(writer))
            assert third is not None and third.status_code == 503, third and third.text
            assert int(third.headers["retry-after"]) > 0
        assert log_size(dsn) == signed_size - 1  # nothing appended at the signed index
        origin = signed.split(b"\n")[0].decode()
        verifier = read_log_key(writer.data_dir / "log.key", origin).verifier()
        kept = open_checkpoint((writer.data_dir / "log.checkpoint").read_bytes(), verifier,
                               origin)[0]
        before = open_checkpoint(signed, verifier, origin)[0]
        assert (kept.size, kept.root_hash) == (before.size, before.root_hash)  # never shrank
        with psycopg.connect(dsn) as conn:
            sizes = [int(r[0]) for r in conn.execute("SELECT size FROM checkpoints")]
        assert max(sizes) < signed_size  # the restored store got no checkpoint of its own tree
    finally:
        writer.stop()
        server.destroy()

"""A writer and an edge on another data directory, sharing a PostgreSQL store and NATS (issue 14).

The edge holds no log key and never takes the writer's lock: it reads the store, verifies
checkpoints with the writer's ``log.pub``, and hands writes to the writer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
from tests.bus.conftest import SseReader, issue, signed_alert, wait_health

from tocsin.testing import HubProcess, NatsProcess
from tocsin.testing_postgres import PostgresServer


def test_an_edge_on_another_machine_serves_a_postgresql_store(postgres: PostgresServer,
                                                               tmp_path: Path) -> None:
    dsn = postgres.create_database()
    nats = NatsProcess()
    nats.start()
    writer = HubProcess(tmp_path / "writer", args=("--role", "writer", "--store", dsn,
                                                  "--bus", nats.url))
    writer.start()
    edge_dir = tmp_path / "edge"  # another machine: only the public keys are copied
    edge_dir.mkdir()
    for name in ("log.pub", "registry-root.pub"):
        shutil.copy(writer.data_dir / name, edge_dir / name)
    edge = HubProcess(edge_dir, demo=False, args=(
        "--role", "edge", "--store", dsn, "--bus", nats.url, "--writer-url", writer.url))
    try:
        edge.start()
        wait_health(edge.url, "bus", "connected")
        reader = SseReader(edge.url)
        reader.wait_connected()
        answer = issue(edge.url, signed_alert(writer))  # handed to the writer
        assert reader.next().alert_id == answer["id"]
        assert httpx.get(f"{edge.url}/api/v1/alerts/{answer['id']}").status_code == 200
        assert httpx.get(f"{writer.url}/healthz").json()["leading"] is True
        assert not (edge_dir / "log.key").exists() and not (edge_dir / "tocsin.sqlite3").exists()
        reader.close()
    finally:
        edge.stop()
        writer.stop()
        nats.stop()

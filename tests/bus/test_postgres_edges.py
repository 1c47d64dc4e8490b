"""A writer and an edge on another data directory, sharing a PostgreSQL store and NATS (issue 14).

The edge holds no log key and never takes the writer's lock: it reads the store, verifies
checkpoints with the writer's ``log.pub``, and hands writes to the writer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.bus.conftest import SseReader, issue, signed_alert, wait_health

from tocsin.testing import HubProcess, NatsProcess
from tocsin.testing_postgres import SUPERUSER, PostgresServer


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


def test_an_edge_runs_under_a_database_role_that_may_only_select(postgres: PostgresServer,
                                                                  tmp_path: Path) -> None:
    """An edge runs no DDL and opens read-only sessions; it finds the writer in the store."""
    dsn = postgres.create_database()
    dbname = dsn.rsplit("/", 1)[1]
    writer = HubProcess(tmp_path / "writer", args=("--role", "writer", "--store", dsn))
    writer.start()
    role = f"edge_{dbname}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
        admin.execute(f'GRANT CONNECT ON DATABASE "{dbname}" TO "{role}"')
        admin.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    edge_dsn = postgres.dsn(dbname).replace(f"{SUPERUSER}@", f"{role}@")
    edge_dir = tmp_path / "edge"
    edge_dir.mkdir()
    for name in ("log.pub", "registry-root.pub"):
        shutil.copy(writer.data_dir / name, edge_dir / name)
    edge = HubProcess(edge_dir, demo=False, args=("--role", "edge", "--store", edge_dsn),
                      env={"TOCSIN_BUS_POLL_SECS": "1"})
    try:
        edge.start()  # today: refused, its CREATE TABLE IF NOT EXISTS is not allowed
        reader = SseReader(edge.url)
        reader.wait_connected()
        answer = issue(edge.url, signed_alert(writer))  # handed to the leader the store names
        assert reader.next().alert_id == answer["id"]
        assert httpx.get(f"{edge.url}/api/v1/alerts/{answer['id']}").status_code == 200
        reader.close()
    finally:
        edge.stop()
        writer.stop()


def test_an_edge_on_a_database_without_a_store_says_start_the_writer(postgres: PostgresServer,
                                                                     tmp_path: Path) -> None:
    dsn = postgres.create_database()
    edge = HubProcess(tmp_path / "edge", demo=False, args=("--role", "edge", "--store", dsn))
    with pytest.raises(RuntimeError, match="start the writer first"):
        edge.start()
    with psycopg.connect(dsn) as conn:  # and it created nothing there
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables is not None and tables[0] == 0

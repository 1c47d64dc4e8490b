"""Webhooks survive a writer failover (issue 14) when the hub's store is PostgreSQL.

Real processes: a leading writer and a standby writer (``tocsin serve --role writer``) on one
Debian PostgreSQL and nats-server, and a real receiver on 127.0.0.1 that verifies every
message's Standard Webhooks signature. The endpoint is registered through the leader after
the standby's copy of its data directory was made, so only a shared store can tell the
standby about it.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.bus.conftest import signed_alert, wait_health
from tests.bus.test_failover import OWN_FILES, SLACK_SECS, TAKEOVER_SECS, issue_until_stored

from tocsin.testing import HubProcess, NatsProcess
from tocsin.testing_postgres import PostgresServer

from .conftest import ALLOW, KYIV, new_secret, owner, register
from .receiver import Receiver

pytestmark = pytest.mark.timeout(180)


def writer(data_dir: Path, dsn: str, bus: str) -> HubProcess:
    return HubProcess(data_dir, args=("--role", "writer", "--store", dsn, "--bus", bus),
                      env=dict(ALLOW))


@pytest.fixture
def nats() -> Iterator[NatsProcess]:
    process = NatsProcess()
    process.start()
    yield process
    process.stop()


def test_an_endpoint_registered_on_the_leader_gets_alerts_from_the_standby_after_kill_9(
        postgres: PostgresServer, nats: NatsProcess, receiver: Receiver, tmp_path: Path) -> None:
    dsn = postgres.create_database()
    leader = writer(tmp_path / "a", dsn, nats.url)
    procs = [leader]
    try:
        leader.start()
        # The standby is set up as an operator does: a copy of the leader's data directory.
        shutil.copytree(leader.data_dir, tmp_path / "b", ignore=shutil.ignore_patterns(*OWN_FILES))
        standby = writer(tmp_path / "b", dsn, nats.url)
        standby.start()
        procs.append(standby)
        # Registered after the copy: the standby's data directory knows nothing of it.
        receiver.endpoint("org", secret=new_secret())
        made = register(leader, receiver.hook_url("org"), [KYIV], receiver.endpoints["org"].secret)
        assert made.status_code == 201, made.text
        before, _ = issue_until_stored(leader.url, signed_alert(leader))
        [first] = receiver.wait_events("org", 1)
        assert first.data["data"]["id"] == before

        leader.kill()  # SIGKILL: no shutdown, no last save of its cursors
        wait_health(standby.url, "leading", True, timeout=TAKEOVER_SECS + SLACK_SECS)
        after, _ = issue_until_stored(standby.url, signed_alert(leader))

        def ids() -> list[str]:
            return [g.data["data"]["id"] for g in receiver.of("org", "event")]

        receiver.wait_for(lambda: after in ids())
        # At least once: ``before`` may come again (the leader died before saving its cursor).
        assert ids()[-1] == after and set(ids()) == {before, after}
        assert receiver.errors == []  # every message's signature verified
    finally:
        for proc in reversed(procs):
            proc.stop()


def test_the_webhook_routes_answer_503_while_postgresql_refuses_and_recover(
        postgres: PostgresServer, receiver: Receiver, tmp_path: Path) -> None:
    """The database refusing connections: the owner's calls are ``503 storage_unavailable``
    with Retry-After (never a 500), nothing is lost, and they work again afterwards."""
    dsn = postgres.create_database()
    name = dsn.rsplit("/", 1)[1]
    hub = HubProcess(tmp_path / "data", args=("--store", dsn), env=dict(ALLOW))
    hub.start()
    try:
        receiver.endpoint("org", secret=new_secret())
        made = register(hub, receiver.hook_url("org"), [KYIV], receiver.endpoints["org"].secret)
        assert made.status_code == 201, made.text
        url = f"{hub.url}/api/v1/webhooks/{made.json()['id']}"
        with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (name,))
            try:
                for response in (httpx.get(url, headers=owner(made.json()["secret"]), timeout=30),
                                 httpx.delete(url, headers=owner(made.json()["secret"]), timeout=30),
                                 register(hub, receiver.hook_url("org"), [KYIV],
                                          receiver.endpoints["org"].secret)):
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "storage_unavailable"
                    assert int(response.headers["Retry-After"]) > 0
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 15
        while (shown := httpx.get(url, headers=owner(made.json()["secret"]),
                                  timeout=30)).status_code == 503:
            assert time.monotonic() < deadline, shown.text
            time.sleep(0.1)  # the pool reconnecting
        assert shown.status_code == 200, shown.text
        assert shown.json()["id"] == made.json()["id"]
    finally:
        hub.stop()

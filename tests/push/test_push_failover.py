"""Web Push survives a writer failover (issue 14 with issue 15): real processes only.

A leading writer and a standby on one PostgreSQL (Debian's), the standby set up from a copy
of the leader's data directory (log key, registry, demo keys, VAPID key) taken *before* a
person subscribes through the leader. The leader is SIGKILLed; the standby leads, and the
next alert must still wake that person's phone — and the alert already sent must not be sent
again (the position is shared, not the set-up copy's).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.bus.conftest import wait_health
from tests.bus.test_failover import OWN_FILES

from tocsin.testing import HubProcess
from tocsin.testing_postgres import PostgresServer

from .conftest import KYIV, LVIV, LVIV_OBLAST, PUSH_ENV, hub_key, issue, subscribe
from .push_service import push_service

pytestmark = pytest.mark.timeout(180)

TAKEOVER_SECS = 20.0  # generous on a loaded 2-core machine; test_failover holds the 5 s bound


def writer(data_dir: Path, dsn: str) -> HubProcess:
    return HubProcess(data_dir, args=("--role", "writer", "--store", dsn), env=dict(PUSH_ENV))


def saved_push_position(dsn: str) -> int:
    """The push position the writers share (-1: none saved, or no such table)."""
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT event_id FROM push_position WHERE name = 'sender'").fetchone()
    except psycopg.errors.UndefinedTable:
        return -1
    return -1 if row is None else int(row[0])


def newest_event(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT max(event_id) FROM alerts").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)  # polling other processes' state, not waiting for a result


def test_a_subscription_made_on_the_leader_is_served_by_the_standby_after_kill_9(
        postgres: PostgresServer, tmp_path: Path) -> None:
    dsn = postgres.create_database()
    leader = writer(tmp_path / "a", dsn)
    procs = [leader]
    try:
        leader.start()
        shutil.copytree(leader.data_dir, tmp_path / "b", ignore=shutil.ignore_patterns(*OWN_FILES))
        standby = writer(tmp_path / "b", dsn)  # set up before anyone subscribed
        standby.start()
        procs.append(standby)
        assert wait_health(standby.url, "standby", True)["leading"] is False
        vapid = hub_key(leader)

        with push_service(vapid) as service:
            phone = service.device()
            created = subscribe(leader, phone.subscription(), [KYIV, LVIV])
            assert created.status_code == 201, created.text
            first = issue(leader, "demo-air-force", (LVIV_OBLAST,), kind="air-raid")
            [woken] = service.wait_delivered(phone, 1)
            assert woken.payload["id"] == first["id"]
            # At least once: wait until the leader saved that it served it, so a resend after
            # the kill would be the stale position's doing, not a crash between send and save.
            served_up_to = newest_event(dsn)
            wait_until(lambda: saved_push_position(dsn) >= served_up_to,
                       "the leader never saved its push position where the standby can read it")

            leader.kill()  # SIGKILL: no goodbye, its lock session ends with it
            wait_health(standby.url, "leading", True, timeout=TAKEOVER_SECS)
            assert hub_key(standby) == vapid  # the VAPID key came with the set-up copy
            second = issue(standby, "demo-air-force", (LVIV_OBLAST,), kind="missile")
            delivered = service.wait_delivered(phone, 2)
            assert [r.payload["id"] for r in delivered] == [first["id"], second["id"]]
            assert service.errors == []
            # Unsubscribing through the new leader really deletes the shared row.
            sub_id, secret = created.json()["id"], created.json()["secret"]
            gone = httpx.delete(f"{standby.url}/api/v1/push/subscriptions/{sub_id}",
                                headers={"Authorization": f"Bearer {secret}"})
            assert gone.status_code == 204, gone.text
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT count(*) FROM push_subscriptions").fetchone()
            assert row is not None and row[0] == 0
    finally:
        for proc in reversed(procs):
            proc.stop()

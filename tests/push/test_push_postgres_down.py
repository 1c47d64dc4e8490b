"""Push calls on a hub whose PostgreSQL store is away: ``503 storage_unavailable``, never a 500.

With ``--store postgresql://…`` push subscriptions live in that database
(:mod:`tocsin.push.pgstore`), so subscribing and unsubscribing need it; while the server is
down they are answered ``503`` with ``Retry-After`` and nothing changes, and the hub recovers
by itself when it returns (the pool reconnects).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tocsin.testing import HubProcess
from tocsin.testing_postgres import PostgresServer

from .conftest import KYIV, PUSH_ENV, hub_key, subscribe
from .push_service import push_service

pytestmark = pytest.mark.timeout(120)
RECOVERY_SECS = 15.0


def test_push_calls_while_postgresql_is_down_are_503_then_recover(
        postgres: PostgresServer, tmp_path: Path) -> None:
    dsn = postgres.create_database()
    hub = HubProcess(tmp_path / "data", args=("--store", dsn), env=dict(PUSH_ENV))
    hub.start()
    try:
        with push_service(hub_key(hub)) as service:
            kept = subscribe(hub, service.device().subscription(), [KYIV])
            assert kept.status_code == 201, kept.text
            postgres.stop()
            try:
                refused = subscribe(hub, service.device().subscription(), [KYIV])
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "storage_unavailable"
                assert int(refused.headers["Retry-After"]) > 0
                gone = httpx.delete(f"{hub.url}/api/v1/push/subscriptions/{kept.json()['id']}",
                                    headers={"Authorization": f"Bearer {kept.json()['secret']}"})
                assert gone.status_code == 503, gone.text
                assert gone.json()["error"]["code"] == "storage_unavailable"
            finally:
                postgres.start()
            deadline = time.monotonic() + RECOVERY_SECS
            while True:  # a client honouring Retry-After tries again
                again = httpx.delete(f"{hub.url}/api/v1/push/subscriptions/{kept.json()['id']}",
                                     headers={"Authorization": f"Bearer {kept.json()['secret']}"})
                if again.status_code != 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)  # the client's retry pace
            assert again.status_code == 204, again.text  # it was still there: nothing was lost
    finally:
        hub.stop()

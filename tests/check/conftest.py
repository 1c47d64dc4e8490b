"""Checker tests run a real ``tocsin serve --demo`` process and talk HTTP to it.

The process itself is :class:`tocsin.testing.HubProcess`, shared with the hub
and web suites.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tocsin.cap.model import Alert
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess as BaseHubProcess
from tocsin.testing import free_port

KYIV = "UA80000000000093317"
KYIV_OBLAST = "UA32000000000030281"
LVIV_OBLAST = "UA46000000000026241"


class HubProcess(BaseHubProcess):
    """The demo hub, plus the two things these tests do to it."""

    def issue(self, alert: Alert, issuer: str) -> dict[str, Any]:
        with self.client() as client:
            return client.issue(alert, self.signer(issuer))

    def check(self, text: str) -> dict[str, Any]:
        """POST /api/v1/check, waiting (bounded) until new alerts are under a checkpoint."""
        deadline = time.monotonic() + 10
        while True:
            response = httpx.post(self.url + "/api/v1/check", json={"text": text}, timeout=30)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            pending = any("not yet covered" in n for n in body.get("notes", []))
            if not pending or time.monotonic() > deadline:
                return body
            time.sleep(0.05)  # the checkpoint is signed within 50 ms of an append


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("hub") / "data", free_port())
    process.start()
    yield process
    process.stop()


def make_alert(issuer: str = "demo-air-force", areas: tuple[str, ...] = (KYIV,),
               **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))

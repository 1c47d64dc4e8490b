"""Push tests: a real hub allowed to call a test push service on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.hub_calls import issue as issue  # issue is re-exported for the tests

from tocsin.cap.model import Alert
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess

KYIV = "UA80000000000093317"
LVIV = "UA46060250000025047"  # Львівська територіальна громада (the city of Lviv)
LVIV_OBLAST = "UA46000000000026241"
PUSH_ENV = {"TOCSIN_PUSH_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", env=dict(PUSH_ENV))
    process.start()
    yield process
    process.stop()


def make_alert(issuer: str, areas: tuple[str, ...], **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))


def hub_key(hub: HubProcess) -> str:
    key: str = httpx.get(f"{hub.url}/api/v1/push/key").json()["publicKey"]
    return key


def subscribe(hub: HubProcess, subscription: dict[str, Any], regions: list[str],
              language: str = "uk", points: list[dict[str, float]] | None = None) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/push/subscriptions",
                      json={"subscription": subscription, "regions": regions,
                            "points": points or [], "language": language})


def metric(hub: HubProcess, name: str) -> float:
    for line in httpx.get(f"{hub.url}/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0

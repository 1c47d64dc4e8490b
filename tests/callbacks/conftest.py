"""Webhook and WebSub tests: a real hub allowed to call receivers on 127.0.0.1."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.hub_calls import issue as issue  # issue is re-exported for the tests
from tests.hub_calls import metric_at as metric_at

from tocsin.testing import HubProcess

from .receiver import Receiver

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"
ALLOW = {"TOCSIN_CALLBACK_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.start()
    yield rec
    rec.stop()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", env=dict(ALLOW))
    process.start()
    yield process
    process.stop()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def register(hub: HubProcess, url: str, regions: list[str], secret: str | None = None,
             kinds: list[str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"url": url, "regions": regions}
    if kinds is not None:
        body["kinds"] = kinds
    if secret is not None:
        body["signing_secret"] = secret
    return httpx.post(f"{hub.url}/api/v1/webhooks", json=body, timeout=30)


def metric(hub: HubProcess, name: str) -> float:
    return metric_at(hub.url, name)




def owner(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}

"""Webhook and WebSub tests: a real hub allowed to call receivers on 127.0.0.1."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
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


def issue(hub: HubProcess, issuer: str, areas: tuple[str, ...], **kw: Any) -> dict[str, Any]:
    kw.setdefault("kind", "air-raid")
    alert = compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                     expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))
    cap = to_xml(alert)
    response = httpx.post(f"{hub.url}/api/v1/alerts",
                          json=issue_request(cap, sign_cap(cap, hub.signer(issuer))))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def metric(hub: HubProcess, name: str) -> float:
    total = 0.0
    for line in httpx.get(f"{hub.url}/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def owner(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}

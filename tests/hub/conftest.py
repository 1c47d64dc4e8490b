"""Hub tests run a real ``tocsin serve`` process on 127.0.0.1 and talk HTTP to it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tocsin.cap import to_xml
from tocsin.cap.model import Alert
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess

KYIV = "UA80000000000093317"
KYIV_OBLAST = "UA32000000000030281"
LVIV_OBLAST = "UA46000000000026241"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data")
    process.start()
    yield process
    process.stop()


def make_alert(issuer: str = "demo-air-force", areas: tuple[str, ...] = (KYIV,), **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))


async def wait_subscribers(hub: HubProcess, n: int) -> None:
    """Return once ``hub`` holds at least ``n`` live subscribers (polling its /healthz)."""
    async with httpx.AsyncClient() as http:
        for _ in range(400):
            if (await http.get(f"{hub.url}/healthz")).json()["subscribers"] >= n:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"{n} subscribers never connected")


async def issue_async(hub: HubProcess, issuer: str, areas: tuple[str, ...], **kw: Any) -> dict[str, Any]:
    """Issue a signed alert through ``POST /api/v1/alerts``; its 201 body."""
    cap = to_xml(make_alert(issuer, areas, **kw))
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{hub.url}/api/v1/alerts",
                                   json=issue_request(cap, sign_cap(cap, hub.signer(issuer))))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body

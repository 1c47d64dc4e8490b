"""Calls to a running test hub shared by the push, mail and callback tests (not a test module)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess


def issue(hub: HubProcess, issuer: str, areas: tuple[str, ...], **kw: Any) -> dict[str, Any]:
    """Compose an alert (an air-raid for an hour unless ``kw`` says otherwise), sign it as
    ``issuer`` and issue it; asserts the hub accepted it (201) and returns its answer."""
    kw.setdefault("kind", "air-raid")
    alert = compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                     expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))
    cap = to_xml(alert)
    response = httpx.post(f"{hub.url}/api/v1/alerts",
                          json=issue_request(cap, sign_cap(cap, hub.signer(issuer))))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def metric_at(url: str, name: str) -> float:
    """The sum of a metric's samples at the hub at ``url``."""
    total = 0.0
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total

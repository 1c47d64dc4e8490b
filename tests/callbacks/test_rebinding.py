"""DNS rebinding: the webhook and WebSub sender connects only to addresses it has checked.

A name may answer a public address when it is checked and a private one when the HTTP
client connects (a TTL-0 name under an attacker's control). The hub runs in this process
so that its name lookup — the seam every check and every callback connection goes through
(``CallbackSender.lookup``) — can be the attacker's: ``localhost`` answers a public address
to the checks, then ``127.0.0.1``. A listener on 127.0.0.1 stands for the private service;
it must never see a connection: not from a webhook's verification, not from a WebSub
intent verification, not from an event's delivery.
"""

from __future__ import annotations

import select
import socket
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tests.rebinding import (
    RebindingName,
    loopback_listener,  # noqa: F401  (the `listener` fixture)
)

from tocsin.assemble import build_app
from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.config import Settings
from tocsin.demo import ensure_demo
from tocsin.regions import default_region_set
from tocsin.runtime import Hub
from tocsin.testing import serve_asgi
from tocsin.trust.note import Signer

from .conftest import KYIV, metric_at, new_secret

pytestmark = pytest.mark.timeout(120)


def _never_connected(listener: socket.socket, done: object, what: str) -> None:
    """Watch the listener until ``done()`` is true (or 30 s): it must never be connected to."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        readable, _, _ = select.select([listener], [], [], 0.05)
        assert not readable, f"{what}: the hub connected to 127.0.0.1 after checking a public address"
        if done():  # type: ignore[operator]
            return
    raise AssertionError(f"{what}: the hub neither connected nor refused in 30 s")


def test_names_rebound_to_loopback_after_their_checks_are_never_connected_to(
        tmp_path: Path, listener: socket.socket) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True)  # callback_allowed_hosts empty
    registry = ensure_demo(settings.data_dir, default_region_set())
    hub = Hub(settings, registry_bytes=registry.read_bytes(), registry_path=registry)
    port = listener.getsockname()[1]
    sender = hub.callbacks
    stored, _ = sender.store.add_webhook(url=f"https://localhost:{port}/hook", regions=[KYIV],
                                         kinds=[], signing_secret=new_secret(),
                                         cursor=hub.feed.last_id, now=time.time())
    with serve_asgi(build_app(hub), lifespan="on") as url:
        # 1. A webhook's verification message: checked once (public), then the connection.
        sender.lookup = name = RebindingName(public_answers=1)
        made = httpx.post(f"{url}/api/v1/webhooks", timeout=30,
                          json={"url": f"https://localhost:{port}/hook", "regions": [KYIV]})
        assert made.status_code == 422, made.text
        assert made.json()["error"]["code"] == "webhook_url_refused", made.text
        _never_connected(listener, lambda: True, "webhook verification")
        assert name.lookups == 2  # the connection's own lookup was the one checked

        # 2. A WebSub intent verification: checked at the request and before the GET.
        sender.lookup = name = RebindingName(public_answers=2)
        asked = httpx.post(f"{url}/websub", data={
            "hub.mode": "subscribe", "hub.topic": f"{settings.base_url}/feeds/alerts.atom",
            "hub.callback": f"https://localhost:{port}/sub"})
        assert asked.status_code == 202, asked.text
        _never_connected(listener, lambda: name.lookups >= 3, "websub intent verification")

        # 3. An event to a stored endpoint (verified when the name still pointed elsewhere):
        #    the sender's recheck sees a public address, the connection would see loopback.
        sender.lookup = name = RebindingName(public_answers=1)
        signer = Signer.from_skey((settings.data_dir / "demo-keys" / "demo-air-force.key")
                                  .read_text().strip())
        cap = to_xml(compose_alert(AlertFacts(issuer_id="demo-air-force", areas=(KYIV,),
                                               kind="air-raid", expires_in=timedelta(hours=1))))
        issued = httpx.post(f"{url}/api/v1/alerts", json=issue_request(cap, sign_cap(cap, signer)))
        assert issued.status_code == 201, issued.text
        _never_connected(listener, lambda: metric_at(url, "tocsin_callback_retried_total") >= 1,
                         "webhook delivery")
        assert name.lookups >= 2
        assert metric_at(url, "tocsin_callback_sent_total") == 0
        assert sender.cursor_of(stored.id) is not None
        assert metric_at(url, "tocsin_callback_targets") == 1  # only the stored one
    readable, _, _ = select.select([listener], [], [], 0)
    assert not readable

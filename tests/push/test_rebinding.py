"""DNS rebinding: the push sender connects only to an address it has checked.

A name may answer a public address when it is checked and a private one when the HTTP
client connects (a TTL-0 name under an attacker's control). The hub here runs in this
process so that its name lookup — the seam every check and every push connection goes
through (``PushSender.lookup``) — can be the attacker's: ``localhost`` answers a public
address twice (the subscription's check, the sender's check of the origin), then
``127.0.0.1``. A listener on 127.0.0.1 stands for the private service; it must never see
a connection.
"""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.rebinding import (
    RebindingName,
    loopback_listener,  # noqa: F401  (the `listener` fixture)
)

from tocsin.assemble import build_app
from tocsin.config import Settings
from tocsin.demo import ensure_demo
from tocsin.regions import default_region_set
from tocsin.runtime import Hub
from tocsin.testing import serve_asgi

from .conftest import KYIV, make_alert
from .push_service import Device

pytestmark = pytest.mark.timeout(120)


def _metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_name_rebound_to_loopback_after_its_checks_is_never_connected_to(
        tmp_path: Path, listener: socket.socket) -> None:
    from tocsin.cap import to_xml
    from tocsin.client import issue_request, sign_cap
    from tocsin.trust.note import Signer

    settings = Settings(data_dir=tmp_path / "data", demo=True)  # push_allowed_hosts empty
    registry = ensure_demo(settings.data_dir, default_region_set())
    hub = Hub(settings, registry_bytes=registry.read_bytes(), registry_path=registry)
    name = RebindingName(public_answers=2)
    hub.push.lookup = name
    port = listener.getsockname()[1]
    device = Device("rebound", f"https://localhost:{port}/push/rebound",
                    ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
    with serve_asgi(build_app(hub), lifespan="on") as url:
        made = httpx.post(f"{url}/api/v1/push/subscriptions",
                          json={"subscription": device.subscription(), "regions": [KYIV]})
        assert made.status_code == 201, made.text  # checked: localhost answered a public address
        signer = Signer.from_skey((settings.data_dir / "demo-keys" / "demo-air-force.key")
                                  .read_text().strip())
        cap = to_xml(make_alert("demo-air-force", (KYIV,)))
        issued = httpx.post(f"{url}/api/v1/alerts", json=issue_request(cap, sign_cap(cap, signer)))
        assert issued.status_code == 201, issued.text
        deadline = time.monotonic() + 30
        refused = 0.0
        while time.monotonic() < deadline:  # until the sender gave up on it, or a connection came
            readable, _, _ = select.select([listener], [], [], 0.05)
            assert not readable, "the sender connected to 127.0.0.1 after checking a public address"
            refused = _metric(url, 'tocsin_push_failed_total{reason="refused"}')
            if refused:
                break
        assert refused == 1
        assert _metric(url, "tocsin_push_sent_total") == 0
        assert name.lookups >= 3  # the connection's own lookup was the one checked
    readable, _, _ = select.select([listener], [], [], 0)
    assert not readable

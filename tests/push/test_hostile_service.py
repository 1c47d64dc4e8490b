"""A push service that answers at once and then streams its answer's body forever.

Anyone may subscribe with any public HTTPS endpoint, so the "push service" may be an
attacker's. The hub must take the status, read at most a small bounded part of the body
and hang up — not hold the whole answer in memory, and not count a 201 as a failure
because the body never ended.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from callbacks.tarpit import Tarpit
from tocsin.assemble import build_app
from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.config import Settings
from tocsin.demo import ensure_demo
from tocsin.regions import default_region_set
from tocsin.runtime import Hub
from tocsin.testing import HubProcess, serve_asgi
from tocsin.trust.note import Signer

from .conftest import KYIV, issue, make_alert, metric, subscribe
from .hostile import StreamingServer
from .push_service import Device, push_service

pytestmark = pytest.mark.timeout(120)


def test_an_endless_answer_is_not_read_to_its_end(hub: HubProcess) -> None:
    server = StreamingServer(status=201)
    server.start()
    try:
        device = Device("endless", f"{server.url}/push/endless",
                        ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
        assert subscribe(hub, device.subscription(), [KYIV]).status_code == 201
        issue(hub, "demo-air-force", (KYIV,))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the hub counted the message one way or other
            sent = metric(hub, "tocsin_push_sent_total")
            failed = metric(hub, "tocsin_push_failed_total") + metric(hub, "tocsin_push_retried_total")
            if sent or failed:
                break
        assert (sent, failed) == (1, 0)  # the service took it (201); the body is not the answer
        assert server.requests == 1
        assert server.sent < 8 * 1024 * 1024  # the hub hung up, it did not take 64 MiB
    finally:
        server.stop()


#: Names of 127.0.0.2 that are not the same text: a per-service share keyed by the name
#: is five shares for one server.
TARPIT_NAMES = ("127.0.0.2", "0x7f000002", "0x7f.2", "0x7f.0.2", "0x7f.0.0.2")


def test_many_names_of_one_slow_server_share_one_per_service_share(tmp_path: Path) -> None:
    """Anyone may subscribe any endpoint, with no check that it is a push service: a tarpit
    under many names must not take every connection the hub has for the real services."""
    allowed = ",".join(n.strip("[]") for n in TARPIT_NAMES) + ",127.0.0.1"
    settings = Settings(data_dir=tmp_path / "data", demo=True, push_allowed_hosts=allowed)
    registry = ensure_demo(settings.data_dir, default_region_set())
    hub = Hub(settings, registry_bytes=registry.read_bytes(), registry_path=registry)
    hub.push.per_service, hub.push.max_connections = 4, 16  # the 64 and 256 of production, scaled
    tarpit = Tarpit("127.0.0.2")
    tarpit.start()
    try:
        with serve_asgi(build_app(hub), lifespan="on") as url, \
                push_service(hub.push.signer.public_key_b64) as service:
            for n in range(20):  # 4 under each name: every connection the hub has
                name = TARPIT_NAMES[n % len(TARPIT_NAMES)]
                device = Device(f"slow{n}", f"http://{name}:{tarpit.port}/push/slow{n}",
                                ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
                made = httpx.post(f"{url}/api/v1/push/subscriptions",
                                  json={"subscription": device.subscription(), "regions": [KYIV]})
                assert made.status_code == 201, made.text
            signer = Signer.from_skey((settings.data_dir / "demo-keys" / "demo-air-force.key")
                                      .read_text().strip())

            def alert(kind: str) -> httpx.Response:
                cap = to_xml(make_alert("demo-air-force", (KYIV,), kind=kind))
                issued = httpx.post(f"{url}/api/v1/alerts", json=issue_request(cap, sign_cap(cap, signer)))
                assert issued.status_code == 201, issued.text
                return issued

            alert("air-raid")  # the tarpit's subscriptions take what connections they may
            service.wait_for(lambda: tarpit.accepted >= 4)
            witness = service.device()  # then a real subscriber, and the next alert
            made = httpx.post(f"{url}/api/v1/push/subscriptions",
                              json={"subscription": witness.subscription(), "regions": [KYIV]})
            assert made.status_code == 201, made.text
            issued = alert("missile")
            # not after the tarpit's requests time out (10 s): they hold only their own share
            [got] = service.wait_delivered(witness, 1, timeout=8)
            assert got.payload["id"] == issued.json()["id"]
            assert tarpit.most_open <= 4, tarpit.most_open
    finally:
        tarpit.stop()

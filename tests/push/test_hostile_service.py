"""A push service that answers at once and then streams its answer's body forever.

Anyone may subscribe with any public HTTPS endpoint, so the "push service" may be an
attacker's. The hub must take the status, read at most a small bounded part of the body
and hang up — not hold the whole answer in memory, and not count a 201 as a failure
because the body never ended.
"""

from __future__ import annotations

import os
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tocsin.testing import HubProcess

from .conftest import KYIV, issue, metric, subscribe
from .hostile import StreamingServer
from .push_service import Device

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

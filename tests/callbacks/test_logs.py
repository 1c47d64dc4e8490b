"""Secrets never logged: a WebSub callback URL is often a capability (a random path or a
token in its query) — whoever reads the hub's logs must not be able to unsubscribe it or
receive as it. Only its origin is logged."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import pytest

from tocsin.assemble import build_app
from tocsin.config import Settings
from tocsin.demo import ensure_demo
from tocsin.regions import default_region_set
from tocsin.runtime import Hub
from tocsin.testing import serve_asgi

from .receiver import Receiver

pytestmark = pytest.mark.timeout(60)


def test_a_callbacks_path_and_query_never_reach_the_log(tmp_path: Path, receiver: Receiver,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tocsin")
    settings = Settings(data_dir=tmp_path / "data", demo=True, callback_allowed_hosts="127.0.0.1")
    registry = ensure_demo(settings.data_dir, default_region_set())
    hub = Hub(settings, registry_bytes=registry.read_bytes(), registry_path=registry)
    receiver.endpoint("cap-9f8e7d", echo=False)  # the intent is not verified: the hub logs it
    callback = receiver.sub_url("cap-9f8e7d") + "?token=s3cr3t-capability"
    with serve_asgi(build_app(hub), lifespan="on") as url:
        asked = httpx.post(f"{url}/websub", data={
            "hub.mode": "subscribe", "hub.topic": f"{settings.base_url}/feeds/alerts.atom",
            "hub.callback": callback})
        assert asked.status_code == 202, asked.text
        receiver.wait_for(lambda: len(receiver.of("cap-9f8e7d", "intent")) == 1)
        deadline = time.monotonic() + 10
        while "intent not verified" not in caplog.text and time.monotonic() < deadline:
            pass  # until the hub has logged the outcome of the verification
    assert "intent not verified" in caplog.text
    assert "s3cr3t-capability" not in caplog.text and "cap-9f8e7d" not in caplog.text
    assert receiver.url in caplog.text  # the origin is enough to tell who it was

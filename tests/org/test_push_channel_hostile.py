"""The org Web Push channel and a hostile push endpoint: a person's push subscription names
a URL of their choosing, so it gets the same defences as the hub's push sender — connect
only to checked addresses (DNS rebinding) and read a bounded part of the answer."""

from __future__ import annotations

import json
import os
import select
import socket
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from push.hostile import StreamingServer
from push.push_service import Device
from tocsin.org.channels import Outgoing, WebPushChannel
from tocsin.org.model import DeliveryStatus
from tocsin.push.vapid import VapidSigner, load_or_create_vapid_key


def _out(endpoint: str) -> Outgoing:
    device = Device("x", endpoint, ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
    return Outgoing(org_id="o", org_name="School", message_id="m", person_id="p", channel="push",
                    address=json.dumps(device.subscription()), language="en", text="Closed",
                    link="", note=b"")


class RebindingName:
    """``localhost`` answers a public address to the first lookup, then loopback."""

    def __init__(self) -> None:
        self.lookups = 0
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self._lock:
            self.lookups += 1
            return ["93.184.216.34"] if self.lookups == 1 else ["127.0.0.1"]


async def test_a_push_endpoint_rebound_to_loopback_is_never_connected_to(tmp_path: Path) -> None:
    signer = VapidSigner(load_or_create_vapid_key(tmp_path), "mailto:ops@example.org")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    name = RebindingName()
    channel = WebPushChannel(signer, frozenset(), lookup=name)
    try:
        port = listener.getsockname()[1]
        status, reason = await channel.send(_out(f"https://localhost:{port}/push/x"))
        assert status == DeliveryStatus.FAILED, reason
        readable, _, _ = select.select([listener], [], [], 0)
        assert not readable, "the channel connected to 127.0.0.1 after checking a public address"
        assert name.lookups == 2  # the connection's own lookup was the one checked
    finally:
        await channel.close()
        listener.close()


async def test_an_endless_answer_is_a_delivery_not_a_memory_sink(tmp_path: Path) -> None:
    signer = VapidSigner(load_or_create_vapid_key(tmp_path), "mailto:ops@example.org")
    server = StreamingServer(status=201)
    server.start()
    channel = WebPushChannel(signer, frozenset({"127.0.0.1"}))
    try:
        status, reason = await channel.send(_out(f"{server.url}/push/x"))
        assert status == DeliveryStatus.SENT, reason
        assert server.sent < 8 * 1024 * 1024  # the channel hung up, it did not take 64 MiB
    finally:
        await channel.close()
        server.stop()

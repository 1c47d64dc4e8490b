"""A DNS-rebinding attacker for the push and callback tests (shared, not a test module).

``RebindingName`` stands in for a sender's lookup seam: ``localhost`` answers a global unicast
address for the first ``public_answers`` lookups, then loopback. ``listener`` is a loopback socket
that must never be connected to: a hub that connects to an address other than the one it checked
would show up there.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

PUBLIC = "93.184.216.34"  # a global unicast address (never connected to)


class RebindingName:
    """A name server under an attacker's control: public for ``public_answers`` lookups, then
    loopback. Counts the lookups (thread-safe: lookups run on worker threads)."""

    def __init__(self, public_answers: int) -> None:
        self.public_answers = public_answers
        self.lookups = 0
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        assert host == "localhost", host
        with self._lock:
            self.lookups += 1
            n = self.lookups
        return [PUBLIC] if n <= self.public_answers else ["127.0.0.1"]


@pytest.fixture(name="listener")
def loopback_listener() -> Iterator[socket.socket]:
    """A listening loopback socket (no one should ever connect to it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()

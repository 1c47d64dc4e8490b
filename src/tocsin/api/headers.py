"""Headers every response of the hub carries: no sniffing, no framing by others, no referrer.

One list, used by the middleware that adds them to every response and by the live stream,
which is served ahead of that middleware (:func:`tocsin.api.streaming.serve_stream`).
"""

from __future__ import annotations

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)

"""Running the ASGI app under uvicorn, with one addition for live streams.

ASGI hides the connection's transport, so every SSE frame would pass through
the middleware stack and a task wake-up per subscriber. At 10,000 subscribers
that is most of the fan-out time. :class:`StreamingHttpProtocol` is uvicorn's
own httptools protocol that also puts the transport in
``scope["extensions"]["tocsin.transport"]``; the SSE endpoint then lets the
fan-out write pre-encoded chunks straight to it while the subscriber keeps up
(see :mod:`tocsin.delivery.fanout`). Under any other server the extension is
absent and streams take the ordinary ASGI path.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TRANSPORT_EXTENSION = "tocsin.transport"


class StreamingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, exposing the transport to the app."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # uvicorn internals: if a release renames them, streams simply take the ASGI path.
        cycle = getattr(self, "cycle", None)
        if cycle is not None and isinstance(getattr(cycle, "scope", None), dict):
            scope: dict[str, Any] = cycle.scope
            scope.setdefault("extensions", {})[TRANSPORT_EXTENSION] = self.transport


def transport_of(scope: dict[str, Any]) -> asyncio.Transport | None:
    """The connection's transport, when the server exposes it.

    Checked by what it can do: uvloop's transports are not ``asyncio.Transport``
    subclasses.
    """
    transport = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
    needed = ("write", "is_closing", "get_write_buffer_size", "get_extra_info")
    if transport is None or not all(callable(getattr(transport, n, None)) for n in needed):
        return None
    return transport  # type: ignore[no-any-return]

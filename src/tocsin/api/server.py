"""Running the ASGI app under uvicorn, with one addition for live streams.

ASGI hides the connection's transport, so every SSE frame would pass through
the middleware stack and a task wake-up per subscriber. At 10,000 subscribers
that is most of the fan-out time. :class:`StreamingHttpProtocol` is uvicorn's
own httptools protocol that also puts the transport in
``scope["extensions"]["tocsin.transport"]``; the SSE endpoint then lets the
fan-out write pre-encoded chunks straight to it while the subscriber keeps up
(see :mod:`tocsin.delivery.fanout`). Under any other server the extension is
absent and streams take the ordinary ASGI path.

It also bounds how long a client may hold a connection without sending a
request: uvicorn closes idle keep-alive connections but has no deadline for
*headers*, so a client sending a header byte now and then (slowloris) held
its connection for ever. Here a connection must complete each request's
headers within :attr:`StreamingHttpProtocol.header_timeout_secs` of
connecting or of the request's first byte, and a connection whose response
is finished while its request body is still arriving reads and drops the
rest, and is closed if it is not in within :data:`LINGER_SECS` (the body's
own deadline is enforced where it is read, :mod:`tocsin.api.body`).

On SIGTERM, :class:`ClosingServer` tells the hub its streams must end *before* uvicorn
waits for open requests: a live stream never ends by itself, so otherwise each was
cancelled after the grace period with a ``CancelledError`` traceback in the log.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable, MutableMapping
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TRANSPORT_EXTENSION = "tocsin.transport"
CONNECTION_EXTENSION = "tocsin.connection"


#: Largest request line plus headers accepted, in bytes; beyond it: 431 and the connection closes.
MAX_HEADER_BYTES = 64 * 1024
_TOO_LARGE_BODY = (b'{"error":{"code":"headers_too_large","message":"The request line and headers '
                   b'are larger than the hub accepts; the connection is closed.",'
                   b'"docs":"/docs/errors#headers_too_large"}}')
HEADERS_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_TOO_LARGE_BODY)
                     + _TOO_LARGE_BODY)

#: Default deadline for a request's headers, in seconds (``Settings.header_timeout_secs``).
HEADER_TIMEOUT_SECS = 10.0
#: After answering a request whose body is still arriving, wait this long for the rest (read and
#: dropped), then close.
LINGER_SECS = 2.0


class SmallEvent(asyncio.Event):
    """``asyncio.Event`` whose waiters are a list, not a deque.

    An empty deque allocates a 64-slot block (~600 bytes); an empty list allocates
    nothing. uvicorn keeps two events per connection (its flow control and the request
    cycle's), and a live stream keeps its connection for hours: at 100,000 subscribers the
    deques alone were 120 MB. The event's code is asyncio's own; only the container differs
    (it uses ``append``, ``remove`` and iteration, which a list has).
    """

    def __init__(self) -> None:  # asyncio's __init__ would allocate the deque first
        self._waiters = []  # type: ignore[assignment]
        self._value = False


class _Pipeline:
    """uvicorn's queue of pipelined requests (``appendleft``/``pop``/truth), its deque made
    only when a client pipelines, which almost none does (the empty deque is ~600 bytes)."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: deque[Any] | None = None

    def appendleft(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.appendleft(item)

    def pop(self) -> Any:
        if not self._items:
            raise IndexError("pop from an empty pipeline")
        return self._items.pop()

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items) if self._items else 0


def _slim(owner: object, attribute: str) -> None:
    """Swap an ``asyncio.Event`` attribute of uvicorn's for a :class:`SmallEvent` in the same
    state, if the attribute is there and holds a plain event nobody waits on yet."""
    event = getattr(owner, attribute, None)
    if type(event) is asyncio.Event and not getattr(event, "_waiters", None):
        small = SmallEvent()
        if event.is_set():
            small.set()
        setattr(owner, attribute, small)


class StreamingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, exposing the transport to the app, with a header deadline.

    Our own attributes live in ``__slots__``: added to uvicorn's instance ``__dict__`` they
    made it grow past its shared-key size, ~1.6 KB more for every open connection.
    """

    __slots__ = ("_header_bytes", "_header_tail", "_header_timer", "_linger_timer", "_lingering",
                 "lost_callback")
    header_timeout_secs: float = HEADER_TIMEOUT_SECS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._header_tail = b""
        self._linger_timer: asyncio.TimerHandle | None = None
        self._lingering = False
        #: Called once when the connection is lost (see :func:`on_connection_lost`).
        self.lost_callback: Callable[[], None] | None = None
        super().__init__(*args, **kwargs)
        # uvicorn internals, read defensively (a release that renames them keeps its own).
        if isinstance(getattr(self, "pipeline", None), deque) and not self.pipeline:
            self.pipeline = _Pipeline()  # type: ignore[assignment]

    @classmethod
    def with_timeouts(cls, header_timeout_secs: float) -> type[StreamingHttpProtocol]:
        """This protocol with another header deadline (uvicorn instantiates the class itself)."""
        return type(cls.__name__, (cls,), {"header_timeout_secs": header_timeout_secs})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _slim(getattr(self, "flow", None), "_is_writable_event")
        self._header_bytes = 0
        self._arm_header_timer()  # a connection that never sends a byte is closed too

    def data_received(self, data: bytes) -> None:
        # While a request's headers are coming (the header timer runs), count their bytes:
        # the parser would otherwise buffer a header of any size (memory, not just time).
        if self._header_timer is not None:
            # Only the bytes up to the blank line that ends the headers are headers; the rest
            # of the chunk is body (the terminator may straddle two chunks: keep a short tail).
            joined = self._header_tail + data
            end = joined.find(b"\r\n\r\n")
            counted = len(data) if end < 0 else max(0, end + 4 - len(self._header_tail))
            self._header_tail = joined[-3:] if end < 0 else b""
            self._header_bytes += counted
            if self._header_bytes > MAX_HEADER_BYTES:
                self._cancel_header_timer()
                if not self.transport.is_closing():
                    self.transport.write(HEADERS_TOO_LARGE)
                    self.transport.close()
                return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        callback, self.lost_callback = self.lost_callback, None
        if callback is not None:
            callback()
        self._cancel_header_timer()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm_header_timer()

    def on_response_complete(self) -> None:
        # uvicorn internals, read defensively: the cycle whose response just finished is the
        # current one unless another request is pipelined behind it.
        cycle = getattr(self, "cycle", None)
        answered_early = (getattr(cycle, "response_complete", False)
                          and getattr(cycle, "more_body", False))
        if answered_early and not self.transport.is_closing():
            # Answered while the body is still coming (refused before reading it): read and
            # drop the rest, then carry on as usual; a body that is not in within LINGER_SECS
            # closes the connection. (Closing at once, with unread bytes, would send a reset
            # that can destroy the answer before the client reads it.)
            self._lingering = True
            self._linger_timer = self.loop.call_later(LINGER_SECS, self._close_now)
            self.flow.resume_reading()
            return
        super().on_response_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._lingering:  # the rest of an answered request's body is in: keep-alive as usual
            self._lingering = False
            if self._linger_timer is not None:
                self._linger_timer.cancel()
                self._linger_timer = None
            super().on_response_complete()

    def _close_now(self) -> None:
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        self._cancel_header_timer()  # the transport now belongs to the WebSocket protocol
        super().handle_websocket_upgrade()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_secs, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._header_bytes = 0
        self._header_tail = b""
        super().on_headers_complete()
        # uvicorn internals: if a release renames them, streams simply take the ASGI path.
        cycle = getattr(self, "cycle", None)
        _slim(cycle, "message_event")
        if cycle is not None and isinstance(getattr(cycle, "scope", None), dict):
            scope: dict[str, Any] = cycle.scope
            extensions = scope.setdefault("extensions", {})
            extensions[TRANSPORT_EXTENSION] = self.transport
            extensions[CONNECTION_EXTENSION] = self


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


def on_connection_lost(scope: MutableMapping[str, Any], callback: Callable[[], None] | None) -> bool:
    """Have ``callback`` called once when the request's connection is lost (None: no longer).

    Lets a live stream learn of a client gone without a task of its own waiting on
    ``receive()``. False (nothing registered) when the server is not ours.
    """
    connection = scope.get("extensions", {}).get(CONNECTION_EXTENSION)
    if not isinstance(connection, StreamingHttpProtocol):
        return False
    connection.lost_callback = callback
    return True


class ClosingServer(uvicorn.Server):
    """uvicorn's server that calls ``closing`` as its shutdown begins.

    ``closing`` (the hub's :meth:`~tocsin.runtime.Hub.close_streams`) makes every live
    stream finish its response properly, so the graceful shutdown that follows finds no
    request to cancel and the process exits quietly.
    """

    def __init__(self, config: uvicorn.Config, closing: Callable[[], None]) -> None:
        super().__init__(config)
        self._closing = closing

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._closing()
        await super().shutdown(sockets)

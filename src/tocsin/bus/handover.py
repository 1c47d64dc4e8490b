"""On an edge, writes are handed to the writer and its answer returned unchanged (issue 14).

An edge commits nothing: every request that could change something — any method but
``GET``/``HEAD``/``OPTIONS``, except the read-only ``POST /api/v1/check`` — plus what only the
writer holds (the Web Push key, the demo witness) goes to the writer's own address. The edge
reads the body first, under the hub's own limits (``max_body_bytes``, ``body_timeout_secs``:
the same catalogued 413 and 408), so a slow or huge client never holds the writer. Status,
headers and body come back byte for byte: a 201 from an edge is the writer's 201, given only
after the writer's commit was durable.

The client is named to the writer in ``X-Forwarded-For`` (the TCP peer, after the hops this
edge trusts), so the writer's per-client limits see the real client: the writer must list
its edges in ``trusted_proxies`` and must not be reachable by anyone else (docs/deploy.md).

If the writer cannot be reached the answer is ``503 writer_unavailable`` with
``Retry-After``; a retry of the same alert is idempotent (its id is its content).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.api.errors import ApiError
from tocsin.store.base import StorageUnavailable

log = logging.getLogger("tocsin.handover")

WRITER_URL_FILE = "writer.url"
RETRY_AFTER_SECS = 2
#: Seconds an edge keeps the leader's address it read from a shared store before reading it
#: again. 0: every hand-over reads it (one single-row read; writes are rare), because a leader
#: that is paused, not dead, still accepts connections and would hold the request; the last
#: address read is kept for when the store cannot answer.
LEADER_REFRESH_SECS = 0.0
CONNECT_TIMEOUT_SECS = 2.0
ANSWER_TIMEOUT_SECS = 60.0
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_POSTS = frozenset({"/api/v1/check"})
#: What only the writer holds, reads included: push, email, webhooks, organisations, alerts
#: relayed from followed feeds (their own stores and senders, one per deployment), the demo
#: witness.
WRITER_ONLY_PREFIXES = ("/api/v1/push/", "/witness/", "/api/v1/email/", "/api/v1/webhooks",
                        "/websub", "/api/v1/org/", "/api/v1/orgs/", "/org/", "/api/v1/relayed",
                        "/api/v1/follows", "/relayed/")
WRITER_ONLY_PATHS = frozenset({"/org"})
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer",
                        b"upgrade", b"proxy-authenticate", b"proxy-authorization", b"host",
                        b"expect"})
#: Not passed on with a request: the edge sends the body it read whole, with its own length.
REQUEST_DROP = HOP_BY_HOP | {b"content-length", b"x-forwarded-for"}


def is_write(method: str, path: str) -> bool:
    """Whether an edge hands this request to the writer."""
    if path.startswith(WRITER_ONLY_PREFIXES) or path in WRITER_ONLY_PATHS:
        return True
    return method not in READ_METHODS and path not in READ_ONLY_POSTS


class WriterAddress:
    """Where the leading writer listens: the ``writer_url`` setting; else, on a shared store,
    the address the current leader wrote in it (:meth:`~tocsin.store.base.Leadership.leader_url`,
    read again after :data:`LEADER_REFRESH_SECS` and whenever a hand-over finds no writer
    there); else what a writer wrote in ``DATA_DIR/writer.url`` (one machine, SQLite)."""

    def __init__(self, configured: str | None, data_dir: Path,
                 leader: Callable[[], str | None] | None = None,
                 refresh_secs: float = LEADER_REFRESH_SECS) -> None:
        self.configured = configured.rstrip("/") if configured else None
        self.path = data_dir / WRITER_URL_FILE
        self.leader = leader
        self.refresh_secs = refresh_secs
        self._cache: tuple[float, str | None] = (-1.0, None)
        self._leader: tuple[float, str | None] = (-1.0, None)  # (read at, url)

    async def get(self, *, fresh: bool = False) -> str | None:
        """The writer's base URL (None: nobody said); ``fresh``: ask the store again now."""
        if self.configured:
            return self.configured
        if self.leader is not None:
            read_at, url = self._leader
            now = time.monotonic()
            if fresh or url is None or now - read_at >= self.refresh_secs:
                try:
                    url = await asyncio.to_thread(self.leader)
                except StorageUnavailable as exc:  # keep the last known leader meanwhile
                    log.warning("the store cannot say which writer leads: %s", exc)
                else:
                    url = url.rstrip("/") if url else None
                    self._leader = (now, url)
            if url:
                return url
        return self._from_file()

    def _from_file(self) -> str | None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return None
        if mtime != self._cache[0]:
            text = self.path.read_text(encoding="utf-8").strip()
            self._cache = (mtime, text if text.startswith(("http://", "https://")) else None)
        return self._cache[1]


def advertise(data_dir: Path, url: str) -> None:
    """The writer says where it listens (atomically replaced: a reader never sees half)."""
    tmp = data_dir / (WRITER_URL_FILE + ".tmp")
    tmp.write_text(url + "\n", encoding="utf-8")
    tmp.replace(data_dir / WRITER_URL_FILE)


class Handover:
    """ASGI middleware of an edge: writes to the writer, everything else to ``app``."""

    def __init__(self, app: ASGIApp, *, writer: WriterAddress,
                 trusted_proxies: frozenset[str], max_body_bytes: int,
                 body_timeout_secs: float) -> None:
        self.app = app
        self.writer = writer
        self.trusted_proxies = trusted_proxies
        self.max_body_bytes = max_body_bytes
        self.body_timeout_secs = body_timeout_secs
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(ANSWER_TIMEOUT_SECS, connect=CONNECT_TIMEOUT_SECS),
            follow_redirects=False, trust_env=False)
        self.handed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_write(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        base = await self.writer.get()
        if base is None:
            await _answer(ApiError("writer_unavailable", "no writer has said where it listens",
                                   retry_after=RETRY_AFTER_SECS), scope, receive, send)
            return
        try:  # read here, under this edge's limits: the writer never waits on a slow client
            body = await self._body(scope, receive)
        except ApiError as exc:
            await _answer(exc, scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k not in REQUEST_DROP]
        headers.append((b"x-forwarded-for", self._forwarded_for(scope).encode("latin-1")))
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        try:
            try:
                answer = await self._send(scope["method"], base + path, headers, body)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                # Nothing reached it: if the store names another leader now, hand it there.
                fresh = await self.writer.get(fresh=True)
                if fresh is None or fresh == base:
                    raise
                base = fresh
                answer = await self._send(scope["method"], base + path, headers, body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing reached the writer
            log.warning("the writer at %s cannot be reached: %s", base, exc)
            await _answer(ApiError("writer_unavailable", "the writer cannot be reached; nothing "
                                   "was stored", retry_after=RETRY_AFTER_SECS), scope, receive, send)
            return
        except httpx.HTTPError as exc:
            log.warning("the writer at %s did not answer: %s", base, exc)
            await _answer(ApiError("writer_unavailable", "the writer's answer was lost: retry (a "
                                   "retry of the same alert is idempotent)",
                                   retry_after=RETRY_AFTER_SECS), scope, receive, send)
            return
        self.handed += 1
        try:  # the raw bytes: an encoded body stays as the writer encoded it
            await send({"type": "http.response.start", "status": answer.status_code,
                        "headers": [(k.lower(), v) for k, v in answer.headers.raw
                                    if k.lower() not in HOP_BY_HOP]})
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await answer.aclose()

    async def _send(self, method: str, target: str, headers: list[tuple[bytes, bytes]],
                    body: bytes | None) -> httpx.Response:
        request = self.client.build_request(method, target, headers=headers, content=body)
        return await self.client.send(request, stream=True)

    def _forwarded_for(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if peer not in self.trusted_proxies:
            return peer  # a client's own X-Forwarded-For names nobody
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
        chain = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
        return ", ".join([*chain, peer])

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The request body (None: the request has none), within the hub's size and time limits.

        The same limits and catalogued errors as :func:`tocsin.api.body.read_body`.
        """
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            return None
        limit = self.max_body_bytes
        if declared is not None:
            if not declared.isdigit():
                raise ApiError("bad_request", "Content-Length is not a number")
            if int(declared) > limit:
                raise ApiError("body_too_large", f"{int(declared)} bytes declared, limit {limit}")
        chunks: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self.body_timeout_secs):
                while True:
                    message: Message = await receive()
                    if message["type"] == "http.disconnect":
                        raise ApiError("bad_request",
                                       "the client went away before sending the whole body")
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > limit:
                        raise ApiError("body_too_large",
                                       f"more than {limit} bytes sent, limit {limit}")
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise ApiError("request_timeout", f"{received} bytes of the body arrived in "
                           f"{self.body_timeout_secs:g} s") from None


async def _answer(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    """The edge's own catalogued answer, with the headers every hub response carries (the
    writer's answers already have them: the hand-over sits outside the app's middleware)."""
    response = error.response()
    response.headers.update({"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                             "referrer-policy": "no-referrer"})
    await response(scope, receive, send)

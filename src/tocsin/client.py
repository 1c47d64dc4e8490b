"""A small client for a Tocsin hub: sign and issue alerts, follow the live stream.

Used by ``tocsin issue``, the tests and the benchmarks, so all of them talk
to a hub exactly as any outside program would.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from tocsin.cap import parse_alert, to_xml
from tocsin.cap.model import Alert
from tocsin.trust.note import Signer
from tocsin.trust.statement import Statement


class HubError(Exception):
    """The hub refused a request; ``code`` is its catalogued error code."""

    def __init__(self, status: int, code: str | None, detail: str | None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


def sign_cap(cap: bytes, signer: Signer) -> bytes:
    """The issuer's signed statement over the exact CAP bytes."""
    alert = parse_alert(cap, strict=False).alert
    return Statement.for_cap(cap, issuer=signer.name, key_id=signer.key_id,
                             identifier=alert.identifier, sender=alert.sender,
                             sent=alert.sent).sign(signer)


def issue_request(cap: bytes, statement: bytes) -> dict[str, str]:
    """The JSON body of ``POST /api/v1/alerts``."""
    return {"cap": base64.b64encode(cap).decode(), "statement": statement.decode()}


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    raise HubError(response.status_code, error.get("code"),
                   error.get("detail") or error.get("message") or response.text[:200])


class HubClient:
    """Synchronous client (the CLI and tests)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def issue_bytes(self, cap: bytes, statement: bytes) -> dict[str, Any]:
        response = self._http.post("/api/v1/alerts", json=issue_request(cap, statement))
        _raise_for(response)
        body: dict[str, Any] = response.json()
        return body

    def issue(self, alert: Alert, signer: Signer) -> dict[str, Any]:
        cap = to_xml(alert)
        return self.issue_bytes(cap, sign_cap(cap, signer))

    def get(self, path: str, **params: Any) -> Any:
        response = self._http.get(path, params=params or None)
        _raise_for(response)
        return response.json()


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One Server-Sent Event."""

    id: int | None
    event: str
    data: str

    def json(self) -> Any:
        return msgspec.json.decode(self.data)


async def follow(base_url: str, *, regions: Sequence[str] = (), last_event_id: int | None = None,
                 lat: float | None = None, lon: float | None = None,
                 client: httpx.AsyncClient | None = None,
                 include_heartbeats: bool = False,
                 denials: bool = False) -> AsyncIterator[ServerEvent]:
    """Yield events from a hub's SSE stream (the caller stops iterating to disconnect).

    ``denials=True`` also asks for signed denials (``event: denial``); with no region or
    point it follows denials only.
    """
    params: dict[str, str] = {}
    if denials:
        params["denials"] = "1"
    if regions:
        params["regions"] = ",".join(regions)
    if lat is not None and lon is not None:
        params["lat"], params["lon"] = str(lat), str(lon)
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    own = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
    try:
        async with http.stream("GET", base_url.rstrip("/") + "/api/v1/stream",
                               params=params, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                _raise_for(response)
            event_id: int | None = None
            kind = "message"
            data: list[str] = []
            async for line in response.aiter_lines():
                if line == "":
                    if data:
                        yield ServerEvent(event_id, kind, "\n".join(data))
                    event_id, kind, data = None, "message", []
                elif line.startswith(":"):
                    if include_heartbeats:
                        yield ServerEvent(None, "comment", line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "id":
                        event_id = int(value)
                    elif name == "event":
                        kind = value
                    elif name == "data":
                        data.append(value)
    finally:
        if own:
            await http.aclose()

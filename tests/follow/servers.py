"""Local servers a follower is pointed at: a plain CAP feed of real producers' documents,
feeds that misbehave, and a tampering front of a real Tocsin hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

ATOM = "http://www.w3.org/2005/Atom"
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>
"""


def atom(links: list[str]) -> bytes:
    """An Atom feed whose entries link to these CAP documents."""
    entries = "".join(
        f'<entry><id>urn:test:{n}</id><title>alert {n}</title><updated>2024-01-01T00:00:00Z</updated>'
        f'<link rel="alternate" type="application/cap+xml" href="{href}"/></entry>'
        for n, href in enumerate(links))
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="{ATOM}"><id>urn:test:feed</id>'
            f'<title>test feed</title><updated>2024-01-01T00:00:00Z</updated>{entries}</feed>').encode()


def cap_feed_app(documents: dict[str, bytes], feeds: dict[str, list[str]]) -> Starlette:
    """``/{feed}.atom`` lists ``/cap/{name}`` links; plus the misbehaving feeds."""

    async def feed(request: Request) -> Response:
        names = feeds.get(request.path_params["name"])
        if names is None:
            return Response(status_code=404)
        return Response(atom([f"/cap/{n}" for n in names]), media_type="application/atom+xml")

    async def cap(request: Request) -> Response:
        data = documents.get(request.path_params["name"])
        return Response(status_code=404) if data is None else Response(data, media_type="application/cap+xml")

    async def huge(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:  # 64 MiB, no Content-Length: the reader must stop
            yield f'<?xml version="1.0"?><feed xmlns="{ATOM}"><title>'.encode()
            for _ in range(1024):
                yield b"x" * 65536

        return StreamingResponse(body(), media_type="application/atom+xml")

    async def malformed(request: Request) -> Response:
        return Response(f'<feed xmlns="{ATOM}"><entry><id>never closed'.encode(),
                        media_type="application/atom+xml")

    async def bomb(request: Request) -> Response:
        return Response(BOMB, media_type="application/atom+xml")

    async def loop_a(request: Request) -> Response:
        return RedirectResponse("/loop-b.atom", status_code=302)

    async def loop_b(request: Request) -> Response:
        return RedirectResponse("/loop-a.atom", status_code=301)

    return Starlette(routes=[
        Route("/huge.atom", huge), Route("/malformed.atom", malformed), Route("/bomb.atom", bomb),
        Route("/loop-a.atom", loop_a), Route("/loop-b.atom", loop_b),
        Route("/cap/{name}", cap), Route("/{name}.atom", feed),
    ])


def tampering_hub_app(hub_url: str, crafted: dict[str, dict[str, bytes]]) -> Starlette:
    """A front of a real hub that lists only ``crafted`` alerts in its feed and serves their
    parts (``cap``, ``statement``, ``proof``) as given; everything else comes from the hub."""

    async def forward(path: str) -> Response:
        async with httpx.AsyncClient() as client:
            upstream = await client.get(hub_url + path)
        return Response(upstream.content, status_code=upstream.status_code,
                        media_type=upstream.headers.get("content-type"))

    async def feed(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return Response(atom([f"{base}/api/v1/alerts/{i}/cap" for i in crafted]),
                        media_type="application/atom+xml")

    async def part(request: Request) -> Response:
        alert_id, name = request.path_params["alert_id"], request.path_params["part"]
        if alert_id in crafted:
            return Response(crafted[alert_id][name])
        return await forward(request.url.path)

    async def passthrough(request: Request) -> Response:
        return await forward(request.url.path)

    routes: list[Any] = [Route("/feeds/alerts.atom", feed),
                         Route("/api/v1/alerts/{alert_id}/{part}", part),
                         Route("/checkpoint", passthrough), Route("/api/v1/registry", passthrough)]
    return Starlette(routes=routes)


def listing_hub_app(hub_url: str, shown: list[str]) -> Starlette:
    """A front of a real hub whose feed lists only the alert ids in ``shown`` (read live, newest
    first): a feed that withholds some of the hub's alerts and serves them later. Every part of
    every alert, the checkpoint and the registry come unchanged from the hub."""

    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient() as client:
            upstream = await client.get(hub_url + request.url.path)
        return Response(upstream.content, status_code=upstream.status_code,
                        media_type=upstream.headers.get("content-type"))

    async def feed(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return Response(atom([f"{base}/api/v1/alerts/{i}/cap" for i in list(shown)]),
                        media_type="application/atom+xml")

    return Starlette(routes=[Route("/feeds/alerts.atom", feed),
                             Route("/api/v1/alerts/{alert_id}/{part}", forward),
                             Route("/checkpoint", forward), Route("/api/v1/registry", forward)])

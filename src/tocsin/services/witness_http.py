"""The C2SP tlog-witness HTTP endpoints over a :class:`~tocsin.services.witness.Witness`.

``POST /add-checkpoint`` and ``GET /<origin hash>/checkpoint``, served with Starlette by
``tocsin witness`` and, in demo mode, under ``/witness`` of the hub.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin.services.witness import Witness
from tocsin.tlog.witness import MAX_REQUEST_BYTES, WitnessError


def _plain(body: bytes | str, status: int, content_type: str = "text/plain; charset=utf-8",
           **headers: str) -> Response:
    """A response whose Content-Type is exactly ``content_type`` (Starlette would add a charset
    to ``text/x.tlog.size``, which clients comparing it exactly cannot read)."""
    return Response(body, status, headers={"Content-Type": content_type, **headers})


def witness_app(witness: Witness) -> Starlette:
    """A Starlette app serving ``POST /add-checkpoint`` and ``GET /<origin hash>/checkpoint``."""

    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return _plain(f"request body is larger than {MAX_REQUEST_BYTES} bytes\n", 413)
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        except WitnessError as exc:
            return _plain(exc.body, exc.status, exc.content_type)
        return _plain(lines, 200)

    async def checkpoint(request: Request) -> Response:
        digest = str(request.path_params["digest"])
        found = await run_in_threadpool(witness.latest_by_hash, digest) if len(digest) == 64 else None
        if found is None:
            return _plain("no cosigned checkpoint for this log\n", 404)
        return _plain(found, 200, **{"Cache-Control": "no-store"})

    return Starlette(routes=[

        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/{digest}/checkpoint", checkpoint, methods=["GET"]),
    ])

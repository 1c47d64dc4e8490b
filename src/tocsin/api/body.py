"""Reading request bodies with a hard size limit, for every handler that takes one."""

from __future__ import annotations

from starlette.requests import Request

from tocsin.api.errors import ApiError


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it exceeds ``limit`` (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError("bad_request", "Content-Length is not a number") from None
        if size > limit:
            raise ApiError("body_too_large", f"{size} bytes declared, limit {limit}")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise ApiError("body_too_large", f"more than {limit} bytes sent, limit {limit}")
        chunks.append(chunk)
    return b"".join(chunks)

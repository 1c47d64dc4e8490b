"""Reading request bodies with a hard size limit and deadline, and decoding JSON bodies safely.

Every handler that takes a body reads it through :func:`read_body`: a body
larger than the limit is refused before it is read whole, and one that does
not arrive within ``body_timeout_secs`` (``app.state``, from the settings) is
answered ``408 request_timeout`` and its connection closed — a client
trickling bytes holds nothing for long. :func:`decode_json` turns any JSON
the decoder cannot take, however deep, into a catalogued 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request

from tocsin.api.errors import ApiError

#: Used when the app does not say (``app.state.body_timeout_secs``).
DEFAULT_BODY_TIMEOUT_SECS = 30.0


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it exceeds ``limit`` or its deadline passes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError("bad_request", "Content-Length is not a number") from None
        if size > limit:
            raise ApiError("body_too_large", f"{size} bytes declared, limit {limit}")
    deadline = float(getattr(request.app.state, "body_timeout_secs", DEFAULT_BODY_TIMEOUT_SECS))
    chunks: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise ApiError("body_too_large", f"more than {limit} bytes sent, limit {limit}")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError("request_timeout",
                       f"{received} bytes of the body arrived in {deadline:g} s") from None
    except ClientDisconnect:
        raise ApiError("bad_request", "the client went away before sending the whole body") from None
    return b"".join(chunks)


def decode_json(body: bytes) -> Any:
    """Decode a JSON body; malformed or too deeply nested JSON is ``400 bad_request``.

    The decoder refuses nesting beyond Python's recursion limit with a
    ``RecursionError``; no request body of the API nests more than a few levels.
    """
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ApiError("bad_request", f"body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError("bad_request", "the JSON is nested too deeply") from None

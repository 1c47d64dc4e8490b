"""Reading a stranger's answer: at most a bounded number of bytes, never to an end it sets.

Push services, webhook endpoints and WebSub callbacks are URLs strangers give the hub, so
the server that answers may be hostile: it may answer ``201`` and then stream its body
forever, or fast enough to fill the hub's memory within the request timeout. Senders read
what they need (a status, a challenge) with :func:`read_capped`; ``aiohttp`` closes a
connection whose body was not read to its end instead of reusing it, so a hostile body
costs one connection, not memory.
"""

from __future__ import annotations

import aiohttp

MAX_ANSWER_BYTES = 64 * 1024


async def read_capped(response: aiohttp.ClientResponse, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The body of ``response`` up to its end or ``limit`` bytes, whichever comes first.

    Unlike one ``content.read(limit)`` (whatever one network read brought), this gathers
    an answer sent in several pieces, so a challenge split across chunks is still whole.
    """
    parts: list[bytes] = []
    left = limit
    while left > 0:
        chunk = await response.content.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)

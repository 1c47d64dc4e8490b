"""Read a log over HTTP the C2SP tlog-tiles way: checkpoint, tiles, entry bundles.

Everything fetched is untrusted until checked: :meth:`LogClient.hash_reader`
returns a :class:`~tocsin.tlog.tiles.TileHashReader` that verifies each tile
against a checkpoint root the caller has already verified, and
:meth:`LogClient.entries` checks every entry's leaf hash against the verified
level-0 tile. Responses are size-bounded before they are buffered, so a
hostile server cannot make a client read without limit.

The base URL is the log's prefix: ``<base>/checkpoint``, ``<base>/tile/...``.
Works against the hub and against a static mirror (:mod:`tocsin.tlog.static`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import httpx

from tocsin.tlog.checkpoint import MAX_CHECKPOINT_BYTES
from tocsin.tlog.tiles import (
    MAX_ENTRY_SIZE,
    TILE_WIDTH,
    Tile,
    TileError,
    TileHashReader,
    decode_entry_bundle,
    verify_entry_bundle,
)
from tocsin.tlog.tree import HASH_SIZE, TlogError, TreeError

__all__ = ["LogClient", "LogClientError", "LogNotFoundError"]

MAX_TILE_BYTES = TILE_WIDTH * HASH_SIZE
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE)
DEFAULT_TIMEOUT_SECS = 10.0


class LogClientError(TlogError):
    """The log could not be read: network failure, an HTTP error, or an oversized answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LogNotFoundError(LogClientError):
    """The server answered 404 for a resource the log should have."""


class LogClient:
    """An HTTP reader of one log; pass ``client`` to share a connection pool."""

    def __init__(
        self, base_url: str, *, client: httpx.Client | None = None, timeout: float = DEFAULT_TIMEOUT_SECS
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._own = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._own:
            self._client.close()

    def __enter__(self) -> LogClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def get(self, path: str, limit: int) -> bytes:
        """GET ``<base>/<path>``, reading at most ``limit`` bytes; 404 is :class:`LogNotFoundError`."""
        url = f"{self.base_url}/{path}"
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code == 404:
                    raise LogNotFoundError(f"{url}: not found", 404)
                if response.status_code != 200:
                    raise LogClientError(f"{url}: HTTP {response.status_code}", response.status_code)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise LogClientError(f"{url}: answer larger than {limit} bytes")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise LogClientError(f"{url}: {type(exc).__name__}: {exc}") from None

    def checkpoint(self) -> bytes:
        """The log's current signed checkpoint (unverified bytes)."""
        return self.get("checkpoint", MAX_CHECKPOINT_BYTES)

    def fetch_tiles(self, tiles: Sequence[Tile]) -> list[bytes]:
        """Fetch tiles in order; a missing partial tile falls back to the full one (spec)."""
        out: list[bytes] = []
        for tile in tiles:
            limit = MAX_BUNDLE_BYTES if tile.entries else MAX_TILE_BYTES
            try:
                out.append(self.get(tile.path, limit))
            except LogNotFoundError:
                if not tile.is_partial:
                    raise
                out.append(self.get(tile.full().path, limit))
        return out

    def hash_reader(self, size: int, root: bytes) -> TileHashReader:
        """A verifying hash reader for the tree of a *verified* checkpoint (size, root)."""
        return TileHashReader(size, root, self.fetch_tiles)

    def entries(self, reader: TileHashReader, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)`` of the reader's tree, each checked against its leaf hash.

        Raises :class:`~tocsin.tlog.tiles.EntryBundleError` when a bundle does
        not match the verified level-0 tile (a rewritten or reordered entry).
        """
        if not 0 <= start <= end <= reader.size:
            raise TreeError(f"entry range [{start}, {end}) is not within tree size {reader.size}")
        out: list[bytes] = []
        index = start // TILE_WIDTH
        while index * TILE_WIDTH < end:
            width = min(TILE_WIDTH, reader.size - index * TILE_WIDTH)
            bundle_tile = Tile(0, index, width, entries=True)
            data = self.fetch_tiles([bundle_tile])[0]
            decoded = decode_entry_bundle(data)
            if bundle_tile.is_partial and len(decoded) > width:
                decoded = decoded[:width]  # the full bundle served in place of a partial one
            if len(decoded) != width:
                raise TileError(f"{bundle_tile.path} holds {len(decoded)} entries, want {width}")
            verify_entry_bundle(decoded, reader.tile(Tile(0, index, width)))
            first = index * TILE_WIDTH
            out.extend(decoded[max(start, first) - first : min(end, first + width) - first])
            index += 1
        return out

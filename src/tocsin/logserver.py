"""The hub's side of the transparency log: its key, checkpoints, and tile serving.

The leaves themselves are written by the store in the same transaction as
each alert. This module signs a C2SP checkpoint shortly after appends — an
alert is delivered at once, marked "logged, proof pending", and a checkpoint
covering it follows within :data:`CHECKPOINT_DELAY_SECS` plus signing time
(well under the 1 s promise) — and serves C2SP tlog-tiles from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from tocsin.store.sqlite import SqliteStore
from tocsin.tlog.checkpoint import Checkpoint, sign_checkpoint
from tocsin.tlog.tiles import Tile, encode_entry_bundle, read_tile, tile_within
from tocsin.tlog.tree import tree_root
from tocsin.trust.note import Signer

#: Wait this long after an append before signing, so a burst shares one checkpoint.
CHECKPOINT_DELAY_SECS = 0.05


def load_or_create_log_key(path: Path, origin: str) -> Signer:
    """The hub's log signing key (named after the log origin), created on first run."""
    if path.exists():
        signer = Signer.from_skey(path.read_text(encoding="utf-8").strip())
        if signer.name != origin:
            raise ValueError(f"log key {path} is for origin {signer.name!r}, not {origin!r}; "
                             "an origin never changes for an existing log")
        return signer
    signer = Signer.generate(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(signer.skey + "\n")
    path.with_suffix(".pub").write_text(signer.verifier().vkey + "\n", encoding="utf-8")
    return signer


class Checkpointer:
    """Signs a checkpoint for the newest log size soon after each append."""

    def __init__(self, store: SqliteStore, signer: Signer, origin: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.signer = signer
        self.origin = origin
        self.clock = clock
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        latest = store.latest_checkpoint()
        self.size = latest[0] if latest else -1
        self.note: bytes | None = latest[1] if latest else None

    def poke(self) -> None:
        """Something was appended: sign a new checkpoint soon."""
        self._wakeup.set()

    def sign_now(self) -> bytes:
        """Sign and keep a checkpoint for the current size (blocking; small)."""
        size = self.store.log_size()
        if size == self.size and self.note is not None:
            return self.note
        root = tree_root(size, self.store.hash_reader())
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)
        self.store.save_checkpoint(size, note, self.clock())
        self.size, self.note = size, note
        return note

    async def start(self) -> None:
        await asyncio.to_thread(self.sign_now)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            await asyncio.sleep(CHECKPOINT_DELAY_SECS)
            self._wakeup.clear()
            await asyncio.to_thread(self.sign_now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def tile_bytes(store: SqliteStore, tile: Tile, checkpoint_size: int) -> bytes | None:
    """A hash tile or entry bundle, if the current checkpoint covers it; else None."""
    if not tile_within(tile, checkpoint_size):
        return None
    if tile.entries:
        return encode_entry_bundle(store.log_entries(tile.start, tile.end))
    return read_tile(tile, store.hash_reader())

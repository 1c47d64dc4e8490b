"""The hub's side of the transparency log: its key, checkpoints, and tile serving.

The leaves themselves are written by the store in the same transaction as
each alert. This module signs a C2SP checkpoint shortly after appends — the
:class:`Checkpointer` follows the event feed (:mod:`tocsin.feed`) by id — an
alert is delivered at once, marked "logged, proof pending", and a checkpoint
covering it follows within :data:`CHECKPOINT_DELAY_SECS` plus signing time
(well under the 1 s promise) — and serves C2SP tlog-tiles from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from tocsin.feed import EventFeed
from tocsin.services.witness import Witness
from tocsin.services.witness_client import collect_cosignature
from tocsin.store.base import Leadership, NotLeader, Store
from tocsin.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    CosignatureError,
    CosignatureVerifier,
    append_signature_lines,
    open_checkpoint,
    sign_checkpoint,
)
from tocsin.tlog.tiles import Tile, encode_entry_bundle, read_tile, tile_within
from tocsin.tlog.tree import EMPTY_ROOT, HashReader, TlogError, prove_consistency, tree_root
from tocsin.tlog.witness import format_add_checkpoint
from tocsin.trust.note import Signer

log = logging.getLogger("tocsin.log")

#: Wait this long after an append before signing, so a burst shares one checkpoint.
CHECKPOINT_DELAY_SECS = 0.05
#: Longest pause between attempts after signing failed (storage trouble).
CHECKPOINT_RETRY_MAX_SECS = 5.0


#: The last checkpoint the log key signed, kept beside the key and outside the database.
CHECKPOINT_FILE = "log.checkpoint"


def write_checkpoint_file(path: Path, note: bytes) -> None:
    """Replace ``path`` with ``note`` atomically and durably (file and directory fsynced).

    Called every time a checkpoint is signed, *before* it is shown to anyone
    (witnesses, clients): whatever happens to the database afterwards, the
    data directory remembers the largest tree this key ever signed, and the
    hub refuses to start on a store that is behind it (a fork).
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(note)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def load_or_create_log_key(path: Path, origin: str) -> Signer:
    """The hub's log signing key (named after the log origin), created on first run.

    A new key first gets a checkpoint of the empty tree in :data:`CHECKPOINT_FILE`,
    written before the key itself: from then on a key without that file means
    the file was lost, never that it was not yet written. The start-up checks
    (:func:`tocsin.store.integrity.preflight`) have already refused a data
    directory where a new key would fork an existing log.
    """
    if path.exists():
        signer = Signer.from_skey(path.read_text(encoding="utf-8").strip())
        if signer.name != origin:
            raise ValueError(f"log key {path} is for origin {signer.name!r}, not {origin!r}; "
                             "an origin never changes for an existing log")
        return signer
    signer = Signer.generate(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint_file(path.with_name(CHECKPOINT_FILE),
                          sign_checkpoint(Checkpoint(origin, 0, EMPTY_ROOT), signer))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(signer.skey + "\n")
        handle.flush()
        os.fsync(handle.fileno())  # a log key lost in a crash would orphan every checkpoint
    path.with_suffix(".pub").write_text(signer.verifier().vkey + "\n", encoding="utf-8")
    return signer


class RemoteWitness:
    """A witness reached over C2SP tlog-witness HTTP (its submission prefix URL)."""

    def __init__(self, url: str, verifier: CosignatureVerifier) -> None:
        self.url = url
        self.verifier = verifier
        self.name = verifier.name
        self._size = 0  # what we believe it last cosigned; corrected on 409

    def cosign(self, signed: bytes, reader: HashReader) -> bytes:
        line, self._size = collect_cosignature(self.url, self.verifier, signed, reader,
                                               old_size=self._size, timeout=5.0)
        return line


class LocalWitness:
    """A witness running in this process (the demo's): same protocol, no network hop."""

    def __init__(self, witness: Witness, origin: str) -> None:
        self.witness = witness
        self.origin = origin
        self.name = witness.cosigner.name

    def cosign(self, signed: bytes, reader: HashReader) -> bytes:
        state = self.witness.state(self.origin)
        old = state[0] if state else 0
        size = int(signed.split(b"\n")[1])
        proof = prove_consistency(size, old, reader) if 0 < old < size else []
        return self.witness.add_checkpoint(format_add_checkpoint(old, proof, signed))


class CheckpointWitness(Protocol):
    name: str

    def cosign(self, signed: bytes, reader: HashReader) -> bytes:
        """Cosignature line(s) for ``signed``; raises on refusal or failure."""
        ...


class Checkpointer:
    """Signs a checkpoint for the newest log size soon after each append.

    With witnesses configured, each is asked to cosign; their lines are added
    to the checkpoint before it is published. A witness that is down or
    refuses is logged and skipped: the log never stops for a witness, and
    clients holding a k-of-n policy simply see fewer cosignatures.

    It follows the event feed by id (:meth:`tocsin.feed.EventFeed.wait`): every committed
    alert's leaf is in the same transaction as its event, so an event past the last one
    seen means the log grew. A log leaf without an event (a registry version) is signed by
    its writer calling :meth:`sign_now`, which is serialised: checkpoints never go back.
    """

    def __init__(self, store: Store, signer: Signer, origin: str,
                 clock: Callable[[], float] = time.time,
                 witnesses: Sequence[CheckpointWitness] = (),
                 checkpoint_file: Path | None = None) -> None:
        self.store = store
        self.checkpoint_file = checkpoint_file
        self.signer = signer
        self.origin = origin
        self.clock = clock
        self.witnesses = list(witnesses)
        self._signing = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        latest = store.latest_checkpoint()
        if latest is not None:
            try:  # the stored log must be this key's: never continue it under another
                open_checkpoint(latest[1], signer.verifier(), origin)
            except CheckpointError as exc:
                raise ValueError(f"the stored checkpoint of size {latest[0]} does not verify with "
                                 f"the log key: {exc}") from None
        if latest is not None and checkpoint_file is not None and not checkpoint_file.exists():
            # A data directory from before the file was kept: start keeping it now.
            write_checkpoint_file(checkpoint_file, latest[1])
        # One tuple, replaced whole: readers never see a size with another size's note.
        self.state: tuple[int, bytes | None] = latest if latest else (-1, None)
        self.failures = 0
        #: Called (on the signing thread) with each new checkpoint's size once it is kept:
        #: a writer rings the doorbell with it (tocsin.bus).
        self.on_signed: Callable[[int], object] | None = None

    @property
    def size(self) -> int:
        return self.state[0]

    @property
    def note(self) -> bytes | None:
        return self.state[1]

    def sign_now(self) -> bytes:
        """Sign and keep a checkpoint for the current size (blocking; small; one at a time)."""
        with self._signing:
            return self._sign()

    def _sign(self) -> bytes:
        if isinstance(self.store, Leadership) and self.store.fencing_token is None:
            # A shared store this writer does not lead (superseded): it signs nothing more.
            raise NotLeader("this writer does not lead the store: it signs no checkpoint")
        size = self.store.log_size()
        if size == self.size and self.note is not None:
            return self.note
        reader = self.store.hash_reader()
        root = tree_root(size, reader)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)
        if self.checkpoint_file is not None:  # remembered outside the database before anyone sees it
            write_checkpoint_file(self.checkpoint_file, note)
        for witness in self.witnesses:
            try:
                note = append_signature_lines(note, witness.cosign(note, reader))
            except (TlogError, CosignatureError, OSError) as exc:
                if "beyond this checkpoint" in str(exc):  # it saw a larger tree under this key
                    log.critical("witness %s has cosigned a larger tree than this store's %d: the "
                                 "store is behind what log.key signed (a fork); stop the hub and "
                                 "restore the store: %s", witness.name, size, exc)
                    continue
                log.warning("witness %s did not cosign size %d: %s", witness.name, size, exc)
        self.store.save_checkpoint(size, note, self.clock())
        self.state = (size, note)
        if self.on_signed is not None:
            self.on_signed(size)
        return note

    async def start(self, feed: EventFeed) -> None:
        """Sign for the log as it is, then follow ``feed``: sign soon after each commit."""
        after = feed.last_id
        await asyncio.to_thread(self.sign_now)
        self._task = asyncio.create_task(self._run(feed, after), name="checkpointer")

    async def _run(self, feed: EventFeed, after: int) -> None:
        while True:
            await feed.wait(after)
            await asyncio.sleep(CHECKPOINT_DELAY_SECS)  # a burst shares one checkpoint
            newest = feed.last_id
            try:
                await asyncio.to_thread(self.sign_now)  # the log holds at least up to newest
                after = newest
                self.failures = 0
            except Exception:  # never die: alerts would stay "proof pending" for ever
                self.failures += 1
                log.exception("signing a checkpoint failed (%d in a row); retrying", self.failures)
                await asyncio.sleep(min(CHECKPOINT_RETRY_MAX_SECS, 0.1 * 2 ** self.failures))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def tile_bytes(store: Store, tile: Tile, checkpoint_size: int) -> bytes | None:
    """A hash tile or entry bundle, if the current checkpoint covers it; else None."""
    if not tile_within(tile, checkpoint_size):
        return None
    if tile.entries:
        return encode_entry_bundle(store.log_entries(tile.start, tile.end))
    return read_tile(tile, store.hash_reader())

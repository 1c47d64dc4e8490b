"""Write a log as a static C2SP tlog-tiles directory that any file server or CDN can serve.

Layout (spec: ``specs/tlog-tiles.md``)::

    DIR/checkpoint                      the signed checkpoint (written last)
    DIR/tile/<L>/<N>[.p/<W>]            hash tiles, full and partial
    DIR/tile/entries/<N>[.p/<W>]        entry bundles (u16 length-prefixed entries)

A full tile's path never changes content, so it is written once and may be
cached forever; partial tiles and the checkpoint change as the log grows.
Every file is written to a temporary name, fsynced and renamed, and the
checkpoint goes last, so a reader (or mirror) never sees a checkpoint whose
tiles are not there yet. Used to mirror a hub, and by tests to stand up a
real log (honest or deliberately tampered) behind a real HTTP server.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tocsin.tlog.checkpoint import CheckpointError, note_text, parse_checkpoint
from tocsin.tlog.tiles import (
    TILE_WIDTH,
    Tile,
    encode_entry_bundle,
    new_tiles,
    read_tile,
)
from tocsin.tlog.tree import HashReader, MemoryHashStore, TlogError, TreeError, tree_root

__all__ = ["StaticLogError", "write_file_atomic", "write_static_log"]


class StaticLogError(TlogError):
    """The inputs cannot make a consistent static log (too few entries, root mismatch, I/O)."""


def write_file_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_static_log(
    directory: Path | str,
    entries: Sequence[bytes],
    signed_checkpoint: bytes,
    *,
    reader: HashReader | None = None,
    since: int = 0,
    check_root: bool = True,
) -> list[Path]:
    """Publish the tree of the checkpoint's size under ``directory``; return the files written.

    ``entries`` holds at least the first ``size`` entries (entry ``i`` at
    index ``i``). ``reader`` supplies stored hashes (built from ``entries``
    when omitted). ``since`` is the size already published there, so only
    new or grown tiles are written. With ``check_root`` the checkpoint's root
    must equal the tree's: a mirror refuses to publish a mismatch.
    """
    base = Path(directory)
    try:
        cp = parse_checkpoint(note_text(signed_checkpoint))
    except CheckpointError as exc:
        raise StaticLogError(f"not a checkpoint: {exc}") from None
    size = cp.size
    if len(entries) < size:
        raise StaticLogError(f"checkpoint size {size} but only {len(entries)} entries given")
    if not 0 <= since <= size:
        raise StaticLogError(f"already-published size {since} is not within 0..{size}")
    if reader is None:
        store = MemoryHashStore()
        store.append_entries(entries[:size])
        reader = store
    try:
        if check_root and tree_root(size, reader) != cp.root_hash:
            raise StaticLogError(f"the checkpoint's root is not the root of the first {size} entries")
        written: list[Path] = []
        for tile in new_tiles(since, size):
            written.append(_write(base, tile, read_tile(tile, reader)))
            if tile.level == 0:
                first = tile.index * TILE_WIDTH
                bundle = Tile(0, tile.index, tile.width, entries=True)
                written.append(_write(base, bundle, encode_entry_bundle(entries[first : first + tile.width])))
    except (TreeError, OSError) as exc:
        raise StaticLogError(f"cannot write the static log: {exc}") from None
    write_file_atomic(base / "checkpoint", signed_checkpoint)
    written.append(base / "checkpoint")
    return written


def _write(base: Path, tile: Tile, data: bytes) -> Path:
    path = base / tile.path
    write_file_atomic(path, data)
    return path

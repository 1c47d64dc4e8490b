"""C2SP tlog-tiles: tile coordinates and paths, tile bytes, entry bundles, and a verifying reader.

A tile is up to 256 consecutive Merkle Tree Hashes at tree level ``8 * L``; a full
tile is the perfect subtree of height 8 above them, so its hash is one entry of
the tile at level ``L + 1``. Tiles are immutable, which lets a log publish the
whole tree as static files that any CDN or mirror can cache forever, while
clients still compute every proof themselves (spec: ``specs/tlog-tiles.md``).

The log side turns stored hashes into tile bytes (:func:`read_tile`) and lists
what to (re)publish after growing (:func:`new_tiles`). The client side parses
untrusted tile bytes through :class:`TileHashReader`, which checks every tile
against a trusted checkpoint root before handing out a single hash, and so can
feed :func:`tocsin.tlog.tree.prove_inclusion` and friends directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tocsin.tlog.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    HashReader,
    TlogError,
    TreeError,
    _equal,
    _perfect_subtrees,
    leaf_hash,
    node_hash,
    split_stored_hash_index,
    stored_hash_index,
)

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "EntryBundleError",
    "Tile",
    "TileError",
    "TileFetcher",
    "TileHashReader",
    "TileMismatchError",
    "TilePathError",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "encode_tile_index",
    "new_tiles",
    "parse_tile_path",
    "partial_tiles",
    "read_tile",
    "tile_hashes",
    "tile_within",
    "tiles_for_size",
    "verify_entry_bundle",
]

TILE_HEIGHT = 8
"""Tree levels spanned by one tile; fixed by C2SP tlog-tiles."""
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (256, i.e. 8,192 bytes)."""
MAX_TILE_LEVEL = 63
"""Highest tile level a path may name."""
MAX_ENTRY_SIZE = 0xFFFF
"""Largest entry an entry bundle can carry: its length prefix is a big-endian uint16."""
_MAX_TREE_SIZE = 1 << 64  # tree sizes are uint64 everywhere in the C2SP specs
_MAX_PATH_CHARS = 128


class TileError(TlogError):
    """Base class of tile errors."""


class TilePathError(TileError):
    """A tile or entry-bundle path is not one the spec allows (the HTTP layer answers 404)."""


class TileMismatchError(TileError):
    """Tile bytes are malformed or do not hash to the trusted checkpoint root."""


class EntryBundleError(TileError):
    """An entry bundle is malformed, or its entries do not match their level-0 tile."""


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile (``entries=False``) or entry bundle (``entries=True``, level 0).

    ``index`` counts tiles within the level; ``width`` is 256 for a full tile and
    1..255 for a partial one.
    """

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    def __post_init__(self) -> None:
        for name in ("level", "index", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TileError(f"tile {name} must be an integer, got {type(value).__name__}")
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise TileError(f"tile level must be 0..{MAX_TILE_LEVEL}, got {self.level}")
        if self.index < 0:
            raise TileError(f"tile index must not be negative, got {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"tile width must be 1..{TILE_WIDTH}, got {self.width}")
        if self.entries and self.level != 0:
            raise TileError("entry bundles only exist at level 0")

    @property
    def is_partial(self) -> bool:
        """Whether this is a partial (rightmost, still growing) tile."""
        return self.width < TILE_WIDTH

    @property
    def start(self) -> int:
        """Index of the first log entry the tile spans."""
        return self.index << (TILE_HEIGHT * (self.level + 1))

    @property
    def end(self) -> int:
        """One past the last log entry the tile's hashes span (for a partial tile too)."""
        return self.start + (self.width << (TILE_HEIGHT * self.level))

    @property
    def path(self) -> str:
        """The tile's path below the log prefix, e.g. ``tile/1/x001/234.p/17``."""
        head = "tile/entries" if self.entries else f"tile/{self.level}"
        tail = f".p/{self.width}" if self.is_partial else ""
        return f"{head}/{encode_tile_index(self.index)}{tail}"

    def full(self) -> Tile:
        """The full tile this (possibly partial) tile will become."""
        return Tile(self.level, self.index, TILE_WIDTH, self.entries)


# ----------------------------------------------------------------------------- paths


def encode_tile_index(n: int) -> str:
    """Encode a tile index as 3-digit path elements, all but the last prefixed ``x``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise TileError(f"tile index must be a non-negative integer, got {n!r}")
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


_LEVEL_RE = re.compile(r"0|[1-9][0-9]?", re.ASCII)
_WIDTH_RE = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)
_ELEMENT_RE = re.compile(r"x?[0-9]{3}", re.ASCII)


def parse_tile_path(path: str) -> Tile:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (one leading ``/`` ok).

    Only the canonical spelling is accepted, so each tile has exactly one URL
    and one file name: no ``x000`` leading element, no leading zeros in L or W,
    and a tile that starts beyond the largest possible (uint64) tree is refused.
    """
    if not isinstance(path, str):
        raise TilePathError(f"tile path must be a string, got {type(path).__name__}")
    if len(path) > _MAX_PATH_CHARS:
        raise TilePathError(f"tile path is longer than {_MAX_PATH_CHARS} characters")
    shown = repr(path)
    parts = path.removeprefix("/").split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TilePathError(f"{shown} is not of the form tile/<L>/<N> or tile/entries/<N>")
    entries = parts[1] == "entries"
    if entries:
        level = 0
    elif _LEVEL_RE.fullmatch(parts[1]):
        level = int(parts[1])
        if level > MAX_TILE_LEVEL:
            raise TilePathError(f"{shown}: tile level {level} is above {MAX_TILE_LEVEL}")
    else:
        raise TilePathError(f"{shown}: level {parts[1]!r} is not 'entries' or a decimal 0..63")
    elements = parts[2:]
    width = TILE_WIDTH
    if len(elements) >= 2 and elements[-2].endswith(".p"):
        if not _WIDTH_RE.fullmatch(elements[-1]) or int(elements[-1]) >= TILE_WIDTH:
            raise TilePathError(f"{shown}: partial width {elements[-1]!r} is not a decimal 1..255")
        width = int(elements[-1])
        elements = [*elements[:-2], elements[-2].removesuffix(".p")]
    index = 0
    for position, element in enumerate(elements):
        last = position == len(elements) - 1
        if not _ELEMENT_RE.fullmatch(element) or element.startswith("x") == last:
            want = "three digits" if last else "'x' and three digits"
            raise TilePathError(f"{shown}: index element {element!r} must be {want}")
        if position == 0 and not last and element == "x000":
            raise TilePathError(f"{shown}: index has a redundant leading 'x000' element")
        index = index * 1000 + int(element.removeprefix("x"))
    if index << (TILE_HEIGHT * (level + 1)) >= _MAX_TREE_SIZE:
        raise TilePathError(f"{shown}: tile starts beyond the largest possible tree")
    return Tile(level, index, width, entries)


# ----------------------------------------------------------------- tiles of a tree


def _level_count(size: int, level: int) -> int:
    """How many hashes tile level ``level`` holds in a tree of ``size`` leaves."""
    return size >> (TILE_HEIGHT * level)


def _check_size(size: int, what: str = "tree size") -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise TileError(f"{what} must be a non-negative integer, got {size!r}")


def _tile_in_tree(level: int, index: int, size: int) -> Tile:
    """The tile at (level, index) as it appears in the tree of ``size`` (full or partial)."""
    count = _level_count(size, level)
    width = min(TILE_WIDTH, count - index * TILE_WIDTH)
    if width <= 0:
        raise TreeError(f"tile {level}/{index} does not exist in a tree of size {size}")
    return Tile(level, index, width)


def tile_within(tile: Tile, size: int) -> bool:
    """Whether the tree of ``size`` leaves fixes every hash (or entry) of ``tile``.

    Such a tile can be produced from stored hashes at any later size and never
    changes; a log serves partial tiles only for sizes it has checkpointed.
    """
    _check_size(size)
    return tile.end <= size


def tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile, full and partial, that represents the tree of ``size`` leaves."""
    _check_size(size)
    out: list[Tile] = []
    level = 0
    while (count := _level_count(size, level)) > 0:
        full, rest = divmod(count, TILE_WIDTH)
        out.extend(Tile(level, i) for i in range(full))
        if rest:
            out.append(Tile(level, full, rest))
        level += 1
    return out


def partial_tiles(size: int) -> list[Tile]:
    """The rightmost partial tile of each level, highest level first; together they fix the root."""
    _check_size(size)
    out: list[Tile] = []
    level = 0
    while (count := _level_count(size, level)) > 0:
        if count % TILE_WIDTH:
            out.append(Tile(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    out.reverse()
    return out


def new_tiles(old_size: int, new_size: int) -> list[Tile]:
    """Hash tiles that appear or change when the tree grows from ``old_size`` to ``new_size``."""
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    if new_size < old_size:
        raise TileError(f"new tree size {new_size} is smaller than old tree size {old_size}")
    out: list[Tile] = []
    level = 0
    while (after := _level_count(new_size, level)) > 0:
        before = _level_count(old_size, level)
        if after > before:
            for index in range(before // TILE_WIDTH, (after - 1) // TILE_WIDTH + 1):
                out.append(Tile(level, index, min(TILE_WIDTH, after - index * TILE_WIDTH)))
        level += 1
    return out


def read_tile(tile: Tile, reader: HashReader) -> bytes:
    """Build a hash tile's bytes from stored hashes (the log side of ``GET /tile/...``)."""
    if tile.entries:
        raise TileError("entry bundles hold entries, not hashes; read them from the entry store")
    level = TILE_HEIGHT * tile.level
    first = tile.index * TILE_WIDTH
    indexes = [stored_hash_index(level, first + i) for i in range(tile.width)]
    hashes = reader.read_hashes(indexes)
    if len(hashes) != len(indexes) or any(len(h) != HASH_SIZE for h in hashes):
        raise TreeError(f"hash reader returned a malformed answer for {tile.path}")
    return b"".join(hashes)


def tile_hashes(tile: Tile, data: bytes) -> list[bytes]:
    """Split a hash tile's bytes into its hashes, refusing the wrong length."""
    if tile.entries:
        raise TileError("entry bundles hold entries, not hashes; use decode_entry_bundle")
    if len(data) != tile.width * HASH_SIZE:
        raise TileMismatchError(f"{tile.path} has {len(data)} bytes, want {tile.width * HASH_SIZE}")
    return [bytes(data[i : i + HASH_SIZE]) for i in range(0, len(data), HASH_SIZE)]


# ------------------------------------------------------------------- entry bundles


def encode_entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Concatenate entries, each prefixed by its big-endian uint16 length."""
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise EntryBundleError(f"entry {i} has {len(entry)} bytes, over {MAX_ENTRY_SIZE}")
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def decode_entry_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """Split an entry bundle into entries; with ``width``, also require that many."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 2:
            raise EntryBundleError(f"entry {len(entries)}: length prefix cut off at byte {pos}")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if len(data) - pos < length:
            raise EntryBundleError(
                f"entry {len(entries)}: declares {length} bytes, only {len(data) - pos} remain"
            )
        entries.append(bytes(data[pos : pos + length]))
        pos += length
        if len(entries) > TILE_WIDTH:
            raise EntryBundleError(f"bundle holds more than {TILE_WIDTH} entries")
    if width is not None and len(entries) != width:
        raise EntryBundleError(f"bundle holds {len(entries)} entries, want {width}")
    return entries


def verify_entry_bundle(entries: Sequence[bytes], level0_tile: bytes) -> None:
    """Check each entry's RFC 6962 leaf hash against the matching level-0 tile hash.

    ``level0_tile`` must come from a verified source (e.g. :class:`TileHashReader`).
    """
    if len(level0_tile) != len(entries) * HASH_SIZE:
        raise EntryBundleError(f"{len(entries)} entries but the level-0 tile holds {len(level0_tile)} bytes")
    for i, entry in enumerate(entries):
        if not _equal(leaf_hash(entry), level0_tile[i * HASH_SIZE : (i + 1) * HASH_SIZE]):
            raise EntryBundleError(f"entry {i} does not hash to its level-0 tile hash")


# ------------------------------------------------------------------ verifying reader


class TileFetcher(Protocol):
    """Fetches tiles (in parallel if it likes); returns their bytes in the order asked.

    For a partial tile it may return the full tile instead (the spec lets
    clients fall back to it once the partial one is gone); the prefix is used.
    """

    def __call__(self, tiles: Sequence[Tile]) -> list[bytes]:
        """Return the bytes of each tile."""
        ...


def _perfect_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a power-of-two run of hashes, by pairwise hashing."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class TileHashReader:
    """A :class:`~tocsin.tlog.tree.HashReader` over untrusted tiles, checked against a root.

    The first read fetches the partial tiles, which together fix the root of the
    tree of ``size``, and compares that root with the trusted ``root`` (from a
    verified checkpoint). Each full tile is then checked against its entry in
    the already-verified parent tile, so every hash returned is bound to
    ``root``. Verified tiles are cached; a mismatch raises
    :class:`TileMismatchError` and caches nothing from that batch.
    """

    def __init__(self, size: int, root: bytes, fetch: TileFetcher) -> None:
        _check_size(size)
        if len(root) != HASH_SIZE:
            raise TileMismatchError(f"root must be {HASH_SIZE} bytes, got {len(root)}")
        if size == 0 and not _equal(bytes(root), EMPTY_ROOT):
            raise TileMismatchError("the root of an empty tree must be SHA-256 of nothing")
        self._size = size
        self._root = bytes(root)
        self._fetch = fetch
        self._verified: dict[Tile, list[bytes]] = {}

    @property
    def size(self) -> int:
        """Tree size this reader is bound to."""
        return self._size

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Return stored hashes by index, fetching and verifying the tiles they live in."""
        spots: list[tuple[Tile, int, int]] = []
        for i in indexes:
            level, n = split_stored_hash_index(i)
            if (n + 1) << level > self._size:
                raise TreeError(
                    f"stored hash {i} (level {level}, index {n}) is not in tree size {self._size}"
                )
            tile_level, height = divmod(level, TILE_HEIGHT)
            first = n << height
            tile = _tile_in_tree(tile_level, first // TILE_WIDTH, self._size)
            spots.append((tile, first % TILE_WIDTH, 1 << height))
        self._load({tile for tile, _, _ in spots})
        return [_perfect_root(self._verified[tile][start : start + count]) for tile, start, count in spots]

    def tile(self, tile: Tile) -> bytes:
        """Verified bytes of a hash tile of this tree (e.g. a level-0 tile for entry checks)."""
        in_tree = _tile_in_tree(tile.level, tile.index, self._size)
        if tile.entries or in_tree != tile:
            raise TreeError(f"{tile.path} is not a hash tile of tree size {self._size}")
        self._load({tile})
        return b"".join(self._verified[tile])

    def _load(self, wanted: set[Tile]) -> None:
        edge = partial_tiles(self._size)
        need: set[Tile] = set()
        if edge and edge[0] not in self._verified:
            need.update(edge)
        for tile in wanted:
            t = tile
            while t not in self._verified and t not in need:
                need.add(t)
                if t.is_partial:
                    break  # partial tiles are fixed by the root, not by a parent
                t = _tile_in_tree(t.level + 1, t.index // TILE_WIDTH, self._size)
        if not need:
            return
        order = sorted(need, key=lambda t: (-t.level, t.index))
        blobs = self._fetch(order)
        if len(blobs) != len(order):
            raise TileMismatchError(f"fetcher returned {len(blobs)} tiles for {len(order)}")
        fetched: dict[Tile, list[bytes]] = {}
        for tile, blob in zip(order, blobs, strict=True):
            if tile.is_partial and len(blob) == TILE_WIDTH * HASH_SIZE:
                blob = blob[: tile.width * HASH_SIZE]
            fetched[tile] = tile_hashes(tile, blob)
        known = {**self._verified, **fetched}
        if any(t in fetched for t in edge):
            self._check_root(edge, known)
        for tile in order:  # parents (higher levels) come before their children
            if tile.is_partial:
                continue
            parent = _tile_in_tree(tile.level + 1, tile.index // TILE_WIDTH, self._size)
            want = known[parent][tile.index % TILE_WIDTH]
            if not _equal(_perfect_root(fetched[tile]), want):
                raise TileMismatchError(f"{tile.path} does not match its parent {parent.path}")
        self._verified.update(fetched)

    def _check_root(self, edge: Sequence[Tile], known: dict[Tile, list[bytes]]) -> None:
        """Fold the partial tiles' subtrees (largest first) into the root and compare."""
        subtrees: list[bytes] = []
        for tile in edge:
            hashes = known[tile]
            for height, k in _perfect_subtrees(0, tile.width):
                subtrees.append(_perfect_root(hashes[k << height : (k + 1) << height]))
        root = subtrees[-1]
        for left in reversed(subtrees[:-1]):
            root = node_hash(left, root)
        if not _equal(root, self._root):
            raise TileMismatchError(
                f"tiles {', '.join(t.path for t in edge)} do not match the root of tree size {self._size}"
            )

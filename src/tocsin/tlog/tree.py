"""RFC 6962 / RFC 9162 Merkle tree math: hashing, stored hashes, proofs and their verifiers.

The log is an append-only list of entries D[0:n]. Its Merkle Tree Hash (MTH) is
RFC 6962 section 2.1: leaves are SHA-256(0x00 || entry), interior nodes are
SHA-256(0x01 || left || right), and the empty tree hashes to SHA-256("").

Storage follows the "stored hashes" model: every *complete* (perfect, aligned)
subtree hash is written exactly once, when its last leaf arrives, and never
changes again. A hash is addressed by ``(level, n)`` - the n-th subtree of
2**level leaves - or by its position in the append order, the *stored index*.
Because the order is fixed, appending leaf ``n`` always writes hashes starting
at stored index ``stored_hash_count(n)``, so a database can keep them in a plain
table keyed by an integer, in the same transaction as the entry itself.

Everything else (the root of any past size, inclusion and consistency proofs
between any two sizes) is a fold over O(log n) stored hashes, fetched in one
batch through a :class:`HashReader`. This module does no I/O of its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "HashReader",
    "MemoryHashStore",
    "ProofError",
    "TlogError",
    "TreeError",
    "append_batch",
    "leaf_hash",
    "node_hash",
    "prove_consistency",
    "prove_inclusion",
    "root_from_inclusion",
    "split_stored_hash_index",
    "stored_hash_count",
    "stored_hash_index",
    "stored_hashes_for_leaf",
    "subtree_hash",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in a SHA-256 hash; every leaf, node and root hash has this length."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree (RFC 6962 section 2.1): SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class TlogError(Exception):
    """Base class of every transparency-log error raised by ``tocsin.tlog``."""


class ProofError(TlogError):
    """An inclusion or consistency proof is malformed or does not match its roots."""


class TreeError(TlogError):
    """A tree operation was asked for something that cannot exist (bad index or size)."""


class HashReader(Protocol):
    """Where stored hashes come from: a database table, tiles, or memory.

    ``read_hashes`` must return one 32-byte hash per requested stored index, in
    the order asked, or raise. Callers batch their requests so that a remote or
    SQL implementation can answer with a single round trip.
    """

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Return the stored hashes at ``indexes``, in the same order."""
        ...


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash of one log entry: SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right), for any byte strings."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _equal(a: bytes, b: bytes) -> bool:
    """Compare hashes in constant time; roots are public, but this costs nothing."""
    return hmac.compare_digest(a, b)


def _check_count(value: int, what: str, error: type[TlogError]) -> None:
    """Refuse non-integers (including bool) and negatives at the API boundary."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise error(f"{what} must not be negative, got {value}")


def _check_hash(value: bytes, what: str, error: type[TlogError]) -> None:
    if not isinstance(value, bytes | bytearray):
        raise error(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise error(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


# ------------------------------------------------------------------- stored hashes


def stored_hash_count(size: int) -> int:
    """Number of stored hashes a tree of ``size`` leaves has written.

    Each leaf adds its own hash plus one per subtree it completes; summed over
    the first ``size`` leaves that is ``2*size - popcount(size)``.
    """
    _check_count(size, "tree size", TreeError)
    return 2 * size - size.bit_count()


def stored_hash_index(level: int, n: int) -> int:
    """Stored index of the hash of the n-th complete subtree of 2**level leaves.

    That subtree is completed by leaf ``m = (n+1) * 2**level - 1``, whose own
    leaf hash is written at ``stored_hash_count(m)`` and is followed by the
    hashes it completes, one per level; ours is ``level`` places later.
    """
    _check_count(level, "level", TreeError)
    _check_count(n, "subtree index", TreeError)
    last_leaf = ((n + 1) << level) - 1
    return 2 * last_leaf - last_leaf.bit_count() + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """Inverse of :func:`stored_hash_index`: the ``(level, n)`` stored at ``index``."""
    _check_count(index, "stored index", TreeError)
    # Find the leaf m whose append wrote this index: the largest m with
    # stored_hash_count(m) <= index. The count is strictly increasing in m and
    # m <= (index + popcount(m)) / 2, so a short binary search suffices.
    lo, hi = 0, index // 2 + 64
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if 2 * mid - mid.bit_count() <= index:
            lo = mid
        else:
            hi = mid - 1
    level = index - (2 * lo - lo.bit_count())
    return level, ((lo + 1) >> level) - 1


def _read(reader: HashReader, indexes: Sequence[int]) -> list[bytes]:
    """Read through ``reader`` and refuse an answer of the wrong shape."""
    if not indexes:
        return []
    hashes = reader.read_hashes(indexes)
    if len(hashes) != len(indexes):
        raise TreeError(f"hash reader returned {len(hashes)} hashes for {len(indexes)} indexes")
    for i, h in zip(indexes, hashes, strict=True):
        if len(h) != HASH_SIZE:
            raise TreeError(f"hash reader returned {len(h)} bytes for stored index {i}")
    return [bytes(h) for h in hashes]


def _perfect_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """Split D[lo:hi] into maximal aligned perfect subtrees, largest first, as (level, n).

    For every range that is a node of an RFC 6962 tree, folding these hashes
    from the right gives the node's MTH.
    """
    parts: list[tuple[int, int]] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo:
            level = min(level, (lo & -lo).bit_length() - 1)
        parts.append((level, lo >> level))
        lo += 1 << level
    return parts


def _range_hashes(ranges: Sequence[tuple[int, int]], reader: HashReader) -> list[bytes]:
    """MTH of each range, reading every stored hash needed in a single batch."""
    plans = [_perfect_subtrees(lo, hi) for lo, hi in ranges]
    indexes = [stored_hash_index(level, n) for plan in plans for level, n in plan]
    hashes = _read(reader, indexes)
    out: list[bytes] = []
    pos = 0
    for plan in plans:
        chunk = hashes[pos : pos + len(plan)]
        pos += len(plan)
        h = chunk[-1]
        for left in reversed(chunk[:-1]):
            h = node_hash(left, h)
        out.append(h)
    return out


def tree_root(size: int, reader: HashReader) -> bytes:
    """Root hash of the first ``size`` leaves, from at most log2(size)+1 stored hashes."""
    _check_count(size, "tree size", TreeError)
    if size == 0:
        return EMPTY_ROOT
    return _range_hashes([(0, size)], reader)[0]


def subtree_hash(lo: int, hi: int, reader: HashReader) -> bytes:
    """MTH of D[lo:hi] for a range that is a node of some tree (e.g. a tile's span)."""
    _check_count(lo, "range start", TreeError)
    _check_count(hi, "range end", TreeError)
    if hi <= lo:
        raise TreeError(f"empty or reversed range [{lo}, {hi})")
    return _range_hashes([(lo, hi)], reader)[0]


def append_batch(size: int, leaf_hashes: Iterable[bytes], reader: HashReader) -> list[tuple[int, bytes]]:
    """Stored hashes to persist when appending ``leaf_hashes`` to a tree of ``size``.

    Returns ``(stored_index, hash)`` pairs in increasing, contiguous index order
    starting at ``stored_hash_count(size)``. Only the old tree's right edge
    (one hash per set bit of ``size``) is read, in one batch; everything else
    is computed in memory, so a batch costs about two SHA-256 calls per leaf.
    """
    _check_count(size, "tree size", TreeError)
    leaf_hashes = list(leaf_hashes)  # iterated twice: a generator would silently run dry
    for i, h in enumerate(leaf_hashes):
        _check_hash(h, f"leaf hash {i} of the batch", TreeError)
    edge = _perfect_subtrees(0, size)
    edge_hashes = _read(reader, [stored_hash_index(level, n) for level, n in edge])
    # The stack holds the right edge as (level, hash), levels strictly decreasing.
    stack = [(level, h) for (level, _), h in zip(edge, edge_hashes, strict=True)]
    out: list[tuple[int, bytes]] = []
    index = stored_hash_count(size)
    sha256 = hashlib.sha256
    for leaf in leaf_hashes:
        h = bytes(leaf)
        out.append((index, h))
        index += 1
        level = 0
        while stack and stack[-1][0] == level:
            h = sha256(_NODE_PREFIX + stack.pop()[1] + h).digest()
            level += 1
            out.append((index, h))
            index += 1
        stack.append((level, h))
    return out


def stored_hashes_for_leaf(n: int, leaf: bytes, reader: HashReader) -> list[bytes]:
    """The hashes appending leaf ``n`` (hash ``leaf``) writes, from ``stored_hash_count(n)`` on."""
    return [h for _, h in append_batch(n, [leaf], reader)]


# ------------------------------------------------------------------------- proofs


def _split(n: int) -> int:
    """Largest power of two strictly less than ``n`` (n >= 2): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges whose MTHs form PATH(index, D[0:size]) (RFC 9162 2.1.3.1), leaf side first."""
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            out.append((mid, hi))
            hi = mid
        else:
            out.append((lo, mid))
            lo = mid
    out.reverse()
    return out


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Ranges whose MTHs form PROOF(size1, D[0:size2]) (RFC 9162 2.1.4.1), 0 < size1 <= size2."""
    out: list[tuple[int, int]] = []
    lo, hi = 0, size2
    whole_old_tree = True  # SUBPROOF's b: is D[lo:size1] still the entire old tree?
    while size1 != hi:
        mid = lo + _split(hi - lo)
        if size1 <= mid:
            out.append((mid, hi))
            hi = mid
        else:
            out.append((lo, mid))
            lo = mid
            whole_old_tree = False
    if not whole_old_tree:
        out.append((lo, hi))
    out.reverse()
    return out


def prove_inclusion(size: int, index: int, reader: HashReader) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves, leaf's sibling first."""
    _check_count(size, "tree size", TreeError)
    _check_count(index, "leaf index", TreeError)
    if index >= size:
        raise TreeError(f"leaf index {index} is not in a tree of size {size}")
    return _range_hashes(_inclusion_ranges(index, size), reader)


def prove_consistency(size2: int, size1: int, reader: HashReader) -> list[bytes]:
    """Consistency proof that the tree of ``size1`` leaves is a prefix of the one of ``size2``."""
    _check_count(size1, "old tree size", TreeError)
    _check_count(size2, "new tree size", TreeError)
    if size1 > size2:
        raise TreeError(f"old tree size {size1} is larger than new tree size {size2}")
    if size1 == 0:
        raise TreeError("a consistency proof from the empty tree is meaningless")
    return _range_hashes(_consistency_ranges(size1, size2), reader)


def _check_proof(proof: Sequence[bytes], want: int, what: str) -> None:
    if len(proof) != want:
        raise ProofError(f"{what} has {len(proof)} hash(es), the tree shape requires {want}")
    for i, h in enumerate(proof):
        _check_hash(h, f"proof hash {i}", ProofError)


def root_from_inclusion(leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes] | None) -> bytes:
    """The root an inclusion proof implies (RFC 9162 2.1.3.2), or :class:`ProofError`."""
    _check_count(leaf_index, "leaf index", ProofError)
    _check_count(tree_size, "tree size", ProofError)
    if leaf_index >= tree_size:
        raise ProofError(f"leaf index {leaf_index} is not in a tree of size {tree_size}")
    _check_hash(leaf, "leaf hash", ProofError)
    proof = list(proof or [])
    _check_proof(
        proof,
        len(_inclusion_ranges(leaf_index, tree_size)),
        f"inclusion proof for leaf {leaf_index} in tree size {tree_size}",
    )
    fn, sn, r = leaf_index, tree_size - 1, bytes(leaf)
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable after the length check; kept as the RFC's own guard
        raise ProofError("inclusion proof is too short for the tree shape")
    return r


def verify_inclusion(
    leaf_index: int,
    tree_size: int,
    leaf: bytes,
    proof: Sequence[bytes] | None,
    root: bytes,
) -> None:
    """Check that ``leaf`` is entry ``leaf_index`` of the tree with ``root``; raise ProofError."""
    computed = root_from_inclusion(leaf_index, tree_size, leaf, proof)
    if not _equal(computed, bytes(root)):
        raise ProofError(
            f"inclusion proof for leaf {leaf_index} leads to root {computed.hex()}, "
            f"not the expected root of tree size {tree_size}"
        )


def consistency_roots(size1: int, size2: int, proof: Sequence[bytes], seed: bytes
                      ) -> tuple[bytes, bytes]:
    """RFC 9162 2.1.4.2's two folds: the (old, new) roots a consistency proof implies.

    ``seed`` stands for the hash of the first ``size1`` leaves when ``size1`` is a
    power of two (the proof omits it then): the old root, or — for evidence of a
    split view — the hash the new tree claims for that range. Sizes must satisfy
    ``0 < size1 < size2``; a proof of the wrong length raises :class:`ProofError`.
    """
    path = [seed, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    if not path:
        raise ProofError("consistency proof is empty")
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long for the tree shape")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short for the tree shape")
    return fr, sr


def verify_consistency(
    size1: int,
    size2: int,
    proof: Sequence[bytes] | None,
    root1: bytes,
    root2: bytes,
) -> None:
    """Check that tree ``root2`` (``size2``) extends tree ``root1`` (``size1``), RFC 9162 2.1.4.2.

    Edge rules match the reference implementation: ``size1 == 0`` is always an
    error (nothing to be consistent with), and equal sizes need an empty proof
    and byte-equal roots.
    """
    _check_count(size1, "old tree size", ProofError)
    _check_count(size2, "new tree size", ProofError)
    proof = list(proof or [])
    if size2 < size1:
        raise ProofError(f"new tree size {size2} is smaller than old tree size {size1}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError(f"equal tree sizes need an empty proof, got {len(proof)} hash(es)")
        if not _equal(bytes(root1), bytes(root2)):
            raise ProofError(f"roots differ for the same tree size {size1}")
        return
    _check_proof(
        proof,
        len(_consistency_ranges(size1, size2)),
        f"consistency proof from size {size1} to {size2}",
    )
    fr, sr = consistency_roots(size1, size2, proof, bytes(root1))
    if not _equal(fr, bytes(root1)):
        raise ProofError(f"consistency proof does not lead to the old root of size {size1}")
    if not _equal(sr, bytes(root2)):
        raise ProofError(f"consistency proof does not lead to the new root of size {size2}")


# ------------------------------------------------------------------ memory store


class MemoryHashStore:
    """A complete in-memory log of stored hashes, for tests, benchmarks and monitors.

    Hashes live back to back in one ``bytearray`` (32 bytes each), which keeps a
    million-leaf tree at about 64 MB and makes reads plain slices.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def __len__(self) -> int:
        """Number of stored hashes held (``stored_hash_count(size)``)."""
        return len(self._buf) // HASH_SIZE

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        """Return stored hashes by index; an index not yet written is a TreeError."""
        count = len(self._buf) // HASH_SIZE
        buf = self._buf
        out: list[bytes] = []
        for i in indexes:
            if not 0 <= i < count:
                raise TreeError(f"stored index {i} is not in a store of {count} hashes")
            out.append(bytes(buf[i * HASH_SIZE : (i + 1) * HASH_SIZE]))
        return out

    def append(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, bytes]]:
        """Append leaf hashes as one batch; return the ``(stored_index, hash)`` pairs written."""
        batch = list(leaf_hashes)
        records = append_batch(self._size, batch, self)
        self._buf += b"".join(h for _, h in records)
        self._size += len(batch)
        return records

    def append_entries(self, entries: Iterable[bytes]) -> list[tuple[int, bytes]]:
        """Hash raw entries as RFC 6962 leaves and append them as one batch."""
        return self.append([leaf_hash(e) for e in entries])

    def root(self, size: int | None = None) -> bytes:
        """Root of the current tree, or of an earlier ``size``."""
        size = self._size if size is None else size
        if size > self._size:
            raise TreeError(f"tree size {size} is beyond the store's size {self._size}")
        return tree_root(size, self)

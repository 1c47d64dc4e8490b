"""The stored-hash tree against a naive recursive RFC 9162 reference, plus property tests.

The reference below is the RFC's own recursive definitions (MTH, PATH, PROOF,
SUBPROOF) over a plain list of leaves, written as literally as possible so
that it shares no code or shortcuts with ``tocsin.tlog.tree``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.tlog.tree import (
    EMPTY_ROOT,
    MemoryHashStore,
    ProofError,
    TreeError,
    append_batch,
    leaf_hash,
    prove_consistency,
    prove_inclusion,
    root_from_inclusion,
    split_stored_hash_index,
    stored_hash_count,
    stored_hash_index,
    stored_hashes_for_leaf,
    subtree_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

MAX_NAIVE = 70


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


ENTRIES = [f"entry {i}".encode() for i in range(2048)]


@pytest.fixture(scope="module")
def small() -> MemoryHashStore:
    store = MemoryHashStore()
    store.append_entries(ENTRIES[:MAX_NAIVE])
    return store


_BIG = MemoryHashStore()
_BIG.append_entries(ENTRIES)


def test_roots_match_reference_for_every_size(small: MemoryHashStore) -> None:
    for n in range(MAX_NAIVE + 1):
        assert small.root(n) == mth(ENTRIES[:n]), n
    assert small.root(0) == EMPTY_ROOT


def test_inclusion_proofs_match_reference(small: MemoryHashStore) -> None:
    for n in range(1, MAX_NAIVE + 1):
        root = mth(ENTRIES[:n])
        for m in range(n):
            proof = prove_inclusion(n, m, small)
            assert proof == path(m, ENTRIES[:n]), (m, n)
            verify_inclusion(m, n, leaf_hash(ENTRIES[m]), proof, root)


def test_consistency_proofs_match_reference(small: MemoryHashStore) -> None:
    roots = [mth(ENTRIES[:n]) for n in range(MAX_NAIVE + 1)]
    for n in range(1, MAX_NAIVE + 1):
        for m in range(1, n + 1):
            proof = prove_consistency(n, m, small)
            assert proof == subproof(m, ENTRIES[:n], True), (m, n)
            verify_consistency(m, n, proof, roots[m], roots[n])


def test_stored_hashes_are_the_perfect_subtrees(small: MemoryHashStore) -> None:
    assert len(small) == stored_hash_count(MAX_NAIVE)
    for index in range(len(small)):
        level, n = split_stored_hash_index(index)
        assert stored_hash_index(level, n) == index
        want = mth(ENTRIES[n << level : (n + 1) << level])
        assert small.read_hashes([index]) == [want]


def test_stored_hash_index_order() -> None:
    # Append order: leaf 0, leaf 1, node(0-1), leaf 2, leaf 3, node(2-3), node(0-3), leaf 4
    order = [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4)]
    assert [stored_hash_index(level, n) for level, n in order] == list(range(8))
    assert [split_stored_hash_index(i) for i in range(8)] == order
    assert [stored_hash_count(n) for n in range(6)] == [0, 1, 3, 4, 7, 8]


@given(st.integers(min_value=0, max_value=2**63))
def test_split_inverts_stored_hash_index_on_large_indexes(index: int) -> None:
    assert stored_hash_index(*split_stored_hash_index(index)) == index


def test_subtree_hash(small: MemoryHashStore) -> None:
    assert subtree_hash(32, 64, small) == mth(ENTRIES[32:64])
    assert subtree_hash(64, 70, small) == mth(ENTRIES[64:70])
    with pytest.raises(TreeError, match="empty or reversed"):
        subtree_hash(5, 5, small)


@given(
    st.integers(min_value=0, max_value=300),
    st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_batches_write_the_same_hashes_as_single_appends(start: int, cuts: list[int]) -> None:
    one_by_one = MemoryHashStore()
    for e in ENTRIES[: start + sum(cuts)]:
        one_by_one.append_entries([e])
    batched = MemoryHashStore()
    batched.append_entries(ENTRIES[:start])
    pos = start
    for cut in cuts:
        records = batched.append_entries(ENTRIES[pos : pos + cut])
        if records:  # indexes are contiguous from the old stored-hash count
            assert [i for i, _ in records] == list(
                range(stored_hash_count(pos), stored_hash_count(pos + cut))
            )
        pos += cut
    assert batched.size == one_by_one.size == pos
    assert batched.read_hashes(range(len(batched))) == one_by_one.read_hashes(range(len(one_by_one)))


def test_append_batch_accepts_any_iterable(small: MemoryHashStore) -> None:
    leaves = (leaf_hash(e) for e in ENTRIES[MAX_NAIVE : MAX_NAIVE + 3])
    records = append_batch(MAX_NAIVE, leaves, small)
    assert len(records) == stored_hash_count(MAX_NAIVE + 3) - stored_hash_count(MAX_NAIVE)


def test_stored_hashes_for_leaf(small: MemoryHashStore) -> None:
    for n in (0, 1, 6, 7, 31, 63, 69):
        got = stored_hashes_for_leaf(n, leaf_hash(ENTRIES[n]), small)
        first = stored_hash_count(n)
        assert got == small.read_hashes(range(first, stored_hash_count(n + 1)))


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=300)
@given(st.data())
def test_inclusion_round_trip_and_mutations(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=len(ENTRIES)), "size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), "index")
    root = tree_root(size, _BIG)
    leaf = leaf_hash(ENTRIES[index])
    proof = prove_inclusion(size, index, _BIG)
    verify_inclusion(index, size, leaf, proof, root)
    assert root_from_inclusion(index, size, leaf, proof) == root

    with pytest.raises(ProofError):
        verify_inclusion(index, size, _flip(leaf, data.draw(st.integers(0, 255))), proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, proof, _flip(root, data.draw(st.integers(0, 255))))
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, [*proof, root], root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), "at")
        bad = list(proof)
        bad[at] = _flip(bad[at], data.draw(st.integers(0, 255)))
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, bad, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, proof[:at] + proof[at + 1 :], root)
    other = data.draw(st.integers(min_value=0, max_value=size - 1), "other")
    if other != index:
        with pytest.raises(ProofError):
            verify_inclusion(other, size, leaf, proof, root)


@settings(max_examples=300)
@given(st.data())
def test_consistency_round_trip_and_mutations(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(min_value=1, max_value=len(ENTRIES)), "size2")
    size1 = data.draw(st.integers(min_value=1, max_value=size2), "size1")
    root1, root2 = tree_root(size1, _BIG), tree_root(size2, _BIG)
    proof = prove_consistency(size2, size1, _BIG)
    verify_consistency(size1, size2, proof, root1, root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, _flip(root1, data.draw(st.integers(0, 255))), root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, root1, _flip(root2, data.draw(st.integers(0, 255))))
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, [*proof, root1], root1, root2)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), "at")
        bad = list(proof)
        bad[at] = _flip(bad[at], data.draw(st.integers(0, 255)))
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, bad, root1, root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof[:at] + proof[at + 1 :], root1, root2)


def test_prover_rejects_impossible_requests(small: MemoryHashStore) -> None:
    with pytest.raises(TreeError, match="not in a tree of size 5"):
        prove_inclusion(5, 5, small)
    with pytest.raises(TreeError, match="larger than new tree size"):
        prove_consistency(3, 4, small)
    with pytest.raises(TreeError, match="empty tree"):
        prove_consistency(3, 0, small)
    with pytest.raises(TreeError, match="not in a store of"):
        prove_inclusion(MAX_NAIVE + 1, 0, small)
    with pytest.raises(TreeError, match="beyond the store"):
        small.root(MAX_NAIVE + 1)
    with pytest.raises(TreeError, match="must not be negative"):
        tree_root(-1, small)
    with pytest.raises(TreeError, match="must be an integer"):
        stored_hash_index(True, 0)


def test_append_rejects_bad_leaf_hashes() -> None:
    store = MemoryHashStore()
    with pytest.raises(TreeError, match="leaf hash 1 of the batch must be 32 bytes"):
        store.append([b"\x00" * 32, b"short"])
    assert store.size == 0 and len(store) == 0


class _LyingReader:
    """A HashReader that answers with the wrong shape; the tree must not trust it."""

    def __init__(self, answer: list[bytes]) -> None:
        self.answer = answer

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        return self.answer


def test_malformed_reader_answers_are_refused() -> None:
    with pytest.raises(TreeError, match="returned 0 hashes for 1"):
        tree_root(1, _LyingReader([]))
    with pytest.raises(TreeError, match="returned 3 bytes"):
        tree_root(1, _LyingReader([b"abc"]))
    with pytest.raises(TreeError, match="returned 0 hashes"):
        append_batch(3, [leaf_hash(b"x")], _LyingReader([]))


def test_verifiers_refuse_malformed_arguments() -> None:
    leaf = leaf_hash(b"a")
    with pytest.raises(ProofError, match="must be an integer"):
        verify_inclusion("0", 1, leaf, [], leaf)  # type: ignore[arg-type]
    with pytest.raises(ProofError, match="must not be negative"):
        verify_inclusion(-1, 1, leaf, [], leaf)
    with pytest.raises(ProofError, match="proof hash 0 must be 32 bytes"):
        verify_inclusion(0, 2, leaf, [b"x" * 31], leaf)
    with pytest.raises(ProofError, match="must be bytes"):
        verify_inclusion(0, 1, "leaf", [], leaf)  # type: ignore[arg-type]
    with pytest.raises(ProofError, match="must be an integer"):
        verify_consistency(1.0, 2, [leaf], leaf, leaf)  # type: ignore[arg-type]
    verify_inclusion(0, 1, leaf, None, leaf)  # None means an empty proof, as in the vectors

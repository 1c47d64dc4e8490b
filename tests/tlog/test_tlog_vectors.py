"""The tree against vectors nobody on the team wrote (transparency-dev/merkle, golang/mod).

Every inclusion and consistency probe file must give the reference library's
verdict, error cases included; the transcribed 8-leaf tree pins roots, stored
node hashes and the exact proofs the prover must produce.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.tlog.tree import (
    EMPTY_ROOT,
    MemoryHashStore,
    ProofError,
    _perfect_subtrees,
    leaf_hash,
    node_hash,
    prove_consistency,
    prove_inclusion,
    stored_hash_index,
    verify_consistency,
    verify_inclusion,
)

SHARED = Path(__file__).resolve().parents[1] / "vectors"
MERKLE = SHARED / "merkle"



def _probe_files(kind: str) -> list[Path]:
    folder = MERKLE / "testdata" / kind
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_bytes())
    return data


def _id(path: Path) -> str:
    return str(path.relative_to(MERKLE / "testdata"))


INCLUSION = _probe_files("inclusion")
CONSISTENCY = _probe_files("consistency")


def test_all_probe_files_are_present() -> None:
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_probe(path: Path) -> None:
    v = _load(path)
    args = (
        v["leafIdx"],
        v["treeSize"],
        _b64(v["leafHash"]),
        [_b64(p) for p in v["proof"] or []],
        _b64(v["root"]),
    )
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_probe(path: Path) -> None:
    v = _load(path)
    args = (
        v["size1"],
        v["size2"],
        [_b64(p) for p in v["proof"] or []],
        _b64(v["root1"]),
        _b64(v["root2"]),
    )
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


@pytest.fixture(scope="module")
def roots() -> dict[str, Any]:
    return _load(MERKLE / "roots.json")


@pytest.fixture(scope="module")
def store(roots: dict[str, Any]) -> MemoryHashStore:
    s = MemoryHashStore()
    s.append_entries(bytes.fromhex(h) for h in roots["leaves_hex"])
    return s


def test_hasher_examples(roots: dict[str, Any]) -> None:
    assert EMPTY_ROOT.hex() == roots["empty_root_hex"]
    kinds = set()
    for ex in roots["hasher_examples"]:
        kinds.add(ex["kind"])
        if ex["kind"] == "empty_root":
            got = EMPTY_ROOT
        elif ex["kind"] == "leaf":
            got = leaf_hash(bytes.fromhex(ex["input_hex"]))
        else:
            got = node_hash(bytes.fromhex(ex["left_hex"]), bytes.fromhex(ex["right_hex"]))
        assert got.hex() == ex["want_hex"], ex["desc"]
    assert kinds == {"empty_root", "leaf", "node"}


def test_roots_of_every_prefix(roots: dict[str, Any], store: MemoryHashStore) -> None:
    for size, want in enumerate(roots["roots_by_tree_size_hex"]):
        assert store.root(size).hex() == want, size


def test_every_stored_node_hash(roots: dict[str, Any], store: MemoryHashStore) -> None:
    for level, row in enumerate(roots["node_hashes_hex"]):
        indexes = [stored_hash_index(level, n) for n in range(len(row))]
        assert [h.hex() for h in store.read_hashes(indexes)] == row


def test_compact_ranges_are_the_right_edge(roots: dict[str, Any], store: MemoryHashStore) -> None:
    for size, want in enumerate(roots["compact_ranges_hex"]):
        edge = [stored_hash_index(level, n) for level, n in _perfect_subtrees(0, size)]
        assert [h.hex() for h in store.read_hashes(edge)] == want, size


def test_reference_inclusion_proofs(roots: dict[str, Any], store: MemoryHashStore) -> None:
    leaves = [leaf_hash(bytes.fromhex(h)) for h in roots["leaves_hex"]]
    assert roots["inclusion_proofs"]
    for case in roots["inclusion_proofs"]:
        index, size = case["leaf_index"], case["tree_size"]
        proof = prove_inclusion(size, index, store)
        assert [h.hex() for h in proof] == case["proof_hex"], case
        verify_inclusion(index, size, leaves[index], proof, store.root(size))


def test_reference_consistency_proofs(roots: dict[str, Any], store: MemoryHashStore) -> None:
    assert roots["consistency_proofs"]
    for case in roots["consistency_proofs"]:
        size1, size2 = case["size1"], case["size2"]
        proof = prove_consistency(size2, size1, store)
        assert [h.hex() for h in proof] == case["proof_hex"], case
        verify_consistency(size1, size2, proof, store.root(size1), store.root(size2))


@pytest.mark.parametrize("kind", ["inclusion", "consistency"])
def test_prover_reproduces_every_happy_path(kind: str, store: MemoryHashStore) -> None:
    """Folders 0-4 are probes over the same 8-leaf tree; our prover must match them."""
    happy = [p for p in _probe_files(kind) if p.name == "happy-path.json"]
    assert len(happy) >= 5
    for path in happy:
        v = _load(path)
        if kind == "inclusion":
            got = prove_inclusion(v["treeSize"], v["leafIdx"], store)
            assert _b64(v["root"]) == store.root(v["treeSize"])
        else:
            got = prove_consistency(v["size2"], v["size1"], store)
            assert _b64(v["root2"]) == store.root(v["size2"])
        assert got == [_b64(p) for p in v["proof"] or []], _id(path)


def test_go_sumdb_record_hash() -> None:
    vectors = _load(SHARED / "sumdb-tlog" / "go-tlog-vectors.json")
    assert vectors["record_hash"]
    for case in vectors["record_hash"]:
        assert leaf_hash(bytes.fromhex(case["data_hex"])) == _b64(case["want_b64"])

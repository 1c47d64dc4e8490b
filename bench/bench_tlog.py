"""Benchmark the transparency-log tree: append throughput, proof cost and size, verifier time.

Run: ``python bench/bench_tlog.py [--leaves 1000000] [--batch 1000] [--proofs 2000]``.
Everything is single-threaded, in-process, on the in-memory store (so append
figures exclude database writes) with stdlib hashlib as the only native code.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence

from tocsin.tlog.tiles import Tile, TileHashReader, read_tile
from tocsin.tlog.tree import (
    HASH_SIZE,
    MemoryHashStore,
    leaf_hash,
    prove_consistency,
    prove_inclusion,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def _per_call_us(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and 99th-percentile wall time of ``fn`` in microseconds."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--proofs", type=int, default=2_000)
    args = parser.parse_args()
    n, rng = args.leaves, random.Random(6962)
    print(f"python {platform.python_version()} on {platform.machine()}, single thread")

    entries = [b"alert %d " % i + bytes(200) for i in range(n)]  # ~210-byte entries
    store = MemoryHashStore()
    t0 = time.perf_counter()
    for start in range(0, n, args.batch):
        store.append_entries(entries[start : start + args.batch])
    elapsed = time.perf_counter() - t0
    print(
        f"append, batches of {args.batch}: {n / elapsed:,.0f} leaves/s "
        f"({n:,} leaves in {elapsed:.2f} s, {len(store):,} stored hashes)"
    )

    single = MemoryHashStore()
    count = min(n, 100_000)
    t0 = time.perf_counter()
    for e in entries[:count]:
        single.append_entries([e])
    elapsed = time.perf_counter() - t0
    print(f"append, one leaf per call:  {count / elapsed:,.0f} leaves/s ({count:,} leaves)")

    root = store.root()
    indexes = [rng.randrange(n) for _ in range(args.proofs)]
    olds = [rng.randrange(1, n) for _ in range(args.proofs)]
    it = iter(indexes * 2)
    med, p99 = _per_call_us(lambda: prove_inclusion(n, next(it), store), args.proofs)
    sizes = [len(prove_inclusion(n, i, store)) * HASH_SIZE for i in indexes[:200]]
    print(
        f"inclusion proof at {n:,}: produce median {med:.1f} us, p99 {p99:.1f} us; "
        f"size {min(sizes)}-{max(sizes)} bytes"
    )
    it = iter(olds * 2)
    med, p99 = _per_call_us(lambda: prove_consistency(n, next(it), store), args.proofs)
    sizes = [len(prove_consistency(n, m, store)) * HASH_SIZE for m in olds[:200]]
    print(
        f"consistency proof {n:,} <- random: produce median {med:.1f} us, p99 {p99:.1f} us; "
        f"size {min(sizes)}-{max(sizes)} bytes"
    )

    cases = [(i, leaf_hash(entries[i]), prove_inclusion(n, i, store)) for i in indexes[:500]]
    it2 = iter(cases * 4)

    def verify_one() -> None:
        i, leaf, proof = next(it2)
        verify_inclusion(i, n, leaf, proof, root)

    med, p99 = _per_call_us(verify_one, len(cases))
    print(f"verify inclusion at {n:,}: median {med:.1f} us, p99 {p99:.1f} us")
    ccases = [(m, store.root(m), prove_consistency(n, m, store)) for m in olds[:500]]
    it3 = iter(ccases * 4)

    def verify_cons() -> None:
        m, old_root, proof = next(it3)
        verify_consistency(m, n, proof, old_root, root)

    med, p99 = _per_call_us(verify_cons, len(ccases))
    print(f"verify consistency at {n:,}: median {med:.1f} us, p99 {p99:.1f} us")

    med, p99 = _per_call_us(lambda: tree_root(n, store), 1_000)
    print(f"root of {n:,} from stored hashes: median {med:.1f} us")

    fetched: list[int] = []

    def fetch(tiles: Sequence[Tile]) -> list[bytes]:
        blobs = [read_tile(t, store) for t in tiles]
        fetched.append(sum(len(b) for b in blobs))
        return blobs

    t0 = time.perf_counter()
    reader = TileHashReader(n, root, fetch)
    index = indexes[0]
    proof = prove_inclusion(n, index, reader)
    elapsed = (time.perf_counter() - t0) * 1e3
    verify_inclusion(index, n, leaf_hash(entries[index]), proof, root)
    print(
        f"client inclusion proof from cold tiles: {elapsed:.1f} ms incl. tile verification, "
        f"{sum(fetched):,} tile bytes in {len(fetched)} batch(es)"
    )


if __name__ == "__main__":
    main()

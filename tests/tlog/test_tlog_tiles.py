"""C2SP tlog-tiles: paths, the spec's own worked examples, tile bytes and the verifying reader."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.tlog.tiles import (
    EntryBundleError,
    Tile,
    TileError,
    TileHashReader,
    TileMismatchError,
    TilePathError,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_tile_index,
    new_tiles,
    parse_tile_path,
    partial_tiles,
    read_tile,
    tile_hashes,
    tile_within,
    tiles_for_size,
    verify_entry_bundle,
)
from tocsin.tlog.tree import (
    EMPTY_ROOT,
    MemoryHashStore,
    TreeError,
    leaf_hash,
    prove_consistency,
    prove_inclusion,
    stored_hash_index,
    subtree_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

SIZE = 70_000  # the spec's worked example: three tile levels, partial at each
ENTRIES = [i.to_bytes(4, "big") * (1 + i % 3) for i in range(SIZE)]
STORE = MemoryHashStore()
STORE.append_entries(ENTRIES)
ROOT = STORE.root()
TILES = {t: read_tile(t, STORE) for t in tiles_for_size(SIZE)}


class Server:
    """Serves tiles from stored hashes like the log would, counting fetches; can be told to lie."""

    def __init__(self, tampered: dict[Tile, bytes] | None = None) -> None:
        self.tampered = tampered or {}
        self.fetched: Counter[Tile] = Counter()

    def __call__(self, tiles: Sequence[Tile]) -> list[bytes]:
        self.fetched.update(tiles)
        return [self.tampered.get(t) or read_tile(t, STORE) for t in tiles]


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 1
    return bytes(b)


# ------------------------------------------------------------------- spec examples


def test_spec_example_tree_of_70000() -> None:
    tiles = tiles_for_size(SIZE)
    full = Counter(t.level for t in tiles if not t.is_partial)
    partial = {t.level: t.width for t in tiles if t.is_partial}
    assert full == {0: 273, 1: 1}
    assert partial == {0: 112, 1: 17, 2: 1}


def test_spec_example_tree_of_256() -> None:
    assert tiles_for_size(256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles_for_size(0) == []


def test_spec_example_index_encoding() -> None:
    assert encode_tile_index(1234067) == "x001/x234/067"
    assert encode_tile_index(0) == "000"
    assert encode_tile_index(1000) == "x001/000"
    assert Tile(0, 1234067).path == "tile/0/x001/x234/067"
    assert Tile(1, 17, 5).path == "tile/1/017.p/5"
    assert Tile(0, 3, 200, entries=True).path == "tile/entries/003.p/200"


# ------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("tile/0/x001/x234/067", Tile(0, 1234067)),
        ("/tile/3/000.p/1", Tile(3, 0, 1)),
        ("tile/63/000.p/255", Tile(63, 0, 255)),
        ("tile/entries/x001/000", Tile(0, 1000, entries=True)),
        ("tile/entries/273.p/112", Tile(0, 273, 112, entries=True)),
    ],
)
def test_parse_tile_path(path: str, want: Tile) -> None:
    assert parse_tile_path(path) == want


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "not of the form"),
        ("tile/0", "not of the form"),
        ("tiles/0/000", "not of the form"),
        ("tile/00/000", "level '00'"),
        ("tile/64/000", "above 63"),
        ("tile/-1/000", "level '-1'"),
        ("tile/0/12", "'12' must be three digits"),
        ("tile/0/0012", "must be three digits"),
        ("tile/0/x001", "'x001' must be three digits"),
        ("tile/0/001/002", "'001' must be 'x' and three digits"),
        ("tile/0/x000/001", "redundant leading 'x000'"),
        ("tile/0/\u0661\u0662\u0663", "must be three digits"),
        ("tile/0/001.p/0", "partial width '0'"),
        ("tile/0/001.p/256", "partial width '256'"),
        ("tile/0/001.p/01", "partial width '01'"),
        ("tile/0/001.p", "must be three digits"),
        ("tile/0/001.p/", "partial width ''"),
        ("tile/0/001/", "'001' must be 'x' and three digits"),
        ("tile/7/x999/x999/x999/x999/x999/x999/999", "beyond the largest possible tree"),
        ("tile/0/" + "x001/" * 40 + "001", "longer than 128"),
    ],
)
def test_parse_tile_path_errors(path: str, message: str) -> None:
    with pytest.raises(TilePathError, match=message):
        parse_tile_path(path)


@given(
    st.integers(min_value=0, max_value=63).flatmap(
        lambda level: st.builds(
            Tile,
            st.just(level),
            st.integers(min_value=0, max_value=max(0, (2**64 >> (8 * (level + 1))) - 1)),
            st.integers(min_value=1, max_value=256),
        )
    )
)
def test_paths_round_trip(tile: Tile) -> None:
    assert parse_tile_path(tile.path) == tile
    if tile.level == 0:
        bundle = Tile(0, tile.index, tile.width, entries=True)
        assert parse_tile_path(bundle.path) == bundle


def test_tile_rejects_impossible_coordinates() -> None:
    with pytest.raises(TileError, match=r"level must be 0\.\.63"):
        Tile(64, 0)
    with pytest.raises(TileError, match=r"width must be 1\.\.256"):
        Tile(0, 0, 0)
    with pytest.raises(TileError, match="only exist at level 0"):
        Tile(1, 0, entries=True)
    with pytest.raises(TileError, match="must be an integer"):
        Tile(0, True)


# --------------------------------------------------------------- tiles of a tree


def test_tile_hashes_are_the_subtrees_the_spec_defines() -> None:
    # MTH(D[(n*256 + i) * 256**l : (n*256 + i + 1) * 256**l]) for every hash of every tile
    for tile, data in TILES.items():
        if tile.level == 0 and tile.index not in (0, 273):
            continue  # level-0 tiles are plain leaf hashes; spot-check two
        span = 256**tile.level
        for i, h in enumerate(tile_hashes(tile, data)):
            first = (tile.index * 256 + i) * span
            assert subtree_hash(first, first + span, STORE) == h, (tile, i)
    assert tile_hashes(Tile(0, 0), TILES[Tile(0, 0)])[5] == leaf_hash(ENTRIES[5])


def test_tile_within() -> None:
    assert tile_within(Tile(0, 0), 256)
    assert not tile_within(Tile(0, 0), 255)
    assert tile_within(Tile(0, 273, 112), SIZE)
    assert not tile_within(Tile(0, 273, 113), SIZE)
    assert tile_within(Tile(2, 0, 1), SIZE)
    assert not tile_within(Tile(1, 1), SIZE)


@given(st.integers(0, 300_000), st.integers(0, 300_000))
def test_new_tiles_are_exactly_what_changed(a: int, b: int) -> None:
    old, new = min(a, b), max(a, b)
    assert set(new_tiles(old, new)) == set(tiles_for_size(new)) - set(tiles_for_size(old))
    assert all(tile_within(t, new) for t in new_tiles(old, new))


def test_new_tiles_rejects_shrinking() -> None:
    with pytest.raises(TileError, match="smaller than old tree size"):
        new_tiles(10, 9)


def test_read_tile_refuses_entry_bundles_and_missing_hashes() -> None:
    with pytest.raises(TileError, match="entry bundles hold entries"):
        read_tile(Tile(0, 0, entries=True), STORE)
    with pytest.raises(TreeError, match="not in a store"):
        read_tile(Tile(0, 273), STORE)
    with pytest.raises(TileMismatchError, match="has 31 bytes, want 32"):
        tile_hashes(Tile(0, 0, 1), b"x" * 31)


# ------------------------------------------------------------------ entry bundles


def test_entry_bundle_round_trip_and_check() -> None:
    entries = ENTRIES[256:512]
    bundle = encode_entry_bundle(entries)
    assert bundle[:2] == len(entries[0]).to_bytes(2, "big")
    assert decode_entry_bundle(bundle, 256) == entries
    verify_entry_bundle(entries, TILES[Tile(0, 1)])
    with pytest.raises(EntryBundleError, match="entry 3 does not hash"):
        verify_entry_bundle([*entries[:3], b"forged", *entries[4:]], TILES[Tile(0, 1)])
    with pytest.raises(EntryBundleError, match="255 entries but"):
        verify_entry_bundle(entries[:255], TILES[Tile(0, 1)])
    assert decode_entry_bundle(encode_entry_bundle([b"", b"\xff" * 65535])) == [
        b"",
        b"\xff" * 65535,
    ]


@pytest.mark.parametrize(
    ("data", "width", "message"),
    [
        (b"\x00", None, "entry 0: length prefix cut off at byte 0"),
        (b"\x00\x01a\x00\x05abc", None, "entry 1: declares 5 bytes, only 3 remain"),
        (b"\x00\x00" * 257, None, "more than 256 entries"),
        (b"\x00\x00" * 3, 4, "holds 3 entries, want 4"),
    ],
)
def test_entry_bundle_errors(data: bytes, width: int | None, message: str) -> None:
    with pytest.raises(EntryBundleError, match=message):
        decode_entry_bundle(data, width)


def test_entry_too_big_for_a_bundle() -> None:
    with pytest.raises(EntryBundleError, match="entry 1 has 65536 bytes"):
        encode_entry_bundle([b"", b"x" * 65536])


# ------------------------------------------------------------ the verifying reader


def test_tile_reader_gives_the_same_proofs_as_the_store() -> None:
    server = Server()
    reader = TileHashReader(SIZE, ROOT, server)
    assert tree_root(SIZE, reader) == ROOT
    for index in (0, 255, 256, 65535, 65536, 69887, 69888, SIZE - 1):
        proof = prove_inclusion(SIZE, index, reader)
        assert proof == prove_inclusion(SIZE, index, STORE)
        verify_inclusion(index, SIZE, leaf_hash(ENTRIES[index]), proof, ROOT)
    for old in (1, 256, 4097, 65536, 69999):
        proof = prove_consistency(SIZE, old, reader)
        assert proof == prove_consistency(SIZE, old, STORE)
        verify_consistency(old, SIZE, proof, STORE.root(old), ROOT)
    assert max(server.fetched.values()) == 1  # verified tiles are cached
    assert set(partial_tiles(SIZE)) <= set(server.fetched)


def test_tile_reader_hands_out_verified_level0_tiles_for_bundles() -> None:
    reader = TileHashReader(SIZE, ROOT, Server())
    tile = Tile(0, 100)
    verify_entry_bundle(ENTRIES[25600:25856], reader.tile(tile))
    with pytest.raises(TreeError, match="is not a hash tile of tree size"):
        reader.tile(Tile(0, 273, 5))


def test_tile_reader_for_an_older_checkpoint() -> None:
    old = 65_537
    reader = TileHashReader(old, STORE.root(old), Server())
    # at this size tile 0/256 is partial (width 1) and tile 2/000 is partial too
    assert prove_inclusion(old, old - 1, reader) == prove_inclusion(old, old - 1, STORE)
    assert tree_root(old, reader) == STORE.root(old)


def test_partial_tile_request_may_be_answered_with_the_full_tile() -> None:
    old = 1000  # level-0 tile 3 is partial (width 232) here, full in the server's tree
    tampered = {Tile(0, 3, 232): TILES[Tile(0, 3)]}
    reader = TileHashReader(old, STORE.root(old), Server(tampered))
    assert tree_root(old, reader) == STORE.root(old)


def test_tile_reader_detects_a_tampered_full_tile() -> None:
    bad = Tile(0, 7)
    reader = TileHashReader(SIZE, ROOT, Server({bad: _flip(TILES[bad], 40)}))
    prove_inclusion(SIZE, 0, reader)  # other tiles are fine
    with pytest.raises(TileMismatchError, match="tile/0/007 does not match its parent tile/1/000"):
        prove_inclusion(SIZE, 7 * 256 + 3, reader)
    with pytest.raises(TileMismatchError):  # nothing from the failed batch was cached
        prove_inclusion(SIZE, 7 * 256 + 3, reader)


def test_tile_reader_detects_a_tampered_partial_tile() -> None:
    bad = Tile(1, 1, 17)
    reader = TileHashReader(SIZE, ROOT, Server({bad: _flip(TILES[bad], 0)}))
    with pytest.raises(TileMismatchError, match="do not match the root of tree size 70000"):
        prove_inclusion(SIZE, 0, reader)


def test_tile_reader_rejects_a_wrong_root_or_short_tile() -> None:
    reader = TileHashReader(SIZE, STORE.root(SIZE - 1), Server())
    with pytest.raises(TileMismatchError, match="do not match the root"):
        tree_root(SIZE, reader)
    short = Server({Tile(0, 273, 112): TILES[Tile(0, 273, 112)][:-1]})
    with pytest.raises(TileMismatchError, match=r"tile/0/273\.p/112 has 3583 bytes, want 3584"):
        tree_root(SIZE, TileHashReader(SIZE, ROOT, short))
    with pytest.raises(TileMismatchError, match="root must be 32 bytes"):
        TileHashReader(SIZE, b"", Server())


def test_tile_reader_refuses_hashes_outside_its_tree() -> None:
    reader = TileHashReader(SIZE, ROOT, Server())
    with pytest.raises(TreeError, match="is not in tree size 70000"):
        reader.read_hashes([stored_hash_index(0, SIZE)])


def test_empty_tree_reader() -> None:
    reader = TileHashReader(0, EMPTY_ROOT, Server())
    assert tree_root(0, reader) == EMPTY_ROOT
    with pytest.raises(TileMismatchError, match="empty tree"):
        TileHashReader(0, ROOT, Server())


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_tile_reader_matches_the_store_at_any_checkpoint(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=SIZE), "size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), "index")
    old = data.draw(st.integers(min_value=1, max_value=size), "old")
    reader = TileHashReader(size, STORE.root(size), Server())
    assert prove_inclusion(size, index, reader) == prove_inclusion(size, index, STORE)
    assert prove_consistency(size, old, reader) == prove_consistency(size, old, STORE)


@pytest.mark.parametrize(
    ("bad", "leaf", "message"),
    [
        (Tile(0, 7), 7 * 256, "tile/0/007 does not match its parent tile/1/000"),
        (Tile(1, 0), 0, r"tile/1/000 does not match its parent tile/2/000\.p/1"),
        (Tile(0, 273, 112), 0, "do not match the root"),
        (Tile(1, 1, 17), 0, "do not match the root"),
        (Tile(2, 0, 1), 0, "do not match the root"),
    ],
)
@given(at=st.integers(min_value=0, max_value=31))
def test_any_flipped_bit_in_any_tile_is_caught(bad: Tile, leaf: int, message: str, at: int) -> None:
    position = at + 32 * (bad.width - 1 if bad.is_partial else 3)
    reader = TileHashReader(SIZE, ROOT, Server({bad: _flip(TILES[bad], position)}))
    with pytest.raises(TileMismatchError, match=message):
        prove_inclusion(SIZE, leaf, reader)

"""The push store contract (tocsin.push.store), run against every implementation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tocsin.api.openapi import push_paths
from tocsin.api.push_routes import push_routes
from tocsin.push.store import PushStore, PushSubscription, SqlitePushStore

STORES: dict[str, Callable[[Path], PushStore]] = {
    "sqlite": lambda tmp: SqlitePushStore(tmp / "push.sqlite3"),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PushStore]:
    made = STORES[request.param](tmp_path)
    yield made
    made.close()


def _sub(endpoint: str = "https://push.example/abc", regions: tuple[str, ...] = ("UA80000000000093317",)
         ) -> PushSubscription:
    return PushSubscription(id="", endpoint=endpoint, p256dh=b"\x04" + b"k" * 64, auth=b"a" * 16,
                            regions=regions, points=((49.84, 24.03),), language="en")


def test_one_subscription_per_endpoint_and_a_new_secret_each_time(store: PushStore) -> None:
    first, secret1, created1 = store.upsert(_sub(), start_after=7)
    assert created1 and first.last_event == 7 and first.id
    again, secret2, created2 = store.upsert(_sub(regions=("UA46060250000025047",)), start_after=9)
    assert not created2 and again.id == first.id and secret2 != secret1
    assert again.last_event == 7  # an update keeps its place in the feed
    stored = store.get(first.id)
    assert stored is not None and stored.regions == ("UA46060250000025047",)
    assert stored.points == ((49.84, 24.03),) and stored.language == "en"
    assert store.count() == 1 and [s.id for s in store.all()] == [first.id]
    assert store.delete_with_secret(first.id, secret1) is False  # the old secret no longer works
    assert store.delete_with_secret(first.id, secret2) is True
    assert store.delete_with_secret(first.id, secret2) is None
    assert store.get(first.id) is None and store.count() == 0


def test_deleting_leaves_no_bytes_behind(store: PushStore, tmp_path: Path) -> None:
    sub, secret, _ = store.upsert(_sub("https://push.example/unique-endpoint-token"), start_after=0)
    store.upsert(_sub("https://push.example/other"), start_after=0)
    assert store.delete_with_secret(sub.id, secret) is True
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"unique-endpoint-token" not in raw


def test_secrets_are_never_stored(store: PushStore, tmp_path: Path) -> None:
    _, secret, _ = store.upsert(_sub(), start_after=0)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret.encode() not in raw


def test_progress_and_position_survive_reopening(tmp_path: Path) -> None:
    store = SqlitePushStore(tmp_path / "push.sqlite3")
    a, _, _ = store.upsert(_sub("https://push.example/a"), start_after=3)
    b, _, _ = store.upsert(_sub("https://push.example/b"), start_after=3)
    assert store.position() is None
    store.save_progress(5, [(a.id, 6), (b.id, 4)])
    store.save_progress(None, [(a.id, 5)])  # never moves a mark back
    store.close()
    again = SqlitePushStore(tmp_path / "push.sqlite3")
    assert again.position() == 5
    marks = {s.id: s.last_event for s in again.all()}
    assert marks == {a.id: 6, b.id: 4}
    assert again.delete(a.id) and not again.delete(a.id)
    again.close()


def test_openapi_lists_exactly_the_push_routes() -> None:
    class _Hub:  # routes are built without touching the hub
        pass

    routed = {re.sub(r"\{(\w+):path\}", r"{\1}", r.path) for r in push_routes(_Hub())}  # type: ignore[arg-type, attr-defined]
    assert routed == set(push_paths())

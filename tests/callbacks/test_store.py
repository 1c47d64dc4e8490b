"""The callback store keeps its contract (tocsin.callbacks.store) across reopening."""

from __future__ import annotations

from pathlib import Path

from tocsin.callbacks.store import CallbackStore, DeadLetter, new_signing_secret


def test_targets_cursors_and_dead_letters_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "callbacks.sqlite3"
    store = CallbackStore(path)
    hook, owner = store.add_webhook(url="https://example.org/h", regions=["UA1", "UA2"],
                                    kinds=["missile"], signing_secret=new_signing_secret(),
                                    cursor=7, now=1.0)
    sub = store.subscribe_websub(callback="https://example.org/s", topic="t", regions=[],
                                 secret="s1", expires=100.0, cursor=3, now=1.0)
    store.save_cursors([(hook.id, 9), (sub.id, 5)])
    store.save_cursors([(hook.id, 8)])  # a cursor never goes back
    store.add_dead_letter(DeadLetter(hook.id, 8, "http_500", 4, 2.0))
    store.add_dead_letter(DeadLetter(hook.id, 8, "network", 2, 3.0))  # given up again: added up
    renewed = store.subscribe_websub(callback="https://example.org/s", topic="t", regions=[],
                                     secret=None, expires=200.0, cursor=99, now=2.0)
    assert renewed.id == sub.id and renewed.cursor == 5  # a renewal keeps its place
    store.close()

    store = CallbackStore(path)
    got = store.get(hook.id)
    assert got is not None and got.cursor == 9 and got.regions == ("UA1", "UA2")
    assert got.kinds == ("missile",) and got.signing_secret == hook.signing_secret
    assert store.owned(hook.id, owner) == got
    assert store.owned(hook.id, owner + "x") is False
    assert store.owned("wh_nothing", owner) is None
    assert store.owned(sub.id, owner) is None  # a WebSub subscription has no owner secret
    found = store.find_websub("https://example.org/s", "t")
    assert found is not None and found.expires == 200.0 and found.signing_secret is None
    assert store.dead_letters(hook.id) == [DeadLetter(hook.id, 8, "network", 6, 3.0)]
    assert store.delete(hook.id)
    assert store.dead_letters(hook.id) == [] and store.get(hook.id) is None
    assert store.count() == 1
    store.close()

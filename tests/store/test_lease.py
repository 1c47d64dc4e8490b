"""The lease keeper's policy: a writer that led takes back only its own epoch, never a new one.

The race this guards (found by the failover review): a leader's database connection fails,
another writer leads and goes, the database comes back — and the first writer, had it asked
for the lead afresh, would take a new epoch while holding in memory a past that is no longer
the store's. The interleaving cannot be timed against a real server, so the store here is a
scripted :class:`~tocsin.store.base.Leadership` whose answers are the real store's answers in
that sequence (is_leader: False while unreachable, token kept; acquire_leadership: True).
"""

from __future__ import annotations

import asyncio

from tocsin.store.base import StorageUnavailable
from tocsin.store.lease import LeaseKeeper


class ScriptedLeadership:
    """Answers is_leader from a script; counts the calls to acquire_leadership."""

    def __init__(self, is_leader: list[bool | Exception]) -> None:
        self.script = is_leader
        self.acquired = 0
        self.epoch: int | None = 1

    def acquire_leadership(self, wait_secs: float = 0.0) -> bool:
        self.acquired += 1
        self.epoch = (self.epoch or 0) + 1
        return True

    def is_leader(self) -> bool:
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def release_leadership(self) -> None:
        self.epoch = None

    @property
    def fencing_token(self) -> int | None:
        return self.epoch

    def current_leader(self) -> tuple[int, str | None]:
        return (self.epoch or 0, "here")

    def advertise_writer(self, url: str) -> None:
        pass

    def leader_url(self) -> str | None:
        return None

    def hold_log_at_least(self, size: int) -> None:
        pass


def test_a_leader_cut_off_from_its_store_never_takes_a_new_epoch() -> None:
    async def scenario() -> tuple[list[bool], int]:
        store = ScriptedLeadership([True, False, StorageUnavailable("down"), False, True])
        keeper = LeaseKeeper(store)
        keeper.leading = True  # as the hub does: the lead was taken when the store opened
        keeper.start()
        await keeper.stop(release=False)  # the periodic task is not needed; rounds by hand
        seen = [await keeper.check() for _ in range(5)]
        return seen, store.acquired

    seen, acquired = asyncio.run(scenario())
    assert seen == [True, False, False, False, True]  # back only when its own epoch is
    assert acquired == 0


def test_a_keeper_that_never_led_may_take_the_lead() -> None:
    async def scenario() -> tuple[bool, int]:
        store = ScriptedLeadership([False])
        store.epoch = None
        keeper = LeaseKeeper(store)
        return await keeper.check(), store.acquired

    assert asyncio.run(scenario()) == (True, 1)

"""The attack suite runs against a real ``tocsin serve --demo`` process (one per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tocsin.testing import HubProcess

#: These suites test what the rulebook refuses, hundreds of times from one address: the
#: per-client limit on refused writes (tested in test_hostile_http.py) must not answer first.
NO_WRITE_LIMIT = {"TOCSIN_FAILED_WRITE_BURST": "1000000", "TOCSIN_CHECK_BURST": "1000000"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("attacks") / "data", env=NO_WRITE_LIMIT)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def fresh_hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub of one's own, for tests that stop it or write its store."""
    process = HubProcess(tmp_path / "data", env=NO_WRITE_LIMIT)
    process.start()
    yield process
    process.stop()

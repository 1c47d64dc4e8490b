"""The attack suite runs against a real ``tocsin serve --demo`` process (one per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tocsin.testing import HubProcess


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("attacks") / "data")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def fresh_hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub of one's own, for tests that stop it or write its store."""
    process = HubProcess(tmp_path / "data")
    process.start()
    yield process
    process.stop()

"""Compat tests run a real ``tocsin serve --demo`` and read it with the real alerts.in.ua client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tocsin.cap.model import Alert
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess, free_port

KYIV = "UA80000000000093317"  # alerts.in.ua uid 31, a city
LVIV_OBLAST = "UA46000000000026241"  # uid 27
LVIV_RAION = "UA46060000000042587"  # Львівський район
KHARKIV_OBLAST = "UA63000000000041885"  # uid 22
TOKEN = "s3cret-compat-token"


def make_alert(issuer: str = "demo-air-force", areas: tuple[str, ...] = (KYIV,), **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))


@pytest.fixture(scope="module")
def open_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub with no compat token: any token is accepted and ignored."""
    process = HubProcess(tmp_path_factory.mktemp("open") / "data",
                         env={"TOCSIN_COMPAT_PORT": str(free_port())})
    process.start()
    yield process
    process.stop()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    """A fresh hub that requires :data:`TOKEN` and serves the compat API on a port of its own."""
    process = HubProcess(tmp_path / "data", env={"TOCSIN_COMPAT_PORT": str(free_port()),
                                                  "TOCSIN_COMPAT_TOKEN": TOKEN})
    process.start()
    yield process
    process.stop()

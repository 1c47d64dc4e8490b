"""Hub tests run a real ``tocsin serve`` process on 127.0.0.1 and talk HTTP to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tocsin.cap.model import Alert
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess

KYIV = "UA80000000000093317"
KYIV_OBLAST = "UA32000000000030281"
LVIV_OBLAST = "UA46000000000026241"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data")
    process.start()
    yield process
    process.stop()


def make_alert(issuer: str = "demo-air-force", areas: tuple[str, ...] = (KYIV,), **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))

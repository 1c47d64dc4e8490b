"""Shared paths for the trust tests: the team's read-only vectors under ../shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SHARED = (Path(__file__).parents[2] / ".." / "shared").resolve()
VECTORS = SHARED / "vectors"
REGIONS = SHARED / "data" / "regions"


def load_vector(relative: str) -> Any:
    """Load a JSON vector file, skipping the test with a clear message if it is absent."""
    path = VECTORS / relative
    if not path.exists():
        pytest.skip(f"shared vectors not found at {path}")
    return json.loads(path.read_text(encoding="utf-8"))

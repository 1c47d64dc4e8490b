"""Shared paths for the trust tests: the team's read-only vectors under ../shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
VECTORS = TESTS / "vectors"
CAP_SAMPLES = TESTS / "data" / "cap-samples"


def load_vector(relative: str) -> Any:
    """Load a JSON vector file (they ship in ``tests/vectors``; a missing one fails)."""
    path = VECTORS / relative
    return json.loads(path.read_text(encoding="utf-8"))

"""Shared fixtures: the real CAP samples (read in place) and a Tocsin-style alert."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = (Path(__file__).parents[2] / ".." / "shared" / "data" / "cap" / "samples").resolve()


def sample_files(kind: str) -> list[Path]:
    """The real documents of one kind (``valid-1.2``, ``cap-1.1``, ``invalid``)."""
    folder = SAMPLES / kind
    return sorted(folder.glob("*.xml")) if folder.is_dir() else []


def need_samples(kind: str) -> list[Path]:
    files = sample_files(kind)
    if not files:
        pytest.skip(f"CAP samples not found at {SAMPLES / kind} (shared data absent)")
    return files


def sample_params(kind: str) -> list[object]:
    """Parameters for one test per sample, or a single skipped case if absent."""
    files = sample_files(kind)
    if not files:
        reason = f"CAP samples not found at {SAMPLES / kind} (shared data absent)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-samples")]
    return [pytest.param(path, id=path.name) for path in files]

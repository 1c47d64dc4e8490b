"""Shared fixtures: the real CAP samples (``tests/data/cap-samples``) and a Tocsin-style alert."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "cap-samples"


def sample_files(kind: str) -> list[Path]:
    """The real documents of one kind (``valid-1.2``, ``cap-1.1``, ``invalid``)."""
    files = sorted((SAMPLES / kind).glob("*.xml"))
    assert files, f"CAP samples missing at {SAMPLES / kind}: they ship with the repository"
    return files


def need_samples(kind: str) -> list[Path]:
    return sample_files(kind)


def sample_params(kind: str) -> list[object]:
    """Parameters for one test per sample (the samples ship with the repository)."""
    return [pytest.param(path, id=path.name) for path in sample_files(kind)]

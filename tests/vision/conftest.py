"""Fixtures shared by the vision tests."""

from __future__ import annotations

import pytest

from datasets.recording import Recording
from datasets.synth import generate


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """A short synthetic recording (front and rear cameras, clear conditions), generated once per test run."""
    root = tmp_path_factory.mktemp("synth")
    generate(root, duration_s=20.0, fps=2.0, trucks_per_hour=400, seed=11, workers=1, conditions_share=0.0,
             cameras=("front", "rear"))
    return Recording.open(root)

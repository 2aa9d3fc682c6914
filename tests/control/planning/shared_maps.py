"""Where the tests find the shared MovingAI maps, and a skip when this checkout has no shared folder beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

MAPS_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "maps"
MAP_NAMES = ("empty-32-32", "maze-32-32-2", "random-32-32-10", "random-32-32-20", "room-32-32-4",
             "warehouse-10-20-10-2-1")
SCEN = "random-32-32-10-random-1.scen"


def map_path(stem: str) -> Path:
    """The shared ``<stem>.map``; skips the calling test when the shared maps are absent."""
    path = MAPS_DIR / f"{stem}.map"
    if not path.is_file():
        pytest.skip(f"shared MovingAI maps not found at {MAPS_DIR}")
    return path


def scen_path() -> Path:
    path = MAPS_DIR / SCEN
    if not path.is_file():
        pytest.skip(f"shared MovingAI scenario not found at {MAPS_DIR}")
    return path

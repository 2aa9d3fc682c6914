"""The bundled yard as the fleet's map, its named spots, and a compiled planner before any test starts a clock."""

from __future__ import annotations

import numpy as np
import pytest

from control.fleet.config import FleetConfig
from control.fleet.fleet import Fleet
from control.planning.grid_map import GridMap, grid_from_yard
from tests.control.planning.planner_cases import ascii_map
from tests.yard.test_layout import BUNDLED
from yard.grid import build_grid
from yard.layout import load_layout


@pytest.fixture(scope="session")
def yard() -> GridMap:
    return grid_from_yard(build_grid(load_layout(BUNDLED)))


def named(grid: GridMap, prefix: str) -> list[int]:
    return [cell for key, cell in sorted(grid.names.items()) if key.startswith(prefix)]


@pytest.fixture(scope="session", autouse=True)
def compiled() -> None:
    grid = ascii_map("warm-up", ["...", "..."])
    Fleet(grid, FleetConfig(igvs=1), np.array([0]), parking=[], charging=[]).step(0.0)

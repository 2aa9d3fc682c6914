"""The bundled yard as a planner map, shared by the field-simulation tests (built once per process)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from control.planning.grid_map import GridMap, grid_from_yard
from yard.grid import build_grid
from yard.layout import load_layout

YARD_LAYOUT = Path(__file__).resolve().parents[3] / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"


@cache
def yard_map() -> GridMap:
    return grid_from_yard(build_grid(load_layout(YARD_LAYOUT)))

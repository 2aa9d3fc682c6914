"""Small hand-made maps and instances shared by the planner tests (PIBT, LaCAM, lifelong)."""

from __future__ import annotations

import numpy as np

from control.planning.grid_map import GridMap, build_grid_map
from yard.grid import MOVE_NX, MOVE_NY, MOVE_PX, MOVE_PY


def ascii_map(name: str, rows: list[str]) -> GridMap:
    """Row 0 of ``rows`` is y = 0; '.' is free, anything else blocked."""
    return build_grid_map(name, np.array([[ch == "." for ch in row] for row in rows], dtype=bool))


def cells(grid: GridMap, xy: list[tuple[int, int]]) -> np.ndarray:
    return grid.cells_of(np.array(xy, dtype=np.int64).reshape(-1, 2))


# Two agents must swap ends of a corridor; the only passing place is a one-cell bay under its middle, so one agent
# has to step into the bay (away from its goal) and let the other pass: PIBT needs backtracking / the swap operation.
BAY_CORRIDOR = [".......",
                "###.###"]

# Two rooms joined by a one-cell door: four agents cross over, two each way.
ROOMS = ["...#...",
         ".......",
         "...#..."]

# A one-cell corridor with a junction at x = 5 (side cells above and below): two agents come in from the east, both
# heading west, the one behind going further. The one in front must step aside at the junction and let it pass,
# or it parks on its goal in the corridor and blocks the other for good (the swap operation's "clear" case).
JUNCTION = ["#####.##",
            "........",
            "#####.##"]

# A dead-end corridor without any passing place: two agents cannot swap, whatever the search does.
DEAD_END = ["....."]


def one_way_ring(width: int = 6, height: int = 4) -> GridMap:
    """A ring road one cell wide around a block, driven counter-clockwise only (+x along y = 0, +y up the right
    side, -x along the top, -y down the left side): every move against that direction is forbidden."""
    free = np.zeros((height, width), dtype=bool)
    free[0, :] = free[-1, :] = True
    free[:, 0] = free[:, -1] = True
    allowed = np.zeros((height, width), dtype=np.uint8)
    allowed[0, :-1] |= MOVE_PX
    allowed[:-1, -1] |= MOVE_PY
    allowed[-1, 1:] |= MOVE_NX
    allowed[1:, 0] |= MOVE_NY
    return build_grid_map("ring", free, allowed)


def against_lane(grid: GridMap, paths: np.ndarray) -> int:
    """How many moves in ``paths`` are not in the map's successor table (a wrong-way move on a one-way lane)."""
    src, dst = paths[:-1].ravel(), paths[1:].ravel()
    allowed = (grid.successors[src] == dst[:, None]).any(axis=1)
    return int((~allowed).sum())

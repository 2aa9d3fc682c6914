"""Maps for the planners, from the yard or from MovingAI files, and random instances on them.

This is the public face of the map code: `GridMap` and `MapError` live in ``grid``, the file parsers in ``movingai``;
both are re-exported here so that callers import maps from one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from control.planning.components import strong_components
from control.planning.grid import GridMap, IntArray, MapError, build_grid_map
from control.planning.movingai import load_movingai_map, load_movingai_scen

if TYPE_CHECKING:
    from yard.grid import YardGrid

__all__ = ["GridMap", "MapError", "build_grid_map", "grid_from_yard", "load_movingai_map", "load_movingai_scen",
           "random_instance"]


def grid_from_yard(yard_grid: YardGrid, name: str = "yard") -> GridMap:
    """The yard grid as a planner map: same orientation (row 0 = south, cell = y * W + x), moves exactly as
    ``allowed_moves`` permits (one-way lanes, walls), the grid's named cells (transfer points, IGV spots) as ids."""
    width = yard_grid.shape[1]
    names = {key: int(y) * width + int(x) for key, (x, y) in yard_grid.named_cells.items()}
    return build_grid_map(name, yard_grid.passable, yard_grid.allowed_moves, names)


def random_instance(grid: GridMap, agents: int, seed: int) -> tuple[IntArray, IntArray]:
    """(starts, goals) int32: distinct random free starts, and for each a distinct random goal in its start's strongly
    connected component, so every goal is reachable from its start and the start from its goal. The same
    (grid, agents, seed) always gives the same instance."""
    free = grid.free_cells
    if isinstance(agents, bool) or not isinstance(agents, int | np.integer) or not 0 <= agents <= free.size:
        raise MapError(f"{grid.name}: agents must be an integer in 0..{free.size} (free cells), got {agents!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise MapError(f"{grid.name}: seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    starts = rng.choice(free, size=int(agents), replace=False).astype(np.int32)
    labels = strong_components(grid.successors)
    # Free cells grouped by component, shuffled inside each group; agents starting in component c take the first
    # k_c cells of its group (k_c <= its size, since their starts are distinct cells of it).
    grouped = free[np.lexsort((rng.random(free.size), labels[free]))]
    group_labels = labels[grouped]
    agent_labels = labels[starts]
    order = np.argsort(agent_labels, kind="stable")
    sorted_labels = agent_labels[order]
    rank = np.arange(sorted_labels.size) - np.searchsorted(sorted_labels, sorted_labels, side="left")
    goals = np.empty_like(starts)
    goals[order] = grouped[np.searchsorted(group_labels, sorted_labels, side="left") + rank]
    return starts, goals

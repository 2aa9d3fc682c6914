"""Parking and charging spots: each held by at most one IGV, the nearest free one by driving distance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap

NONE = -1


class SpotError(ValueError):
    """Spot cells that are not distinct passable cells of the map."""


class Spots:
    """One kind of spot (parking or charging): ``cells`` (S,) int32 and ``owner`` (S,) int32, -1 when free."""

    def __init__(self, kind: str, cells: Sequence[int], grid: GridMap) -> None:
        array = np.asarray(cells)
        if array.size and (array.ndim != 1 or not np.issubdtype(array.dtype, np.integer)):
            raise SpotError(f"{kind} spots must be a sequence of integer cell ids, got {array.dtype} {array.shape}")
        ids = array.astype(np.int64).ravel()
        outside = (ids < 0) | (ids >= grid.num_cells)
        if outside.any():
            raise SpotError(f"{kind} spot {int(ids[outside][0])} is not a cell of {grid.name}")
        blocked = ~grid.passable.ravel()[ids]
        if blocked.any():
            raise SpotError(f"{kind} spot {int(ids[blocked][0])} is a blocked cell of {grid.name}")
        if np.unique(ids).size != ids.size:
            raise SpotError(f"{kind} spots repeat a cell")
        self.kind = kind
        self.cells = ids.astype(np.int32)
        self.owner = np.full(ids.size, NONE, dtype=np.int32)
        self._index = {int(cell): k for k, cell in enumerate(self.cells.tolist())}

    def has_free(self, passable: np.ndarray) -> bool:
        """Is any spot free and on a passable cell (``passable`` is the flat mask of the current map)?"""
        return bool(((self.owner == NONE) & passable[self.cells]).any())

    def claim_nearest(self, igv: int, position: int, table: DistanceTable, passable: np.ndarray) -> int | None:
        """Give ``igv`` the free spot nearest to ``position`` by driving steps (ties: the first listed); its cell,
        or None when no free spot can be reached."""
        best, best_steps = NONE, -1
        for k in np.flatnonzero((self.owner == NONE) & passable[self.cells]).tolist():
            steps = int(table.to_goal(int(self.cells[k]))[position])
            if steps >= 0 and (best == NONE or steps < best_steps):
                best, best_steps = k, steps
        if best == NONE:
            return None
        self.owner[best] = igv
        return int(self.cells[best])

    def claim_cell(self, igv: int, cell: int) -> bool:
        """Give ``igv`` the spot on ``cell`` if there is one and it is free."""
        k = self._index.get(int(cell))
        if k is None or self.owner[k] != NONE:
            return False
        self.owner[k] = igv
        return True

    def holds(self, igv: int) -> bool:
        return bool((self.owner == igv).any())

    def free(self, igv: int) -> None:
        """Give back whatever spot ``igv`` holds."""
        self.owner[self.owner == igv] = NONE

"""A map with some cells blocked (a blocked-cell fault): derived from the full map, never rebuilt from the yard."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from control.planning.grid_map import GridMap


def blocked_grid(base: GridMap, cells: Collection[int]) -> GridMap:
    """``base`` with ``cells`` impassable: no moves into or out of them, named cells on them dropped. The moves
    that remain are exactly ``base``'s (one-way lanes kept), in the same column order."""
    if not cells:
        return base
    blocked = np.fromiter(cells, dtype=np.int64, count=len(cells))
    passable = base.passable.copy()
    passable.ravel()[blocked] = False
    successors = base.successors.copy()
    successors[np.isin(successors, blocked)] = -1
    successors[blocked] = -1
    order = np.argsort(successors < 0, axis=1, kind="stable")     # valid moves first, in their order
    compact = np.take_along_axis(successors, order, axis=1)
    gone = set(blocked.tolist())
    names = {key: cell for key, cell in base.names.items() if cell not in gone}
    return GridMap(name=base.name, width=base.width, height=base.height, passable=passable, successors=compact,
                   names=names)

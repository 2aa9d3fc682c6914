"""Exact step distances from every cell to a goal: the planners' heuristic, computed lazily and cached.

One BFS per goal, run backwards from the goal over a predecessor table (the reversed directed graph, built once per
map), so one-way lanes are honoured: a row holds the steps needed to drive *to* the goal. The BFS is a numba kernel
(about 30 µs on the 161×63 warehouse map); rows are kept in an LRU cache bounded by a row count and by bytes, since
a lifelong planner asks for the same few transfer points and parking cells again and again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numba
import numpy as np

from control.planning.grid import GridMap, IntArray, MapError

DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class DistanceTable:
    """``to_goal(goal)[cell]`` = steps from ``cell`` to ``goal`` (-1 where the goal cannot be reached)."""

    def __init__(self, grid: GridMap, max_cached: int = 4096, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_cached < 1 or max_bytes < 1:
            raise ValueError(f"max_cached and max_bytes must be positive, got {max_cached} and {max_bytes}")
        self.grid = grid
        self.max_cached = min(max_cached, max(1, max_bytes // (4 * grid.num_cells)))
        self.hits = 0
        self.misses = 0
        self._predecessors = predecessor_table(grid.successors)
        self._open = np.zeros(grid.num_cells, dtype=np.bool_)     # no cell avoided: the plain rows
        self._rows: OrderedDict[int, IntArray] = OrderedDict()
        self._lock = threading.Lock()

    def to_goal(self, goal: int) -> IntArray:
        """(C,) int32 read-only row of steps to ``goal``; `MapError` for a goal outside the map or blocked."""
        goal = self._checked_goal(goal)
        with self._lock:
            row = self._rows.get(goal)
            if row is not None:
                self._rows.move_to_end(goal)
                self.hits += 1
                return row
        row = np.full(self.grid.num_cells, -1, dtype=np.int32)
        _bfs_to(self._predecessors, np.int32(goal), self._open, row)
        row.setflags(write=False)
        with self._lock:
            self.misses += 1
            self._rows[goal] = row
            while len(self._rows) > self.max_cached:
                self._rows.popitem(last=False)
        return row

    def to_goal_avoiding(self, goal: int, avoid: np.ndarray, out: IntArray) -> IntArray:
        """Steps to ``goal`` driving round the cells where ``avoid`` (C,) bool is set (vehicles standing there),
        written into ``out`` (C,) int32 and returned; not cached, since the avoided cells change as vehicles come
        and go. Avoided cells get -1, as do cells from which only a way through them leads to the goal."""
        goal = self._checked_goal(goal)
        if avoid.shape != (self.grid.num_cells,) or avoid.dtype != np.bool_ or out.shape != avoid.shape:
            raise MapError(f"{self.grid.name}: avoid and out must be ({self.grid.num_cells},) arrays")
        out.fill(-1)
        _bfs_to(self._predecessors, np.int32(goal), avoid, out)
        return out

    def for_goals(self, goals: np.ndarray) -> IntArray:
        """(N, C) int32: row i is ``to_goal(goals[i])``; each distinct goal is looked up (or computed) once."""
        ids = np.asarray(goals)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise MapError(f"{self.grid.name}: goals must be a 1-D integer array, got {ids.dtype} {ids.shape}")
        unique, inverse = np.unique(ids, return_inverse=True)
        rows = [self.to_goal(goal) for goal in unique.tolist()]
        out = np.empty((ids.size, self.grid.num_cells), dtype=np.int32)
        for agent, k in enumerate(inverse.tolist()):
            out[agent] = rows[k]    # plain row copies: faster than fancy indexing for thousands of rows
        return out

    def _checked_goal(self, goal: int) -> int:
        if isinstance(goal, bool) or not isinstance(goal, int | np.integer):
            raise MapError(f"{self.grid.name}: a goal must be an integer cell id, got {type(goal).__name__}")
        cell = int(goal)
        if not 0 <= cell < self.grid.num_cells:
            raise MapError(f"{self.grid.name}: goal {cell} is outside cells 0..{self.grid.num_cells - 1}")
        if self.grid.successors[cell, 0] < 0:
            x, y = divmod(cell, self.grid.width)[::-1]
            raise MapError(f"{self.grid.name}: goal ({x}, {y}) is a blocked cell")
        return cell


def predecessor_table(successors: IntArray) -> IntArray:
    """(C, K) int32: the cells with a move INTO each cell (waits excluded), -1 padded; K is the largest in-degree."""
    cells, width = successors.shape
    targets = successors[:, 1:].ravel()
    sources = np.repeat(np.arange(cells, dtype=np.int32), width - 1)
    keep = targets >= 0
    targets, sources = targets[keep], sources[keep]
    order = np.argsort(targets, kind="stable")
    targets, sources = targets[order], sources[order]
    rank = np.arange(targets.size) - np.searchsorted(targets, targets, side="left")
    table = np.full((cells, int(rank.max()) + 1 if rank.size else 1), -1, dtype=np.int32)
    table[targets, rank] = sources
    return table


@numba.njit(cache=True, nogil=True)
def _bfs_to(predecessors: IntArray, goal: np.int32, avoid: np.ndarray,
            dist: IntArray) -> None:  # pragma: no cover - compiled
    """Breadth-first from ``goal`` over the reversed graph, writing steps into ``dist`` (pre-filled with -1) and
    never entering a cell where ``avoid`` is set."""
    queue = np.empty(dist.size, np.int32)
    queue[0] = goal
    dist[goal] = 0
    head, tail = 0, 1
    width = predecessors.shape[1]
    while head < tail:
        cell = queue[head]
        head += 1
        step = dist[cell] + 1
        for k in range(width):
            before = predecessors[cell, k]
            if before < 0:
                break
            if dist[before] < 0 and not avoid[before]:
                dist[before] = step
                queue[tail] = before
                tail += 1

"""Lifelong PIBT: IGVs get new goals as jobs are assigned, and each call to `LifelongPlanner.step` plans and takes
one conflict-free step for the whole fleet.

Priorities persist across steps (steps waited since the agent was last on its goal, plus a seeded random
tie-break), so an IGV that waits long enough eventually moves first; two IGVs that must pass each other in a lane
use LaCAM*'s swap operation (one backs off to the nearest branch). An IGV on its goal with no new job stays there
unless a higher-priority one needs the cell (then it is pushed aside and comes back). Distances come from the
`DistanceTable` cache, one row per distinct goal (a yard has a few transfer points and parking cells, not one goal
per IGV), computed only when a goal is first used.

Held agents (`LifelongPlanner.set_held`: an IGV under a crane, or broken down) keep their cell: their goal becomes
that cell and their priority is set above everyone else's before each step, so PIBT plans them first, they take
their own cell (the only one at distance 0) and nobody can push them. Releasing them restores the goal they had
(or the one assigned while they were held) and the priority they had. `LifelongPlanner.reset_positions` continues
from the cells the vehicles really reached (a refused move, a lost order).

Obstacles (`LifelongPlanner.set_obstacles`: held vehicles that others should drive round) change only the rows of
agents told to detour (`set_detour`): PIBT prefers waiting to a longer way round, so an agent stuck behind a held
one needs distances that avoid it, but everybody else keeps the plain cached rows, and an obstacle that comes or
goes recomputes a few rows rather than one per goal in the yard. An agent's detour ends with its next new goal.
"""

from __future__ import annotations

import time

import numpy as np

from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap
from control.planning.kernels import seed_state, step_into, update_priorities, work_arrays
from control.planning.pibt import initial_priorities
from control.planning.result import InstanceError, checked_cells, checked_instance

__all__ = ["LifelongPlanner"]

_FIRST_ROWS = 16
_HELD_PRIORITY = 1e15       # above any number of steps waited: held agents are always planned first


class LifelongPlanner:
    """``positions`` (N,) int32 cells now, ``goals`` (N,) int32 current goals (two agents may share one),
    ``reached`` (N,) bool: which agents are on their goal now. Starts must be distinct passable cells."""

    def __init__(self, grid: GridMap, starts: np.ndarray, goals: np.ndarray, *, seed: int = 0,
                 distances: DistanceTable | None = None) -> None:
        start_cells, _ = checked_instance(grid, starts, np.asarray(starts))
        goal_cells = checked_cells(grid, goals, "goals")
        if goal_cells.shape != start_cells.shape:
            raise InstanceError(f"{grid.name}: {start_cells.size} starts but {goal_cells.size} goals")
        n = start_cells.size
        self.grid = grid
        self.table = distances if distances is not None else DistanceTable(grid)
        self.positions = start_cells
        self.goals = goal_cells
        self.reached = self.positions == self.goals
        self.steps = 0
        self._next = np.empty(n, dtype=np.int32)
        self._priorities = initial_priorities(n, seed)
        self._rng = seed_state(seed)
        self._occ_now, self._occ_nxt, self._cand, self._work = work_arrays(n, grid.num_cells, grid.successors.shape[1])
        self._rows = np.empty((_FIRST_ROWS, grid.num_cells), dtype=np.int32)
        self._row_goal = np.full(_FIRST_ROWS, -1, dtype=np.int64)    # goal held by each row, -1 when free
        self._row_by_goal: dict[int, int] = {}
        self._free_rows: list[int] = list(range(_FIRST_ROWS - 1, -1, -1))
        self._row_of = np.zeros(n, dtype=np.int32)
        self._stale = np.ones(n, dtype=bool)                           # agents whose row is not their goal's yet
        self._held = np.zeros(n, dtype=bool)
        self._held_ids = np.empty(0, dtype=np.int64)
        self._goal_after_hold = np.empty(n, dtype=np.int32)           # restored on release
        self._priority_after_hold = np.zeros(n, dtype=np.float64)
        self._obstacles: frozenset[int] = frozenset()
        self._avoid = np.zeros(grid.num_cells, dtype=np.bool_)        # the obstacles' cells
        self._detour = np.zeros(n, dtype=bool)                         # agents whose rows avoid the obstacles
        self._refresh_rows(None)

    def set_obstacles(self, cells: frozenset[int]) -> None:
        """Cells to drive round (a held vehicle standing there), for the agents told to `set_detour`: their rows
        are recomputed on the map without these cells; a goal on an obstacle keeps its plain row."""
        cells = frozenset(int(c) for c in cells)
        if cells == self._obstacles:
            return
        bad = [c for c in cells if not 0 <= c < self.grid.num_cells]
        if bad:
            raise InstanceError(f"{self.grid.name}: obstacle cells {bad[:3]} are outside the map")
        self._obstacles = cells
        self._avoid[:] = False
        self._avoid[list(cells)] = True
        for row in np.flatnonzero(self._row_goal >= self.grid.num_cells).tolist():   # the detour rows
            del self._row_by_goal[int(self._row_goal[row])]
            self._row_goal[row] = -1
            self._free_rows.append(row)
        self._stale[self._detour] = True
        self._refresh_agents(np.flatnonzero(self._stale))     # no agent is left on a freed row

    def set_detour(self, agents: np.ndarray, detour: bool) -> None:
        """Agents that drive round the obstacles (``detour``) or no longer; their rows are made now."""
        ids = self._checked_agents(agents)
        changed = ids[self._detour[ids] != detour]
        self._detour[changed] = detour
        self._stale[changed] = True
        self._refresh_agents(changed)

    def boost(self, agents: np.ndarray) -> None:
        """Plan these agents before every free one (not before held ones) until they reach their goal: one that
        must leave a dead end through the cell of an agent waiting to come in can then push that one on, where
        plain priorities (both grow while they wait) would keep the one outside first for ever."""
        ids = self._checked_agents(agents)
        ids = ids[~self._held[ids]]
        if ids.size:
            top = float(self._priorities[~self._held].max())
            self._priorities[ids] = np.floor(top) + 1.0 + self._priorities[ids] % 1.0   # keep the tie-break

    @property
    def detouring(self) -> np.ndarray:
        """(N,) bool copy: which agents drive round the obstacles."""
        return self._detour.copy()

    @property
    def held(self) -> np.ndarray:
        """(N,) bool copy: which agents are held on their cell."""
        return self._held.copy()

    def assign(self, agents: np.ndarray, goals: np.ndarray) -> None:
        """New goals (jobs) for some agents; `InstanceError` for an unknown or repeated agent or a goal that is
        not a passable cell. Distances are computed at the next `step`. A held agent keeps its cell: its new goal
        takes effect when it is released."""
        ids = self._checked_agents(agents)
        cells = checked_cells(self.grid, goals, "goals")
        if cells.size != ids.size:
            raise InstanceError(f"{self.grid.name}: {ids.size} agents but {cells.size} goals")
        held = self._held[ids]
        self._goal_after_hold[ids[held]] = cells[held]
        free = ids[~held]
        self._detour[free[self.goals[free] != cells[~held]]] = False     # a new goal: the detour is over
        self.goals[free] = cells[~held]
        self._stale[free] = True
        self.reached = self.positions == self.goals

    def set_held(self, agents: np.ndarray, held: bool) -> None:
        """Hold agents on their cell (``held`` True) or release them (False); holding a held agent or releasing a
        free one changes nothing. Held agents' distance rows are made now, whatever a step's deadline, since a
        held agent heading for its old goal could be pushed."""
        ids = self._checked_agents(agents)
        if held:
            new = ids[~self._held[ids]]
            self._goal_after_hold[new] = self.goals[new]
            self._priority_after_hold[new] = self._priorities[new]
            self._held[new] = True
            self.goals[new] = self.positions[new]
            self._stale[new] = True
            self._refresh_agents(new)
        else:
            back = ids[self._held[ids]]
            self._held[back] = False
            self.goals[back] = self._goal_after_hold[back]
            self._priorities[back] = self._priority_after_hold[back]
            self._stale[back] = True
        self._held_ids = np.flatnonzero(self._held)
        self.reached = self.positions == self.goals

    def reset_positions(self, cells: np.ndarray) -> None:
        """Continue from ``cells`` (N,), where the vehicles really are; `InstanceError` unless they are N distinct
        passable cells. Held agents are held where they now stand."""
        start_cells, _ = checked_instance(self.grid, cells, np.asarray(cells))
        if start_cells.shape != self.positions.shape:
            raise InstanceError(f"{self.grid.name}: {start_cells.size} positions for {self.positions.size} agents")
        self.positions = start_cells
        held = self._held_ids
        if held.size:
            self.goals[held] = start_cells[held]
            self._stale[held] = True
            self._refresh_agents(held)
        self.reached = self.positions == self.goals

    def _checked_agents(self, agents: np.ndarray) -> np.ndarray:
        """Agent ids as int64; `InstanceError` for a non-integer array, an unknown or a repeated agent."""
        ids = np.asarray(agents)
        if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
            raise InstanceError(f"{self.grid.name}: agents must be a 1-d integer array, got {ids.dtype} {ids.shape}")
        ids = ids.astype(np.int64)
        if ((ids < 0) | (ids >= self.positions.size)).any():
            raise InstanceError(f"{self.grid.name}: agent ids must be in 0..{self.positions.size - 1}")
        if ids.size > 1 and np.unique(ids).size != ids.size:
            raise InstanceError(f"{self.grid.name}: an agent is assigned twice in one call")
        return ids

    def step(self, deadline_s: float | None = None) -> np.ndarray:
        """Plan and take one step; returns a copy of the new positions. Distances for new goals are computed
        first, as long as ``deadline_s`` (monotonic) allows: an agent whose new goal's row is not ready by then
        keeps heading for its previous goal for this step."""
        self._refresh_rows(deadline_s)
        if self._held_ids.size:
            self._priorities[self._held_ids] = _HELD_PRIORITY
        step_into(self.grid.successors, self._rows, self._row_of, self.positions, self._next, self._priorities,
                  self._occ_now, self._occ_nxt, self._cand, self._work, self._rng, True)
        self.positions, self._next = self._next, self.positions
        update_priorities(self._priorities, self.positions, self.goals)
        self.reached = self.positions == self.goals
        self.steps += 1
        return self.positions.copy()

    def _refresh_rows(self, deadline_s: float | None) -> None:
        if self._stale.any():          # most steps have no new goal: skip the index building
            self._refresh_agents(np.flatnonzero(self._stale), deadline_s)

    def _refresh_agents(self, agents: np.ndarray, deadline_s: float | None = None) -> None:
        cells = self.grid.num_cells
        for agent in agents.tolist():
            goal = int(self.goals[agent])
            keys = [goal + cells, goal] if self._detour[agent] and self._obstacles and not self._avoid[goal] \
                else [goal]
            for key in keys:
                found = self._row_by_goal.get(key)
                if found is None:
                    if deadline_s is not None and time.monotonic() >= deadline_s:
                        return
                    found = self._new_row(key)
                row = found
                if self._rows[row, self.positions[agent]] >= 0:
                    break                   # a detour that leaves no way from here: the plain row instead
            self._row_of[agent] = row
            self._stale[agent] = False

    def _new_row(self, key: int) -> int:
        """A row holding the distances to goal ``key`` (``key`` - C: the same, round the obstacles): a free row,
        else one no agent uses, else a new one."""
        if not self._free_rows:
            self._reclaim_rows()
        if not self._free_rows:
            self._grow_rows()
        row = self._free_rows.pop()
        if key >= self.grid.num_cells:
            self.table.to_goal_avoiding(key - self.grid.num_cells, self._avoid, self._rows[row])
        else:
            self._rows[row] = self.table.to_goal(key)
        self._row_goal[row] = key
        self._row_by_goal[key] = row
        return row

    def _reclaim_rows(self) -> None:
        live = np.zeros(self._rows.shape[0], dtype=bool)
        live[self._row_of] = True             # stale agents keep their previous goal's row until refreshed
        for row in np.flatnonzero(~live & (self._row_goal >= 0)).tolist():
            del self._row_by_goal[int(self._row_goal[row])]
            self._row_goal[row] = -1
            self._free_rows.append(row)

    def _grow_rows(self) -> None:
        old = self._rows.shape[0]
        rows = np.empty((2 * old, self._rows.shape[1]), dtype=np.int32)
        rows[:old] = self._rows
        self._rows = rows
        self._row_goal = np.concatenate([self._row_goal, np.full(old, -1, dtype=np.int64)])
        self._free_rows.extend(range(2 * old - 1, old - 1, -1))

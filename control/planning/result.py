"""What every planner returns, and the checks every planner runs on its input.

A plan is a (T + 1, N) int32 array of cells, ``paths[0] == starts``. The costs follow the MAPF convention: an
agent's cost is the first step from which it stays on its goal to the end of the plan; the makespan is the largest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from control.planning.grid_map import GridMap


class InstanceError(ValueError):
    """Starts or goals a planner cannot use (wrong shape, off the map, on a blocked cell, shared by two agents)."""


@dataclass(frozen=True)
class PlanResult:
    """A plan and its figures. ``proved_unsolvable`` is set when the planner showed that no plan exists (a goal out
    of reach, or LaCAM's search exhausted); ``solved=False`` without it only means "not found in time"."""

    paths: np.ndarray        # (T + 1, N) int32
    solved: bool             # every agent on its goal at the last step
    makespan: int            # T when solved (the step from which every agent stays home), else 0
    sum_of_costs: int        # sum of the agents' arrival-and-stay steps (T for an agent not home at the end)
    runtime_ms: float
    algo: str
    expanded: int = 0        # LaCAM high-level nodes (0 for PIBT)
    proved_unsolvable: bool = False


def arrival_steps(paths: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """(N,) int64: for each agent the first step from which it stays on its goal; T (the last step) for an agent
    that is not on its goal at the end."""
    steps = paths.shape[0] - 1
    away = paths != goals[None, :]
    flipped = away[::-1]
    last_away = steps - np.argmax(flipped, axis=0)          # last step the agent was away from its goal
    arrival = np.where(flipped.any(axis=0), last_away + 1, 0)
    steps_to_goal: np.ndarray = np.minimum(arrival, steps).astype(np.int64)
    return steps_to_goal


def make_result(paths: np.ndarray, goals: np.ndarray, *, runtime_ms: float, algo: str, expanded: int = 0,
                proved_unsolvable: bool = False) -> PlanResult:
    """A `PlanResult` with its costs computed from ``paths``."""
    plan = np.ascontiguousarray(paths, dtype=np.int32)
    solved = bool(plan.shape[1] == 0 or (plan[-1] == goals).all())
    arrivals = arrival_steps(plan, goals) if plan.shape[1] else np.zeros(0, dtype=np.int64)
    makespan = int(arrivals.max(initial=0)) if solved else 0
    return PlanResult(paths=plan, solved=solved, makespan=makespan, sum_of_costs=int(arrivals.sum()),
                      runtime_ms=runtime_ms, algo=algo, expanded=expanded, proved_unsolvable=proved_unsolvable)


def checked_instance(grid: GridMap, starts: np.ndarray, goals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and goals as int32 copies; `InstanceError` naming the first problem (shape, cell outside the map or
    blocked, two agents on one start or one goal)."""
    start_cells = _cells(grid, starts, "starts")
    goal_cells = _cells(grid, goals, "goals")
    if start_cells.shape != goal_cells.shape:
        raise InstanceError(f"{grid.name}: {start_cells.size} starts but {goal_cells.size} goals")
    _check_distinct(grid, start_cells, "start")
    _check_distinct(grid, goal_cells, "goal")
    return start_cells, goal_cells


def checked_cells(grid: GridMap, cells: np.ndarray, what: str) -> np.ndarray:
    """``cells`` as an int32 copy; `InstanceError` when not a 1-d array of passable cell ids (duplicates allowed)."""
    return _cells(grid, cells, what)


def _cells(grid: GridMap, cells: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(cells)
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise InstanceError(f"{grid.name}: {what} must be a 1-d integer array of cell ids, got {array.dtype} "
                            f"{array.shape}")
    ids = array.astype(np.int64)
    outside = (ids < 0) | (ids >= grid.width * grid.height)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise InstanceError(f"{grid.name}: {what}[{i}] = {int(ids[i])} is not a cell of the map")
    blocked = ~grid.passable.ravel()[ids]
    if blocked.any():
        i = int(np.flatnonzero(blocked)[0])
        raise InstanceError(f"{grid.name}: {what}[{i}] = cell {int(ids[i])} is blocked")
    return ids.astype(np.int32)


def _check_distinct(grid: GridMap, cells: np.ndarray, what: str) -> None:
    values, counts = np.unique(cells, return_counts=True)
    if (counts > 1).any():
        cell = int(values[counts > 1][0])
        agents = np.flatnonzero(cells == cell)[:2].tolist()
        raise InstanceError(f"{grid.name}: agents {agents[0]} and {agents[1]} share the {what} cell {cell}")

"""PIBT for whole problems: repeat the one-step kernel until every agent is home, the deadline or ``max_steps``.

PIBT is fast and never produces a conflict, but it is incomplete (it can circle forever in narrow places); LaCAM
(`control.planning.lacam`) uses it as a successor generator and is complete. The kernels are in ``kernels``.
"""

from __future__ import annotations

import time

import numpy as np

from control.planning.budget import ChunkBudget, goal_rows
from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap
from control.planning.kernels import pibt_rollout, pibt_step, seed_state, work_arrays
from control.planning.result import PlanResult, checked_instance, make_result

__all__ = ["base_order", "initial_priorities", "min_steps", "pibt_paths", "pibt_step", "solve_pibt"]

ALGO = "pibt"


def solve_pibt(grid: GridMap, starts: np.ndarray, goals: np.ndarray, *, seed: int = 0,
               deadline_s: float | None = None, max_steps: int | None = None,
               distances: DistanceTable | None = None, swap: bool = False) -> PlanResult:
    """Roll PIBT steps from ``starts`` until every agent is on its goal (solved), ``deadline_s`` (monotonic) or
    ``max_steps`` (default: four times the map's width plus height, at least 1,000) pass; the plan ends there.
    ``swap`` adds LaCAM*'s swap operation (far better in corridors, about a third more work per step); off, this
    is the paper's PIBT. `control.planning.result.InstanceError` for unusable starts or goals."""
    started = time.monotonic()
    start_cells, goal_cells = checked_instance(grid, starts, goals)
    table = distances if distances is not None else DistanceTable(grid)
    dist = goal_rows(table, goal_cells, deadline_s)
    if dist is None:
        return _finish(start_cells[None, :], goal_cells, started)
    if (dist[np.arange(goal_cells.size), start_cells] < 0).any():
        return _finish(start_cells[None, :], goal_cells, started, proved_unsolvable=True)
    limit = max_steps if max_steps is not None else min_steps(grid)
    paths = pibt_paths(grid.successors, dist, start_cells, goal_cells, seed=seed, max_steps=limit,
                       deadline_s=deadline_s, swap=swap)
    return _finish(paths, goal_cells, started)


def initial_priorities(agents: int, seed: int) -> np.ndarray:
    """(N,) float64 in [0, 1): every agent starts with zero steps waited and a seeded random tie-break."""
    return np.random.default_rng(seed).random(agents)


def base_order(distance_to_go: np.ndarray, seed: int) -> np.ndarray:
    """(N,) int32 agents by decreasing tie-break: the farthest from its goal first (LaCAM's initial priority, so
    long trips are not held up by short ones), ties in a seeded random order."""
    noise = np.random.default_rng(seed).random(distance_to_go.size)
    order: np.ndarray = np.argsort(-(distance_to_go + noise), kind="stable").astype(np.int32)
    return order


def min_steps(grid: GridMap) -> int:
    """A safe default step limit for a map."""
    return max(1_000, 4 * (grid.width + grid.height))


def pibt_paths(successors: np.ndarray, dist: np.ndarray, starts: np.ndarray, goals: np.ndarray, *, seed: int = 0,
               max_steps: int = 1_000, deadline_s: float | None = None, swap: bool = False) -> np.ndarray:
    """The planning loop of `solve_pibt` on checked int32 ``starts`` and ``goals`` and their distance rows ``dist``
    ((N, C), row i to goal i) already built: (T + 1, N) configurations until every agent is home, ``max_steps``
    or ``deadline_s``. Steps run in kernel chunks sized by a `ChunkBudget`; the buffer doubles as needed."""
    base = base_order(dist[np.arange(goals.size), starts], seed)
    order = base.copy()
    rng = seed_state(seed)
    work = work_arrays(starts.size, successors.shape[0], successors.shape[1])
    budget = ChunkBudget(deadline_s)
    paths = np.empty((min(max_steps, 64) + 1, starts.size), dtype=np.int32)
    paths[0] = starts
    t = 0
    while t < max_steps and not (paths[t] == goals).all() and not budget.expired():
        if t + 1 >= paths.shape[0]:
            paths = _grown(paths, min(max_steps + 1, 2 * paths.shape[0]))
        units = min(budget.next_units(), paths.shape[0] - 1 - t)
        began = time.monotonic()
        reached = pibt_rollout(successors, dist, goals, paths, t, units, order, base, rng, swap, *work)
        budget.record(reached - t, time.monotonic() - began)
        t = reached
    return paths[: t + 1]


def _grown(paths: np.ndarray, rows: int) -> np.ndarray:
    bigger = np.empty((rows, paths.shape[1]), dtype=np.int32)
    bigger[: paths.shape[0]] = paths
    return bigger


def _finish(paths: np.ndarray, goals: np.ndarray, started: float, *, proved_unsolvable: bool = False) -> PlanResult:
    return make_result(paths, goals, runtime_ms=(time.monotonic() - started) * 1000.0, algo=ALGO,
                       proved_unsolvable=proved_unsolvable)

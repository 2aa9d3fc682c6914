"""LaCAM: complete multi-agent path finding with PIBT as the successor generator (the search is in
``kernels``; this module owns its arrays, the clock and the result).

The driver calls the kernel in chunks sized to about half a millisecond, grows the node arrays when the kernel
reports them full (doubling, up to `MAX_NODE_BYTES`), and stops at the first of: a goal configuration (solved), an
exhausted search (no plan exists), the deadline or the memory cap (the best configuration sequence found so far:
most agents home, then least total distance). A process's first plan loads the kernels from numba's cache
(~20 ms, inside its deadline) unless `warm_up` did so beforehand.
"""

from __future__ import annotations

import time

import numpy as np

from control.planning import kernels as lk
from control.planning.budget import ChunkBudget, goal_rows
from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap, build_grid_map
from control.planning.kernels import NIL, seed_state, work_arrays
from control.planning.lifelong import LifelongPlanner
from control.planning.pibt import base_order, solve_pibt
from control.planning.result import PlanResult, checked_instance, make_result

__all__ = ["MAX_NODE_BYTES", "solve_lacam", "warm_up"]

ALGO = "lacam"
MAX_NODE_BYTES = 1 << 30      # configurations and agent orders of the high-level nodes, together
_FIRST_NODES = 256


def solve_lacam(grid: GridMap, starts: np.ndarray, goals: np.ndarray, *, seed: int = 0,
                deadline_s: float | None = None, distances: DistanceTable | None = None,
                swap: bool = True) -> PlanResult:
    """Search until solved, proved unsolvable, ``deadline_s`` (monotonic) or the memory cap; then the path of
    configurations to the goal or, unsolved, to the best node found. `control.planning.result.InstanceError` for
    unusable starts or goals."""
    started = time.monotonic()
    start_cells, goal_cells = checked_instance(grid, starts, goals)
    table = distances if distances is not None else DistanceTable(grid)
    dist = goal_rows(table, goal_cells, deadline_s)
    if dist is None:
        return _finish(start_cells[None, :], goal_cells, started, 0)
    if (dist[np.arange(goal_cells.size), start_cells] < 0).any():
        return _finish(start_cells[None, :], goal_cells, started, 0, proved_unsolvable=True)
    search = LacamSearch(grid.successors, dist, start_cells, goal_cells, seed, swap)
    status = search.run_until(deadline_s)
    node = search.goal_node if status == lk.SOLVED else search.best_node
    return _finish(search.path_to(node), goal_cells, started, search.nodes,
                   proved_unsolvable=status == lk.EXHAUSTED)


def warm_up() -> None:
    """Load the planners' numba kernels (LaCAM, PIBT with and without swap, the lifelong step) before any
    deadline counts, by planning a two-agent instance. A process's first plan otherwise spends ~20 ms loading them
    from numba's cache, or seconds compiling them the very first time, inside its deadline. Call it once at start
    (a planner service, a CLI command with a tight deadline)."""
    grid = build_grid_map("warm-up", np.ones((2, 3), dtype=bool))
    starts, goals = np.array([0, 5], dtype=np.int32), np.array([5, 0], dtype=np.int32)
    solve_lacam(grid, starts, goals)
    solve_pibt(grid, starts, goals)
    solve_pibt(grid, starts, goals, swap=True)
    LifelongPlanner(grid, starts, goals).step()


class LacamSearch:
    """The search's arrays and the chunked driver loop; ``run_until`` may be called again to continue."""

    def __init__(self, successors: np.ndarray, dist: np.ndarray, starts: np.ndarray, goals: np.ndarray,
                 seed: int, swap: bool = True) -> None:
        n = starts.size
        self.swap = swap
        cells, width = successors.shape
        self.successors, self.dist, self.goals = successors, dist, goals
        self.row_of = np.arange(n, dtype=np.int32)
        self.base = base_order(dist[np.arange(n), starts], seed)
        self.rng = seed_state(seed)
        self.ctr = np.zeros(lk.COUNTERS, dtype=np.int64)
        self.ctr[[lk.GOAL_NODE, lk.BEST_NODE]] = NIL
        hnodes = _FIRST_NODES
        self.hn_config = np.empty((hnodes, n), dtype=np.int32)
        self.hn_order = np.empty((hnodes, n), dtype=np.int32)
        self.hn_parent, self.hn_head, self.hn_tail = (np.empty(hnodes, dtype=np.int32) for _ in range(3))
        self.hn_hash = np.empty(hnodes, dtype=np.int64)
        lnodes = hnodes * (width + 1)
        self.ln_parent, self.ln_who, self.ln_where, self.ln_depth, self.ln_next = (
            np.empty(lnodes, dtype=np.int32) for _ in range(5))
        self.table = np.full(4 * hnodes, NIL, dtype=np.int32)
        self.open_stack = np.empty(hnodes, dtype=np.int32)
        self.q_to = np.empty(n, dtype=np.int32)
        self.occ_now, self.occ_nxt, self.cand, self.work = work_arrays(n, cells, width)
        self.starts = np.ascontiguousarray(starts, dtype=np.int32)
        self.status = lk.RUNNING          # the kernel adds the root node on its first call

    @property
    def nodes(self) -> int:
        """High-level nodes (distinct configurations) generated so far."""
        return int(self.ctr[lk.N_HNODES])

    @property
    def goal_node(self) -> int:
        return int(self.ctr[lk.GOAL_NODE])

    @property
    def best_node(self) -> int:
        return int(self.ctr[lk.BEST_NODE])

    def run_until(self, deadline_s: float | None) -> int:
        """Search until solved, exhausted, the deadline or the memory cap; returns the kernel status
        (RUNNING when stopped by the clock or the cap)."""
        budget = ChunkBudget(deadline_s)
        while self.status in (lk.RUNNING, lk.FULL) and not budget.expired():
            if self.status == lk.FULL and not self._grow():
                self.status = lk.RUNNING
                break
            before = int(self.ctr[lk.ITERATIONS])
            began = time.monotonic()
            self.status = self._run(budget.next_units())
            budget.record(int(self.ctr[lk.ITERATIONS]) - before, time.monotonic() - began)
        return lk.RUNNING if self.status == lk.FULL else self.status

    def path_to(self, node: int) -> np.ndarray:
        """(T + 1, N) configurations from the start to ``node`` along the parents (the start alone for NIL: the
        search never ran)."""
        if node == NIL:
            return self.starts[None, :].copy()
        chain = []
        while node != NIL:
            chain.append(node)
            node = int(self.hn_parent[node])
        return self.hn_config[np.array(chain[::-1], dtype=np.int64)]

    def _run(self, budget: int) -> int:
        return int(lk.lacam_run(budget, self.starts, self.successors, self.dist, self.row_of, self.goals, self.base,
                                self.rng, self.hn_config, self.hn_order, self.hn_parent, self.hn_hash, self.hn_head,
                                self.hn_tail, self.ln_parent, self.ln_who, self.ln_where, self.ln_depth, self.ln_next,
                                self.table, self.open_stack, self.ctr, self.q_to, self.occ_now, self.occ_nxt,
                                self.cand, self.work, self.swap))

    def _grow(self) -> bool:
        """Double whatever the kernel found full; False when the node arrays would pass `MAX_NODE_BYTES`."""
        nodes = int(self.ctr[lk.N_HNODES])
        width = self.successors.shape[1]
        if nodes + 1 > self.hn_config.shape[0]:
            rows = 2 * self.hn_config.shape[0]
            if rows * self.hn_config.shape[1] * 8 > MAX_NODE_BYTES:
                return False
            for name in ("hn_config", "hn_order", "hn_parent", "hn_hash", "hn_head", "hn_tail"):
                setattr(self, name, _grown(getattr(self, name), rows))
        if 2 * (nodes + 1) > self.table.shape[0]:
            self.table = np.full(2 * self.table.shape[0], NIL, dtype=np.int32)
            self.ctr[lk.REHASH] = 1          # the kernel refills it on its next call
        if int(self.ctr[lk.N_LNODES]) + width + 1 > self.ln_parent.shape[0]:
            rows = 2 * self.ln_parent.shape[0]
            for name in ("ln_parent", "ln_who", "ln_where", "ln_depth", "ln_next"):
                setattr(self, name, _grown(getattr(self, name), rows))
        if int(self.ctr[lk.OPEN_SIZE]) + 1 > self.open_stack.shape[0]:
            self.open_stack = _grown(self.open_stack, 2 * self.open_stack.shape[0])
        return True


def _grown(array: np.ndarray, rows: int) -> np.ndarray:
    bigger = np.empty((rows, *array.shape[1:]), dtype=array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


def _finish(paths: np.ndarray, goals: np.ndarray, started: float, expanded: int, *,
            proved_unsolvable: bool = False) -> PlanResult:
    return make_result(paths, goals, runtime_ms=(time.monotonic() - started) * 1000.0, algo=ALGO,
                       expanded=expanded, proved_unsolvable=proved_unsolvable)

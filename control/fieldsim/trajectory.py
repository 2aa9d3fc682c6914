"""Executed IGV trajectories, checked as they are recorded: collisions, illegal moves and deadlocks.

The planners are checked before dispatch; this checks what the devices actually did, after faults, lost orders and
replanning. Positions are buffered per tick in a fixed (chunk + 1, N) array; a full chunk goes through the same
independent validator the planners' tests use (`control.planning.validate`), its last row becomes the next chunk's
first, so memory stays bounded over a day of 216,000 ticks. Deadlocks are found by a stall detector: an agent that
has a goal, is not waiting on purpose, and has not come closer to its goal (exact step distances) for ``stall_s``
counts one stall episode, scanned once per chunk in a numba kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap, MapError
from control.planning.result import checked_cells
from control.planning.validate import Violation, validate

__all__ = ["TrajectoryLog"]

_COLLISIONS = frozenset({"vertex", "swap"})
_ILLEGAL = frozenset({"continuity", "one_way", "obstacle"})
_FAR = np.int32(2**30)          # distance of a cell from which the goal cannot be reached: never an improvement
MAX_EXAMPLES = 20


class TrajectoryLog:
    """Executed positions, checked in chunks (bounded memory) by control.planning.validate (vertex and swap
    conflicts, illegal moves) and by a stall detector (deadlocks). ``examples`` keeps the first violations found,
    for a report; ``ticks`` counts the recorded ticks."""

    def __init__(self, grid: GridMap, starts: np.ndarray, *, chunk_ticks: int = 2048, tick_s: float = 0.4,
                 stall_s: float = 900.0, distances: DistanceTable | None = None) -> None:
        if isinstance(chunk_ticks, bool) or not isinstance(chunk_ticks, int) or chunk_ticks < 1:
            raise ValueError(f"chunk_ticks must be a positive integer, got {chunk_ticks!r}")
        if not (tick_s > 0 and stall_s > 0 and np.isfinite(tick_s) and np.isfinite(stall_s)):
            raise ValueError(f"tick_s and stall_s must be positive seconds, got {tick_s!r} and {stall_s!r}")
        first = checked_cells(grid, starts, "starts")
        n = first.size
        self.grid = grid
        self.table = distances if distances is not None else DistanceTable(grid)
        self.collisions = 0
        self.illegal_moves = 0
        self.deadlocks = 0
        self.ticks = 0
        self.examples: list[Violation] = []
        self.stall_ticks = max(1, int(np.ceil(stall_s / tick_s)))
        self._paths = np.empty((chunk_ticks + 1, n), dtype=np.int32)
        self._goals = np.full((chunk_ticks + 1, n), -1, dtype=np.int32)
        self._waiting = np.ones((chunk_ticks + 1, n), dtype=bool)
        self._paths[0] = first
        self._shape = (n,)
        self._filled = 0              # rows written after row 0
        self._first_chunk = True
        self._closed = False
        self._last_goal = np.full(n, -1, dtype=np.int32)
        self._best = np.zeros(n, dtype=np.int32)
        self._since = np.zeros(n, dtype=np.int64)
        self._counted = np.zeros(n, dtype=bool)

    def record(self, positions: np.ndarray, goals: np.ndarray, waiting: np.ndarray) -> None:
        """One tick's executed positions, the agents' goals (-1: none) and which agents wait on purpose (held,
        idle): those are never counted as stalled."""
        if self._closed:
            raise ValueError("the trajectory log is closed")
        row = self._filled + 1
        shape = self._shape
        if (getattr(positions, "shape", None) != shape or getattr(goals, "shape", None) != shape
                or getattr(waiting, "shape", None) != shape):      # getattr: np.shape costs more than the copies
            raise ValueError(f"positions, goals and waiting must be arrays of shape {shape}, got "
                             f"{np.shape(positions)}, {np.shape(goals)} and {np.shape(waiting)}")
        self._paths[row] = positions
        self._goals[row] = goals
        self._waiting[row] = waiting
        self._filled = row
        if row == self._paths.shape[0] - 1:
            self._check_chunk()

    def close(self) -> None:
        """Check what is buffered; the counters are final afterwards. Closing twice is harmless."""
        if not self._closed:
            self._check_chunk()
            self._closed = True

    def _check_chunk(self) -> None:
        rows = self._filled + 1
        if rows > 1:
            paths = self._paths[:rows]
            self._repair_outside(paths)
            self._count_violations(paths)
            self.deadlocks += self._scan_stalls(paths[1:], self._goals[1:rows], self._waiting[1:rows])
            self.ticks += rows - 1
        self._paths[0] = self._paths[rows - 1]
        self._goals[0] = self._goals[rows - 1]
        self._waiting[0] = self._waiting[rows - 1]
        self._filled = 0
        self._first_chunk = False

    def _repair_outside(self, paths: np.ndarray) -> None:
        """A position that is not a cell id is an illegal move; the agent is taken to stay where it was, so the
        validator still checks the rest of the chunk (row 0 is always a valid row)."""
        outside = np.argwhere((paths < 0) | (paths >= self.grid.num_cells))
        for t, agent in outside:
            paths[t, agent] = paths[t - 1, agent]
            self.illegal_moves += 1
            self._note(Violation("continuity", int(t), int(agent), detail="position is not a cell id"))

    def _count_violations(self, paths: np.ndarray) -> None:
        found = validate(self.grid, paths[0], paths[-1], paths, require_goals=False,
                         max_report=4 * paths.size + 1)
        for violation in found:
            if violation.t == 0 and not self._first_chunk:
                continue                      # row 0 was the previous chunk's last row, already counted
            if violation.kind in _COLLISIONS:
                self.collisions += 1
            elif violation.kind in _ILLEGAL:
                self.illegal_moves += 1
            else:
                continue
            self._note(violation)

    def _note(self, violation: Violation) -> None:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(violation)

    def _scan_stalls(self, paths: np.ndarray, goals: np.ndarray, waiting: np.ndarray) -> int:
        goals = np.where((goals >= 0) & (goals < self.grid.num_cells), goals, -1).astype(np.int32)
        dist = self._distances(paths, goals)
        return int(_stalls(dist, goals, waiting, self._last_goal, self._best, self._since, self._counted,
                           self.ticks + 1, self.stall_ticks))

    def _distances(self, paths: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """(T, N) int32 steps from each position to its goal at that tick: -1 no goal, _FAR unreachable."""
        flat_goals = goals.ravel()
        order = np.argsort(flat_goals, kind="stable")
        ordered = flat_goals[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        ends = np.r_[starts[1:], ordered.size]
        flat_paths = paths.ravel()
        dist = np.full(flat_goals.size, -1, dtype=np.int32)
        for begin, end in zip(starts.tolist(), ends.tolist(), strict=True):
            goal = int(ordered[begin])
            if goal < 0:
                continue
            members = order[begin:end]
            try:
                steps = self.table.to_goal(goal)[flat_paths[members]]
            except MapError:                      # a blocked goal cannot be reached
                steps = np.full(members.size, -1, dtype=np.int32)
            dist[members] = np.where(steps >= 0, steps, _FAR)
        return dist.reshape(goals.shape)


@njit(cache=True, nogil=True)
def _stalls(dist: np.ndarray, goals: np.ndarray, waiting: np.ndarray, last_goal: np.ndarray, best: np.ndarray,
            since: np.ndarray, counted: np.ndarray, first_tick: int, stall_ticks: int) -> int:  # pragma: no cover
    """Stall episodes that start in these rows. Per agent: an episode restarts when it has no goal, waits, is on
    its goal, gets a new goal or comes closer than ever in this episode; it counts once, after ``stall_ticks``."""
    found = 0
    for r in range(dist.shape[0]):
        tick = first_tick + r
        for i in range(dist.shape[1]):
            goal = goals[r, i]
            d = dist[r, i]
            if goal < 0 or waiting[r, i] or d == 0 or goal != last_goal[i] or d < best[i]:
                last_goal[i] = goal
                best[i] = d
                since[i] = tick
                counted[i] = False
            elif not counted[i] and tick - since[i] >= stall_ticks:
                counted[i] = True
                found += 1
    return found

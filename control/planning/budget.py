"""Deadlines for numba loops, which cannot read the clock: the Python driver calls a kernel for a bounded number of
units of work (PIBT steps, LaCAM nodes) sized from the measured rate, so that it reads the monotonic clock about
every half millisecond, and stops at the deadline."""

from __future__ import annotations

import time

import numpy as np

from control.planning.distances import DistanceTable

CHECK_EVERY_S = 0.0005        # aim: one clock reading per this much kernel time
UNBOUNDED_CHUNK_S = 0.05      # without a deadline, still return to Python now and then
MAX_UNITS = 1 << 20


class ChunkBudget:
    """How many units the next kernel call may do before the driver looks at the clock again."""

    def __init__(self, deadline_s: float | None) -> None:
        self.deadline_s = deadline_s
        self._seconds_per_unit = 0.0

    def expired(self) -> bool:
        """True once the deadline has passed (never without one)."""
        return self.deadline_s is not None and time.monotonic() >= self.deadline_s

    def next_units(self) -> int:
        """Units for the next call: one until a rate is known, then what fits in the check interval (or in the
        time left, when that is shorter)."""
        if self._seconds_per_unit <= 0.0:
            return 1
        window = UNBOUNDED_CHUNK_S
        if self.deadline_s is not None:
            window = min(CHECK_EVERY_S, max(0.0, self.deadline_s - time.monotonic()))
        return int(min(MAX_UNITS, max(1.0, window / self._seconds_per_unit)))

    def record(self, units: int, seconds: float) -> None:
        """Learn the rate from a call that did ``units`` units in ``seconds`` (pessimistic: recent maximum)."""
        if units <= 0:
            return
        rate = seconds / units
        self._seconds_per_unit = rate if self._seconds_per_unit <= 0.0 else max(rate, 0.8 * self._seconds_per_unit)


def goal_rows(table: DistanceTable, goals: np.ndarray, deadline_s: float | None) -> np.ndarray | None:
    """(N, C) int32 distances to each agent's goal, one BFS per distinct goal (cached by the table); None when the
    deadline passes first."""
    rows = np.empty((goals.size, table.grid.width * table.grid.height), dtype=np.int32)
    for i, goal in enumerate(goals.tolist()):
        if deadline_s is not None and time.monotonic() >= deadline_s:
            return None
        rows[i] = table.to_goal(goal)
    return rows

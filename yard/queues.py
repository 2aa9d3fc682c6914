"""Queue length per lane, smoothed: the median count over a short time window, so one missed or doubled truck
in one frame does not change the figure the operator and the planners see."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int32]


class QueueSmoother:
    """A ring buffer of (time, counts per lane); ``current`` is the rounded median over the last ``window_s``."""

    def __init__(self, lanes: int, window_s: float, capacity: int = 64) -> None:
        self.window_s = window_s
        self._times = np.full(capacity, -np.inf)
        self._counts = np.zeros((capacity, lanes), np.int32)
        self._next = 0
        self.current: IntArray = np.zeros(lanes, np.int32)

    def add(self, t: float, counts: IntArray) -> IntArray:
        """Record one frame's counts at time ``t`` (non-decreasing) and return the smoothed lengths."""
        self._times[self._next] = t
        self._counts[self._next] = counts
        self._next = (self._next + 1) % len(self._times)
        recent = self._counts[self._times >= t - self.window_s]
        self.current = np.floor(np.median(recent, axis=0) + 0.5).astype(np.int32)
        return self.current

    def restore(self, lane: int, length: int) -> None:
        """Set one lane's length from the journal; it holds until frames come in again."""
        self.current[lane] = length

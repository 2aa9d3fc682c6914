"""Hourly series of a simulated day: arrivals, completions, the gate-in queue, IGVs and cranes at work."""

from __future__ import annotations

import math

__all__ = ["DayStats"]


class DayStats:
    """Counts per hour of the window (hours past it are folded into the last one); the queue is the hour's max."""

    def __init__(self, hours: float) -> None:
        self.hours = max(1, math.ceil(hours))
        self.arrivals = [0.0] * self.hours
        self.completed = [0.0] * self.hours
        self.queue = [0.0] * self.hours
        self.igv_busy = [0.0] * self.hours
        self.crane_busy = [0.0] * self.hours
        self._samples = [0] * self.hours
        self.queue_now = 0
        self.max_queue = 0

    def _hour(self, t: float) -> int:
        return min(self.hours - 1, max(0, int(t // 3600.0)))

    def arrival(self, t: float) -> None:
        self.arrivals[self._hour(t)] += 1

    def completion(self, t: float) -> None:
        self.completed[self._hour(t)] += 1

    def queue_change(self, t: float, delta: int) -> None:
        """Trucks waiting for gate-in changed (each change is seen: the gate queue's true maximum)."""
        self.queue_now += delta
        self.yard_queue_sample(t, self.queue_now)

    def yard_queue_sample(self, t: float, waiting: int) -> None:
        """All trucks waiting (gate, holding area, bays), sampled: the day's and the hour's maximum."""
        self.max_queue = max(self.max_queue, waiting)
        hour = self._hour(t)
        self.queue[hour] = max(self.queue[hour], float(waiting))

    def busy_sample(self, t: float, igvs: float, cranes: float) -> None:
        """Fractions of IGVs on a job and of cranes in a move now, averaged over the hour's samples."""
        hour = self._hour(t)
        count = self._samples[hour]
        self.igv_busy[hour] = (self.igv_busy[hour] * count + igvs) / (count + 1)
        self.crane_busy[hour] = (self.crane_busy[hour] * count + cranes) / (count + 1)
        self._samples[hour] = count + 1

    def hourly(self) -> dict[str, list[float]]:
        return {"arrivals": list(self.arrivals), "completed": list(self.completed), "queue": list(self.queue),
                "igv_busy": list(self.igv_busy), "crane_busy": list(self.crane_busy)}

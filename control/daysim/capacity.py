"""The highest sustainable trucks per day of one configuration, by bisection over simulated days.

Each evaluation is a whole simulated day (tens of seconds), so the search keeps their number at about
log2((high - low) / step) + 2: it checks both ends, then halves the bracket on the ``step`` grid from ``low``.
Sustainability is treated as monotone in the load (more trucks never makes a day easier); seeded days make that
hold closely enough, and every evaluation is kept in the result for a reader to check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from control.daysim.report import SimReport

__all__ = ["CapacityResult", "find_capacity", "sustainable"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapacityResult:
    """``trucks_per_day``: the highest sustainable load found (``high`` when even that is sustainable, 0 when even
    ``low`` is not); ``tried``: (load, sustainable, report) in the order evaluated."""

    trucks_per_day: int
    tried: list[tuple[int, bool, SimReport]]


def sustainable(report: SimReport, *, max_p95_s: float = 3600.0, min_completed: float = 0.97) -> bool:
    """A day the gate and yard keep up with: at least ``min_completed`` of the arrived trucks completed, p95 time in
    the system at most ``max_p95_s``, and no collision or deadlock (a load is never bought with safety)."""
    return (report.trucks_completed >= min_completed * report.trucks_arrived
            and report.time_in_system_s.get("p95", float("inf")) <= max_p95_s
            and report.collisions == 0 and report.deadlocks == 0)


def find_capacity(run: Callable[[int], SimReport], *, low: int = 100, high: int = 8000, step: int = 50,
                  max_p95_s: float = 3600.0) -> CapacityResult:
    """Bisection on trucks/day: ``run(n)`` simulates a day at ``n`` trucks; `sustainable` (with ``max_p95_s``)
    judges it."""
    for name, value in (("low", low), ("high", high), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if high <= low:
        raise ValueError(f"high must be above low, got low={low}, high={high}")
    tried: list[tuple[int, bool, SimReport]] = []

    def judge(n: int) -> bool:
        report = run(n)
        ok = sustainable(report, max_p95_s=max_p95_s)
        tried.append((n, ok, report))
        log.info("capacity: %d trucks/day %s", n, "sustainable" if ok else "not sustainable")
        return ok

    if not judge(low):
        return CapacityResult(0, tried)
    if judge(high):
        return CapacityResult(high, tried)
    good, bad = 0, -(-(high - low) // step)          # in steps above low; high itself may lie off the grid
    while bad - good > 1:
        middle = (good + bad) // 2
        if judge(low + middle * step):
            good = middle
        else:
            bad = middle
    return CapacityResult(low + good * step, tried)

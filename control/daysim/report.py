"""What a simulated day reports: trucks through, time in the system, queues, utilisation, safety counters.

`SimReport.to_json` is the object ``smartgate simulate --json`` prints (plain JSON types only: a non-finite float
becomes null, a path a string); `summary` the few lines a person reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import PurePath

import numpy as np

__all__ = ["HOURLY_SERIES", "SimReport", "time_quantiles"]

#: The hourly series a report may carry (one value per simulated hour); plot_day draws the ones present.
HOURLY_SERIES: tuple[str, ...] = ("arrivals", "completed", "queue", "igv_busy", "crane_busy")


@dataclass
class SimReport:
    """The outcome of one simulated day (or of ``hours`` hours)."""

    trucks_arrived: int
    trucks_completed: int
    containers_moved: int
    time_in_system_s: dict[str, float]      # {"p50", "p95"} of completed trucks, gate-in arrival to gate-out exit
    max_queue: int                          # most trucks waiting at once (gate-in queue and yard)
    crane_utilisation: float                # mean busy fraction of the cranes, 0..1
    igv_utilisation: float                  # busy fraction of the IGVs, 0..1
    collisions: int
    deadlocks: int
    wall_s: float                           # wall-clock seconds the simulation took
    jobs_created: int = 0
    jobs_ended: int = 0
    jobs_open: int = 0
    jobs_unfinished: int = 0                # open when the run stopped, so ended there as cancelled
    faults: dict[str, int] = field(default_factory=dict)
    hourly: dict[str, list[float]] = field(default_factory=dict)   # "arrivals", "completed", "queue", "igv_busy"
    config: dict[str, object] = field(default_factory=dict)

    @property
    def completed_share(self) -> float:
        """Completed trucks ÷ arrived trucks (1.0 for a day without trucks)."""
        return self.trucks_completed / self.trucks_arrived if self.trucks_arrived else 1.0

    def to_json(self) -> dict[str, object]:
        """Every field as plain JSON types, in field order."""
        return {item.name: _jsonable(getattr(self, item.name)) for item in fields(self)}

    def summary(self) -> str:
        """A few human lines."""
        p50, p95 = (self.time_in_system_s.get(key, math.nan) / 60.0 for key in ("p50", "p95"))
        lines = [
            f"trucks: {self.trucks_arrived:,} arrived, {self.trucks_completed:,} completed "
            f"({100.0 * self.completed_share:.1f} %); containers moved: {self.containers_moved:,}",
            f"time in system: p50 {p50:.1f} min, p95 {p95:.1f} min; max queue {self.max_queue:,} trucks",
            f"utilisation: cranes {100.0 * self.crane_utilisation:.0f} %, IGVs {100.0 * self.igv_utilisation:.0f} %",
            f"safety: {self.collisions} collisions, {self.deadlocks} deadlocks; jobs {self.jobs_created:,} created, "
            f"{self.jobs_ended:,} ended ({self.jobs_unfinished:,} of them cancelled unfinished at the end), "
            f"{self.jobs_open:,} open",
        ]
        if self.faults:
            lines.append("faults: " + ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items())))
        lines.append(f"simulated in {self.wall_s:.1f} s")
        return "\n".join(lines)


def time_quantiles(values: Sequence[float]) -> dict[str, float]:
    """{"p50", "p95"} of ``values`` (seconds); both 0.0 when there are none (no truck completed)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return {"p50": 0.0, "p95": 0.0}
    p50, p95 = np.percentile(array, [50.0, 95.0])
    return {"p50": float(p50), "p95": float(p95)}


def _jsonable(value: object) -> object:
    """Plain JSON types: numpy scalars and arrays unwrapped, paths as strings, non-finite floats as None."""
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [_jsonable(item) for item in value]
    return str(value)

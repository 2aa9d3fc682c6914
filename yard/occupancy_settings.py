"""The occupancy tracker's tunables, in seconds (never frames: cameras drop frames and rates differ)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from bus.messages import MAX_AGENTS


@dataclass(frozen=True)
class OccupancySettings:
    """Hysteresis and smoothing times; the defaults suit 2–10 frames/s yard cameras.

    A slot turns occupied once the same kind has been seen in it over ``enter_s`` (gaps up to ``gap_s`` are
    bridged, a longer gap starts the count again), turns empty once nothing has been seen in it for ``exit_s``,
    and changes kind once the new kind has been seen over ``kind_change_s``. Queue lengths are the median of the
    counts over the last ``queue_window_s``.
    """

    enter_s: float = 1.0
    exit_s: float = 2.0
    kind_change_s: float = 1.0
    gap_s: float = 0.5
    queue_window_s: float = 1.5
    queue_samples: int = 64
    min_confidence: float = 0.0
    max_slots_per_update: int = 2000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {value!r}")
        for name in ("enter_s", "exit_s", "kind_change_s", "gap_s", "queue_window_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must lie within [0, 1], got {self.min_confidence!r}")
        if not isinstance(self.queue_samples, int) or not 1 <= self.queue_samples <= 10_000:
            raise ValueError(f"queue_samples must be an integer within [1, 10000], got {self.queue_samples!r}")
        if not isinstance(self.max_slots_per_update, int) or not 1 <= self.max_slots_per_update <= MAX_AGENTS:
            raise ValueError(f"max_slots_per_update must be an integer within [1, {MAX_AGENTS}], "
                             f"got {self.max_slots_per_update!r}")

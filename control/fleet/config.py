"""Fleet settings: how many IGVs, the tick, battery use and charging, and how often the assignment is re-solved."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FleetConfig:
    """Battery figures are fractions of a full battery per tick (0.4 s, one 2 m cell at 5 m/s)."""

    igvs: int
    tick_s: float = 0.4
    seed: int = 0
    drain_per_tick: float = 0.00004      # battery fraction per moving tick (~2.8 h driving on a full battery)
    charge_per_tick: float = 0.0004      # on a charging spot
    low_battery: float = 0.25
    full_battery: float = 0.95
    reassign_every_ticks: int = 25       # re-solve the assignment at most this often

    def __post_init__(self) -> None:
        if isinstance(self.igvs, bool) or not isinstance(self.igvs, int) or self.igvs < 0:
            raise ValueError(f"igvs must be a non-negative integer, got {self.igvs!r}")
        if not self.tick_s > 0.0:
            raise ValueError(f"tick_s must be positive, got {self.tick_s!r}")
        for name in ("drain_per_tick", "charge_per_tick"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if not 0.0 <= self.low_battery < self.full_battery <= 1.0:
            raise ValueError(f"need 0 <= low_battery < full_battery <= 1, got {self.low_battery!r} and "
                             f"{self.full_battery!r}")
        if isinstance(self.reassign_every_ticks, bool) or not isinstance(self.reassign_every_ticks, int) \
                or self.reassign_every_ticks < 1:
            raise ValueError(f"reassign_every_ticks must be a positive integer, got {self.reassign_every_ticks!r}")

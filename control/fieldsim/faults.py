"""Seeded fault plans for a simulated day: which device fails, when, and for how long.

Durations are typical of a container terminal: an IGV breakdown is cleared (reset, towed or swapped) in 5–20
minutes, a cell blocked by a dropped lashing cone or a stray vehicle in 5–15, a crane stop (sensor trip, spreader
fault) in 10–30, and a radio dropout loses 5–30 % of the orders for 2–10 minutes. The same arguments always give
the same plan, so a failing seeded day can be replayed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

__all__ = ["DURATION_S", "Fault", "FaultKind", "fault_plan"]

FaultKind = Literal["igv_breakdown", "blocked_cell", "crane_stop", "lost_messages"]
KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
DURATION_S: dict[FaultKind, tuple[float, float]] = {
    "igv_breakdown": (300.0, 1200.0),
    "blocked_cell": (300.0, 900.0),
    "crane_stop": (600.0, 1800.0),
    "lost_messages": (120.0, 600.0),
}
LOSS_RATE = (0.05, 0.3)


@dataclass(frozen=True)
class Fault:
    """One fault: ``target`` is an IGV id, ``"cell:<id>"``, a crane id, or ``"igvs"`` (lost messages, fleet-wide);
    ``rate`` is the fraction of orders lost (lost_messages only)."""

    kind: FaultKind
    at_s: float
    duration_s: float
    target: str
    rate: float = 0.0

    @property
    def end_s(self) -> float:
        return self.at_s + self.duration_s


def fault_plan(seed: int, day_s: float, *, igvs: Sequence[str], cranes: Sequence[str], cells: Sequence[int],
               per_day: int = 8) -> list[Fault]:
    """``per_day`` faults per 86,400 s, scaled to ``day_s`` (but never fewer than ``min(per_day, kinds)``),
    sorted by start time. The first four are one of each kind, so every kind is represented when ``per_day`` >= 4;
    a kind whose targets are empty (no cranes, say) is left out."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not (isinstance(day_s, int | float) and math.isfinite(day_s) and day_s > 0):
        raise ValueError(f"day_s must be positive seconds, got {day_s!r}")
    if isinstance(per_day, bool) or not isinstance(per_day, int) or per_day < 0:
        raise ValueError(f"per_day must be a non-negative integer, got {per_day!r}")
    rng = np.random.default_rng(seed)
    targets = _targets(rng, igvs, cranes, cells)
    kinds = [kind for kind in KINDS if kind in targets]
    if not kinds:
        return []
    count = 0 if per_day == 0 else max(min(per_day, len(kinds)), round(per_day * day_s / 86_400.0))
    chosen = [kinds[i] if i < len(kinds) else kinds[int(rng.integers(len(kinds)))] for i in range(count)]
    plan = [_fault(rng, kind, day_s, targets[kind]) for kind in chosen]
    return sorted(plan, key=lambda f: (f.at_s, f.kind, f.target))


def _targets(rng: np.random.Generator, igvs: Sequence[str], cranes: Sequence[str],
             cells: Sequence[int]) -> dict[FaultKind, Callable[[], str]]:
    def pick(items: Sequence[str]) -> Callable[[], str]:
        return lambda: items[int(rng.integers(len(items)))]

    found: dict[FaultKind, Callable[[], str]] = {}
    if igvs:
        found["igv_breakdown"] = pick(list(igvs))
        found["lost_messages"] = lambda: "igvs"
    if cells:
        found["blocked_cell"] = pick([f"cell:{int(c)}" for c in cells])
    if cranes:
        found["crane_stop"] = pick(list(cranes))
    return found


def _fault(rng: np.random.Generator, kind: FaultKind, day_s: float, target: Callable[[], str]) -> Fault:
    low, high = DURATION_S[kind]
    duration = float(rng.uniform(low, high))
    at = float(rng.uniform(0.0, day_s * 0.95))
    rate = float(rng.uniform(*LOSS_RATE)) if kind == "lost_messages" else 0.0
    return Fault(kind, round(at, 1), round(duration, 1), target(), round(rate, 3))

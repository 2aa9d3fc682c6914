"""How long a truck spends at the gates: SmartGate (cameras, fusion, clearance, barrier) against today's manual check.

Each process is a `GateProcess`: lanes in and out, processing time per truck at gate-in and gate-out as (mean, sd)
drawn lognormal by `sample_s`, the red-channel inspection, and the drives gate-in → bay and bay → gate-out. The
figures are assumptions stated in the docstrings of `SMARTGATE` and `MANUAL`; the manual times are a calibration
(chosen so that today's gate sustains about 800 trucks a day, DOMAIN.md), not a measurement.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["MANUAL", "PROCESSES", "SMARTGATE", "GateProcess", "lane_queue_waits", "process_named", "sample_s"]


def _check_mean_sd(mean: float, sd: float, label: str) -> None:
    if not (math.isfinite(mean) and math.isfinite(sd) and mean > 0.0 and sd >= 0.0):
        raise ValueError(f"{label}: expected a positive mean and a non-negative sd, got ({mean!r}, {sd!r})")


@dataclass(frozen=True)
class GateProcess:
    """The gate side of a truck's visit; times in seconds."""

    name: str
    lanes_in: int
    lanes_out: int
    gate_in_s: tuple[float, float]     # (mean, sd) of the processing time per truck at gate-in, lane occupied
    gate_out_s: tuple[float, float]    # (mean, sd) at gate-out
    inspection_s: float                # red channel: physical inspection in the holding area (lanes stay free)
    to_bay_s: float                    # drive from gate-in to the bay under the crane
    to_gate_out_s: float               # drive from the bay round the east end to gate-out

    def __post_init__(self) -> None:
        if self.lanes_in < 1 or self.lanes_out < 1:
            raise ValueError(f"{self.name}: lanes_in and lanes_out must be at least 1")
        for label, (mean, sd) in (("gate_in_s", self.gate_in_s), ("gate_out_s", self.gate_out_s)):
            _check_mean_sd(mean, sd, f"{self.name}.{label}")
        for label, value in (("inspection_s", self.inspection_s), ("to_bay_s", self.to_bay_s),
                             ("to_gate_out_s", self.to_gate_out_s)):
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{self.name}.{label} must be a finite non-negative number, got {value!r}")


SMARTGATE = GateProcess(
    name="smartgate", lanes_in=3, lanes_out=3,
    gate_in_s=(25.0, 8.0), gate_out_s=(20.0, 6.0),
    inspection_s=2250.0, to_bay_s=90.0, to_gate_out_s=150.0)
"""SmartGate, on the road widened to 6 lanes in Nov 2025 (DOMAIN.md): 3 lanes in, 3 out.

Gate-in: the lane pipeline reads a truck in about 3–5 s (passage latency p50 0.93 s, p99 2.8 s after the last frame,
benchmarks/RESULTS.md), the clearance decision and the acknowledged OPEN take milliseconds (p99 7.95 ms); the rest of
the ~25 s (sd 8 s) is the truck rolling up to the barrier, stopping for the read, and driving through the lane.
Gate-out is a read and a barrier only (the declaration is already matched): ~20 s (sd 6 s).
Red channel: the truck leaves the lane for the inspection area, 30–45 min of physical inspection (2,250 s mean).
Drives: gate-in → bay ~250 m at ~10 km/h (90 s); bay → east end → out lane → gate-out ~420 m (150 s).
"""

MANUAL = GateProcess(
    name="manual", lanes_in=2, lanes_out=2,
    gate_in_s=(150.0, 45.0), gate_out_s=(70.0, 20.0),
    inspection_s=2250.0, to_bay_s=90.0, to_gate_out_s=150.0)
"""Today's process on the 4-lane road: 2 lanes in, 2 out.

Gate-in: an officer checks the paper documents against the declaration, walks round the truck and checks the seal:
~150 s (sd 45 s) with the lane blocked. Gate-out: documents stamped and the seal looked at again: ~70 s (sd 20 s).
These are a CALIBRATION, not a measurement: with the daily profile of `control.daysim.arrivals` and ~10 min in the
yard, they make the gates sustain about 800 trucks a day (DOMAIN.md's "today" for the 1119–1120 road) with a p95
time in the system just under an hour; at 1,000 trucks a day the afternoon peak queue holds trucks for hours
(`tests/control/daysim/test_gate_times.py` checks both with `lane_queue_waits`). A 200 s check, the first guess,
sustained only ~600 trucks a day. Inspection and drives as for `SMARTGATE`.
"""

PROCESSES: dict[str, GateProcess] = {SMARTGATE.name: SMARTGATE, MANUAL.name: MANUAL}


def process_named(name: str) -> GateProcess:
    """The process called ``name`` ("smartgate" or "manual"); ValueError for any other name."""
    try:
        return PROCESSES[name]
    except KeyError:
        raise ValueError(f"unknown gate process {name!r}, expected one of {', '.join(PROCESSES)}") from None


def sample_s(rng: np.random.Generator, mean_sd: tuple[float, float]) -> float:
    """One duration > 0, lognormal with the given mean and standard deviation (the mean itself when sd is 0).

    Lognormal because processing times are positive and right-skewed: most trucks pass quickly, a few take long.
    """
    mean, sd = mean_sd
    _check_mean_sd(mean, sd, "mean_sd")
    if sd == 0.0:
        return float(mean)
    sigma2 = math.log1p((sd / mean) ** 2)
    return float(rng.lognormal(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2)))


def lane_queue_waits(arrivals_s: npt.ArrayLike, service_s: npt.ArrayLike, lanes: int) -> np.ndarray:
    """Waiting time (s) of each truck before a lane frees: first come first served over ``lanes`` parallel lanes,
    each truck taking the lane that frees first. ``arrivals_s`` must be sorted. A small queueing model of one gate,
    used to calibrate `MANUAL` and to sanity-check the engine's gates."""
    arrivals = np.asarray(arrivals_s, dtype=np.float64)
    service = np.asarray(service_s, dtype=np.float64)
    if arrivals.shape != service.shape or arrivals.ndim != 1:
        raise ValueError(f"arrivals_s and service_s must be 1-D and of one length, got {arrivals.shape} and "
                         f"{service.shape}")
    if lanes < 1:
        raise ValueError(f"lanes must be at least 1, got {lanes}")
    if arrivals.size and np.any(np.diff(arrivals) < 0):
        raise ValueError("arrivals_s must be sorted")
    free_at = [0.0] * lanes
    waits = np.empty_like(arrivals)
    for i, (t, duration) in enumerate(zip(arrivals.tolist(), service.tolist(), strict=True)):
        start = max(t, heapq.heappop(free_at))
        waits[i] = start - t
        heapq.heappush(free_at, start + duration)
    return waits


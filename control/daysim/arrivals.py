"""Trucks arriving at the gate over a simulated day: a non-homogeneous Poisson process with a morning and an afternoon
peak, each truck an export or an import with one 40 ft or two 20 ft containers.

The rate is piecewise constant per hour (``DAILY_PROFILE`` × trucks_per_day / 24), so the process is simulated
exactly: a Poisson count per hour, uniform times inside the hour. Hours past 24 repeat the profile (a second day).
Container numbers are valid ISO 6346 numbers (check digit from `bus.identifiers`), distinct within one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bus.identifiers import iso6346_check_digit
from bus.messages import JobKind

__all__ = ["DAILY_PROFILE", "OWNER_CODES", "TruckArrival", "container_numbers", "truck_arrivals"]

HOUR_S = 3600.0
MAX_HOURS = 24.0 * 14
MAX_TRUCKS_PER_DAY = 100_000.0

# Relative arrival rate per hour of the day (0 = midnight to 1 am). Border trucks bunch up after the gate opens in the
# morning (8–11 h) and after lunch (14–17 h); few arrive at night. An assumption shaped like the press reports of the
# Hữu Nghị queues, not a measurement; normalised below to mean 1, so trucks_per_day is the expected 24-hour count.
_RAW_PROFILE = (0.45, 0.4, 0.4, 0.4, 0.45, 0.6, 0.9, 1.25, 1.6, 1.7, 1.6, 1.3,
                1.0, 1.15, 1.5, 1.65, 1.55, 1.25, 0.95, 0.8, 0.7, 0.6, 0.55, 0.5)


def _profile() -> np.ndarray:
    raw = np.asarray(_RAW_PROFILE, dtype=np.float64)
    profile: np.ndarray = raw / raw.mean()
    profile.setflags(write=False)
    return profile


DAILY_PROFILE: np.ndarray = _profile()

#: Owner codes (with the category letter U) of carriers seen on the China–ASEAN routes; serials are random.
OWNER_CODES: tuple[str, ...] = ("MSKU", "CSQU", "MWCU", "CBHU", "OOLU", "COSU", "EGLU", "TGHU", "HLXU", "CMAU",
                                "SITU", "TCNU")


@dataclass(frozen=True)
class TruckArrival:
    """One truck reaching gate-in at ``t`` seconds since midnight of day 1.

    Export: the truck brings ``containers`` to hand over. Import: it comes empty to collect ``containers``.
    """

    truck_id: str
    t: float
    kind: JobKind
    containers: tuple[str, ...]    # valid ISO 6346 numbers; 1 (40 ft) or 2 (20 ft)
    red_channel: bool = False


def truck_arrivals(trucks_per_day: float, hours: float, seed: int, *, export_share: float = 0.6,
                   twenty_ft_share: float = 0.3, red_share: float = 0.03) -> list[TruckArrival]:
    """The trucks of ``hours`` simulated hours, sorted by arrival time, ids ``T000001``... in that order.

    ``twenty_ft_share`` is the share of trucks carrying two 20 ft containers (the rest carry one 40 ft);
    ``red_share`` the share sent to physical inspection. The same arguments always give the same trucks.
    """
    _check_arguments(trucks_per_day, hours, seed, export_share, twenty_ft_share, red_share)
    rng = np.random.default_rng(seed)
    times = _arrival_times(rng, trucks_per_day, hours)
    n = times.size
    exports = rng.random(n) < export_share
    pairs = rng.random(n) < twenty_ft_share
    red = rng.random(n) < red_share
    counts = np.where(pairs, 2, 1)
    numbers = container_numbers(rng, int(counts.sum()))
    ends = np.cumsum(counts)
    arrivals = []
    for i in range(n):
        end = int(ends[i])
        arrivals.append(TruckArrival(truck_id=f"T{i + 1:06d}", t=float(times[i]),
                                     kind="export" if exports[i] else "import",
                                     containers=tuple(numbers[end - int(counts[i]):end]), red_channel=bool(red[i])))
    return arrivals


def _arrival_times(rng: np.random.Generator, trucks_per_day: float, hours: float) -> np.ndarray:
    """Sorted arrival times (s) of the piecewise-constant-rate Poisson process over [0, hours)."""
    whole = math.ceil(hours)
    starts = np.arange(whole, dtype=np.float64)
    spans = np.minimum(hours - starts, 1.0)                       # the last hour may be partial
    rates = trucks_per_day / 24.0 * DAILY_PROFILE[np.arange(whole) % 24]
    counts = rng.poisson(rates * spans)
    offsets = rng.random(int(counts.sum())) * np.repeat(spans, counts)
    times: np.ndarray = np.sort((np.repeat(starts, counts) + offsets) * HOUR_S)
    return times


def container_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct valid ISO 6346 numbers (owner code from `OWNER_CODES`, random serial, check digit)."""
    picks = rng.choice(len(OWNER_CODES) * 1_000_000, size=n, replace=False)
    numbers = []
    for pick in picks.tolist():
        owner, serial = divmod(pick, 1_000_000)
        head = f"{OWNER_CODES[owner]}{serial:06d}"
        numbers.append(f"{head}{iso6346_check_digit(head)}")
    return numbers


def _check_arguments(trucks_per_day: float, hours: float, seed: int, *shares: float) -> None:
    _check_real("trucks_per_day", trucks_per_day, 0.0, MAX_TRUCKS_PER_DAY)
    _check_real("hours", hours, 0.0, MAX_HOURS)
    if hours <= 0.0:
        raise ValueError(f"hours must be positive, got {hours!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for name, share in zip(("export_share", "twenty_ft_share", "red_share"), shares, strict=True):
        _check_real(name, share, 0.0, 1.0)


def _check_real(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not low <= float(value) <= high:
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")

"""The capacity search: finds a known threshold with few evaluations; sustainability rules."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from control.daysim.capacity import find_capacity, sustainable
from control.daysim.report import SimReport


class ThresholdDay:
    """A stand-in for a simulated day with a known capacity: above ``threshold`` trucks/day, queues explode."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.calls: list[int] = []

    def __call__(self, trucks_per_day: int) -> SimReport:
        self.calls.append(trucks_per_day)
        over = trucks_per_day > self.threshold
        return SimReport(
            trucks_arrived=trucks_per_day, trucks_completed=trucks_per_day - (trucks_per_day // 5 if over else 0),
            containers_moved=trucks_per_day, time_in_system_s={"p50": 900.0, "p95": 9000.0 if over else 2400.0},
            max_queue=10, crane_utilisation=0.5, igv_utilisation=0.5, collisions=0, deadlocks=0, wall_s=0.0)


def good_day() -> SimReport:
    return SimReport(1000, 990, 1300, {"p50": 1200.0, "p95": 3000.0}, 20, 0.6, 0.5, 0, 0, 1.0)


@pytest.mark.parametrize(("threshold", "low", "high", "step"), [
    (2370, 100, 8000, 50),
    (812, 100, 8000, 50),
    (3500, 100, 8000, 10),
    (149, 100, 8000, 50),
    (5000, 1000, 5999, 25),      # high off the step grid
])
def test_finds_the_threshold_in_few_evaluations(threshold: int, low: int, high: int, step: int) -> None:
    day = ThresholdDay(threshold)
    result = find_capacity(day, low=low, high=high, step=step)
    assert result.trucks_per_day <= threshold < result.trucks_per_day + step
    assert (result.trucks_per_day - low) % step == 0
    assert len(day.calls) == len(result.tried) <= math.ceil(math.log2((high - low) / step)) + 2
    assert [n for n, _, _ in result.tried] == day.calls
    assert all(ok == (n <= threshold) for n, ok, _ in result.tried)


def test_bounds_outside_the_range() -> None:
    everything = find_capacity(ThresholdDay(10_000), low=100, high=8000, step=50)
    assert everything.trucks_per_day == 8000
    assert len(everything.tried) == 2
    nothing = find_capacity(ThresholdDay(50), low=100, high=8000, step=50)
    assert nothing.trucks_per_day == 0
    assert len(nothing.tried) == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"low": 0}, "low"), ({"step": 0}, "step"), ({"high": 100}, "high"), ({"low": 5.5}, "low"),
])
def test_bad_bounds_raise(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_capacity(ThresholdDay(500), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "expected"), [
    ({}, True),
    ({"trucks_completed": 969}, False),                   # 96.9 % < 97 %
    ({"trucks_completed": 970}, True),
    ({"time_in_system_s": {"p50": 1200.0, "p95": 3600.1}}, False),
    ({"time_in_system_s": {"p50": 1200.0}}, False),       # no p95 at all: not proven sustainable
    ({"collisions": 1}, False),
    ({"deadlocks": 1}, False),
])
def test_sustainable(change: dict[str, object], expected: bool) -> None:
    assert sustainable(replace(good_day(), **change)) is expected  # type: ignore[arg-type]


def test_sustainable_thresholds_are_arguments() -> None:
    assert not sustainable(good_day(), max_p95_s=2000.0)
    assert not sustainable(good_day(), min_completed=0.995)

"""Truck arrivals: Poisson counts, the daily peaks, reproducible seeds, valid container numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bus.identifiers import is_valid_iso6346
from control.daysim.arrivals import DAILY_PROFILE, container_numbers, truck_arrivals
from control.identifiers import container_problem


def test_profile_has_mean_one_and_two_peaks() -> None:
    assert DAILY_PROFILE.shape == (24,)
    assert DAILY_PROFILE.mean() == pytest.approx(1.0, abs=1e-12)
    assert (DAILY_PROFILE > 0).all()
    assert int(np.argmax(DAILY_PROFILE[:12])) in range(8, 11)
    assert int(np.argmax(DAILY_PROFILE[12:])) + 12 in range(14, 17)
    assert DAILY_PROFILE[12] < DAILY_PROFILE[9]
    assert DAILY_PROFILE[12] < DAILY_PROFILE[15]
    assert DAILY_PROFILE[:5].max() < 0.5 * DAILY_PROFILE.max()                                # quiet nights
    assert not DAILY_PROFILE.flags.writeable


@pytest.mark.parametrize(("per_day", "hours"), [(800.0, 24.0), (3500.0, 24.0), (2000.0, 6.5), (500.0, 48.0)])
def test_counts_within_poisson_tolerance(per_day: float, hours: float) -> None:
    whole, part = divmod(hours, 1.0)
    expected = per_day / 24.0 * (DAILY_PROFILE[np.arange(int(whole)) % 24].sum()
                                 + part * DAILY_PROFILE[int(whole) % 24])
    counts = [len(truck_arrivals(per_day, hours, seed)) for seed in range(5)]
    for count in counts:
        assert abs(count - expected) <= 4.5 * math.sqrt(expected), (count, expected)
    assert abs(np.mean(counts) - expected) <= 4.5 * math.sqrt(expected / len(counts))


def test_arrivals_follow_the_profile() -> None:
    trucks = truck_arrivals(20_000.0, 24.0, seed=3)
    times = np.array([truck.t for truck in trucks])
    assert (np.diff(times) >= 0).all()
    assert times.min() >= 0
    assert times.max() < 24 * 3600
    per_hour = np.bincount((times // 3600).astype(int), minlength=24)
    expected = 20_000.0 / 24.0 * DAILY_PROFILE
    assert np.all(np.abs(per_hour - expected) <= 5.0 * np.sqrt(expected))
    assert int(np.argmax(per_hour[:12])) in range(7, 12)
    assert int(np.argmax(per_hour[12:])) + 12 in range(13, 18)


def test_hours_beyond_a_day_repeat_the_profile() -> None:
    trucks = truck_arrivals(5_000.0, 48.0, seed=1)
    times = np.array([truck.t for truck in trucks])
    first, second = int(np.count_nonzero(times < 86_400)), int(np.count_nonzero(times >= 86_400))
    assert abs(first - second) <= 5.0 * math.sqrt(5_000)
    assert times.max() < 48 * 3600


def test_same_seed_same_trucks_other_seed_other_trucks() -> None:
    assert truck_arrivals(1000.0, 24.0, seed=7) == truck_arrivals(1000.0, 24.0, seed=7)
    assert truck_arrivals(1000.0, 24.0, seed=7) != truck_arrivals(1000.0, 24.0, seed=8)


def test_trucks_carry_valid_distinct_containers_and_ids() -> None:
    trucks = truck_arrivals(3000.0, 24.0, seed=11, export_share=0.6, twenty_ft_share=0.3, red_share=0.03)
    assert [truck.truck_id for truck in trucks] == [f"T{i:06d}" for i in range(1, len(trucks) + 1)]
    numbers = [number for truck in trucks for number in truck.containers]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid_iso6346(number) and container_problem(number) is None for number in numbers)
    assert {len(truck.containers) for truck in trucks} == {1, 2}
    n = len(trucks)
    pairs = sum(len(truck.containers) == 2 for truck in trucks)
    exports = sum(truck.kind == "export" for truck in trucks)
    red = sum(truck.red_channel for truck in trucks)
    assert {truck.kind for truck in trucks} == {"export", "import"}
    for observed, share in ((pairs, 0.3), (exports, 0.6), (red, 0.03)):
        assert abs(observed - share * n) <= 5.0 * math.sqrt(n * share * (1 - share))


def test_shares_at_their_limits() -> None:
    trucks = truck_arrivals(500.0, 24.0, seed=2, export_share=1.0, twenty_ft_share=0.0, red_share=0.0)
    assert all(truck.kind == "export" and len(truck.containers) == 1 and not truck.red_channel for truck in trucks)
    assert truck_arrivals(0.0, 24.0, seed=0) == []


def test_container_numbers_are_distinct_and_valid() -> None:
    numbers = container_numbers(np.random.default_rng(0), 5000)
    assert len(set(numbers)) == 5000
    assert all(is_valid_iso6346(number) for number in numbers)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((-1.0, 24.0, 0), {}, "trucks_per_day"),
    ((float("nan"), 24.0, 0), {}, "trucks_per_day"),
    ((1e9, 24.0, 0), {}, "trucks_per_day"),
    ((100.0, 0.0, 0), {}, "hours"),
    ((100.0, float("inf"), 0), {}, "hours"),
    ((100.0, 1e6, 0), {}, "hours"),
    ((100.0, 24.0, -1), {}, "seed"),
    ((100.0, 24.0, 1.5), {}, "seed"),
    ((100.0, 24.0, 0), {"export_share": 1.5}, "export_share"),
    ((100.0, 24.0, 0), {"twenty_ft_share": -0.1}, "twenty_ft_share"),
    ((100.0, 24.0, 0), {"red_share": "0.1"}, "red_share"),
])
def test_bad_arguments_raise(args: tuple[object, ...], kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        truck_arrivals(*args, **kwargs)  # type: ignore[arg-type]

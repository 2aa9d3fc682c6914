"""Fault plans (seeded, sorted, every kind, realistic durations) and the lossy link (seeded, rate honoured)."""

from __future__ import annotations

import numpy as np
import pytest

from control.fieldsim.faults import DURATION_S, KINDS, fault_plan
from control.fieldsim.link import LossyLink

IGVS = [f"igv-{i:02d}" for i in range(1, 51)]
CRANES = ["crane-1", "crane-2", "crane-3"]
CELLS = list(range(100, 200))


@pytest.mark.parametrize("seed", range(20))
def test_a_plan_is_reproducible_sorted_complete_and_realistic(seed: int) -> None:
    plan = fault_plan(seed, 86_400.0, igvs=IGVS, cranes=CRANES, cells=CELLS, per_day=8)
    assert plan == fault_plan(seed, 86_400.0, igvs=IGVS, cranes=CRANES, cells=CELLS, per_day=8)
    assert len(plan) == 8
    assert [f.at_s for f in plan] == sorted(f.at_s for f in plan)
    assert {f.kind for f in plan} == set(KINDS)
    for fault in plan:
        low, high = DURATION_S[fault.kind]
        assert low <= fault.duration_s <= high
        assert 0.0 <= fault.at_s < 86_400.0
        if fault.kind == "lost_messages":
            assert fault.target == "igvs"
            assert 0.05 <= fault.rate <= 0.3
        else:
            assert fault.rate == 0.0
        if fault.kind == "igv_breakdown":
            assert fault.target in IGVS
        if fault.kind == "crane_stop":
            assert fault.target in CRANES
        if fault.kind == "blocked_cell":
            assert fault.target.startswith("cell:")
            assert int(fault.target[5:]) in CELLS


def test_seeds_differ_and_short_days_scale_down_but_keep_every_kind() -> None:
    plans = {tuple(fault_plan(s, 86_400.0, igvs=IGVS, cranes=CRANES, cells=CELLS)) for s in range(10)}
    assert len(plans) == 10
    short = fault_plan(1, 3_600.0, igvs=IGVS, cranes=CRANES, cells=CELLS, per_day=8)
    assert {f.kind for f in short} == set(KINDS)
    assert all(f.at_s < 3_600.0 for f in short)
    assert len(fault_plan(1, 172_800.0, igvs=IGVS, cranes=CRANES, cells=CELLS, per_day=8)) == 16
    assert fault_plan(1, 86_400.0, igvs=IGVS, cranes=CRANES, cells=CELLS, per_day=0) == []


def test_kinds_without_targets_are_left_out() -> None:
    plan = fault_plan(4, 86_400.0, igvs=IGVS, cranes=[], cells=CELLS, per_day=6)
    assert {f.kind for f in plan} == {"igv_breakdown", "blocked_cell", "lost_messages"}


@pytest.mark.parametrize(("seed", "day_s", "per_day", "error"), [
    (-1, 86_400.0, 8, "seed"), (True, 86_400.0, 8, "seed"), (0, 0.0, 8, "day_s"), (0, float("inf"), 8, "day_s"),
    (0, 86_400.0, -1, "per_day"), (0, 86_400.0, 2.5, "per_day"),
])
def test_bad_arguments_are_refused(seed: int, day_s: float, per_day: int, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{error} must"):
        fault_plan(seed, day_s, igvs=IGVS, cranes=CRANES, cells=CELLS, per_day=per_day)


def test_the_lossy_link_is_seeded_and_loses_at_its_rate() -> None:
    a, b = LossyLink(9), LossyLink(9)
    draws = [a.lost(50, 0.2) for _ in range(2000)]
    assert all((x == b.lost(50, 0.2)).all() for x in draws)
    share = float(np.mean(draws))
    assert 0.19 < share < 0.21
    assert a.lost_count == int(np.sum(draws))
    assert a.sent == 100_000
    assert not LossyLink(1).lost(50, 0.0).any()
    assert LossyLink(1).lost(50, 1.0).all()
    assert LossyLink(1).lost(0, 0.5).shape == (0,)


@pytest.mark.parametrize(("n", "rate", "error"), [(-1, 0.1, "n"), (5, -0.1, "rate"), (5, 1.5, "rate"),
                                                   (5, float("nan"), "rate")])
def test_the_lossy_link_refuses_bad_arguments(n: int, rate: float, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{error} must"):
        LossyLink(0).lost(n, rate)

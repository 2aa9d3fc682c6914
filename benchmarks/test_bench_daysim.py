"""A simulated day of the gate and yard, timed: issue 7's target is 24 hours at 3,500 trucks a day with 50 IGVs in
under 60 s on this machine. Under ``--benchmark-disable`` (the test suite) one simulated hour stands in, so the suite
stays quick while still running the whole engine at that load."""

from __future__ import annotations

from typing import Any

import pytest

from control.daysim.engine import SimConfig, run_day
from control.daysim.report import SimReport

TARGET_WALL_S = 60.0


@pytest.mark.benchmark(group="daysim")
def test_day_at_3500_trucks_with_50_igvs(benchmark: Any) -> None:
    hours = 1.0 if benchmark.disabled else 24.0
    config = SimConfig(trucks_per_day=3500, hours=hours, igvs=50, cranes=6, seed=1)
    report: SimReport = benchmark.pedantic(run_day, args=(config,), rounds=1, iterations=1)
    assert report.collisions == 0
    assert report.deadlocks == 0
    assert report.jobs_created == report.jobs_ended
    assert report.jobs_open == 0
    benchmark.extra_info.update(hours=hours, wall_s=round(report.wall_s, 1), trucks_arrived=report.trucks_arrived,
                                trucks_completed=report.trucks_completed, containers_moved=report.containers_moved,
                                target_wall_s=TARGET_WALL_S, met=report.wall_s < TARGET_WALL_S)

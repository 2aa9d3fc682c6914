"""IGV fleet (issue 7): the time of one `Fleet.step` (one tick: planner step, batteries, arrivals) and of
`Fleet.dispatch` with 50 and 200 IGVs kept busy on the bundled yard.

Target: a simulated day is 216,000 ticks of 0.4 s and must run in well under 30 s of fleet time with 50 IGVs, so a
step should stay around 0.1 ms. The workload: every IGV cycles pickup (one of 12 cells: the 3 transfer points and
9 spread over the yard's main component) → held 5 ticks under the "crane" → drop (one of 12 cells) → release, with
enough tasks queued that no IGV stays idle. Figures go into ``extra_info``; the trajectories are checked by the
validator (zero conflicts). With ``--benchmark-disable`` a few ticks only are run.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from control.fleet.config import FleetConfig
from control.fleet.fleet import Fleet
from control.fleet.tasks import Task
from control.planning.components import strong_components
from control.planning.grid_map import GridMap, grid_from_yard
from control.planning.validate import validate
from yard.grid import build_grid
from yard.layout import load_layout

YARD = Path(__file__).resolve().parents[1] / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"
TICK_S = 0.4
DAY_TICKS = 216_000
WARM_TICKS, TICKS = 300, 3000
SERVE_TICKS = 5


def yard_map() -> GridMap:
    return grid_from_yard(build_grid(load_layout(YARD)))


class Workload:
    """The engine's side, reduced to what keeps every IGV busy: tasks queued, a short hold at the pickup, a drop
    leg, release."""

    def __init__(self, grid: GridMap, igvs: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        labels = strong_components(grid.successors)
        free = grid.free_cells
        main = free[labels[free] == np.bincount(labels[free]).argmax()]
        parking = [c for k, c in grid.names.items() if k.startswith("igv-parking")]
        charging = [c for k, c in grid.names.items() if k.startswith("igv-charging")]
        bays = [c for k, c in grid.names.items() if k.startswith("bay-")]
        spare = np.setdiff1d(main, np.array(parking + charging + bays))
        picked = rng.choice(spare, 9 + 12, replace=False).tolist()
        self.pickups = bays + picked[:9]
        self.drops = picked[9:]
        self.fleet = Fleet(grid, FleetConfig(igvs=igvs, seed=seed), rng.choice(main, igvs, replace=False),
                           parking=parking, charging=charging)
        self.serving: dict[int, int] = {}
        self.loaded: set[int] = set()
        self.submitted = 0
        self.done = 0

    def before_step(self, tick: int) -> None:
        fleet = self.fleet
        while self.submitted - self.done < fleet.config.igvs + 10:
            k = self.submitted
            fleet.submit(Task(f"t{k}", self.pickups[k % len(self.pickups)], ready_s=tick * TICK_S))
            self.submitted += 1
        for i, end in list(self.serving.items()):
            if tick >= end:
                del self.serving[i]
                fleet.hold(i, False)
                fleet.send(i, self.drops[i % len(self.drops)], "to_drop")
                self.loaded.add(i)

    def after_step(self, tick: int, arrived: np.ndarray) -> None:
        modes = self.fleet.modes if arrived.size else []
        for i in arrived.tolist():
            if modes[i] != "busy":
                continue
            if i in self.loaded:
                self.loaded.discard(i)
                self.fleet.release(i)
                self.done += 1
            else:
                self.fleet.hold(i, True)
                self.serving[i] = tick + SERVE_TICKS


@pytest.mark.benchmark(group="fleet-step")
@pytest.mark.parametrize("igvs", [50, 200])
def test_bench_fleet_step_on_the_yard(benchmark: BenchmarkFixture, igvs: int) -> None:
    work = Workload(yard_map(), igvs, seed=igvs)
    fleet = work.fleet
    warm, ticks = (5, 20) if benchmark.disabled else (WARM_TICKS, TICKS)
    positions = [fleet.positions.copy()]
    step_us: list[float] = []
    dispatch_us: list[float] = []
    tick = 0

    def one_tick(record: bool) -> None:
        nonlocal tick
        work.before_step(tick)
        began = time.perf_counter()
        fleet.dispatch(tick * TICK_S)
        dispatched = time.perf_counter()
        arrived = fleet.step(tick * TICK_S)
        stepped = time.perf_counter()
        if record:
            dispatch_us.append((dispatched - began) * 1e6)
            step_us.append((stepped - dispatched) * 1e6)
        positions.append(fleet.positions.copy())
        work.after_step(tick, arrived)
        tick += 1

    for k in range(warm + ticks):
        one_tick(k >= warm)
    done_before = work.done
    benchmark.pedantic(lambda: one_tick(False), rounds=1 if benchmark.disabled else 200,  # type: ignore[no-untyped-call]
                       iterations=1)
    paths = np.asarray(positions, dtype=np.int32)
    found = len(validate(fleet.grid, paths[0], paths[-1], paths, require_goals=False))
    step_p50, step_p99 = float(np.median(step_us)), float(np.percentile(step_us, 99))
    tick_us = np.asarray(step_us) + np.asarray(dispatch_us)
    benchmark.extra_info.update({
        "igvs": igvs, "ticks": ticks, "step_us_p50": step_p50, "step_us_p99": step_p99,
        "step_us_mean": float(np.mean(step_us)), "dispatch_us_p50": float(np.median(dispatch_us)),
        "dispatch_us_p99": float(np.percentile(dispatch_us, 99)), "tick_us_mean": float(np.mean(tick_us)),
        "day_fleet_s": float(np.mean(tick_us)) * DAY_TICKS / 1e6, "jobs_done": done_before,
        "busy_fraction": fleet.busy_fraction(), "conflicts": found,
        "target_us": 100.0 if igvs == 50 else None})
    assert found == 0
    if not benchmark.disabled:
        assert done_before > 0

"""`run_day` end to end: real simulated hours of trucks, cranes and IGVs on the planners' grid, with a real SQLite job
journal. Each run is one or two simulated night hours (light traffic), a second or two of wall time."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest

from bus.journal import Journal
from bus.messages import JobKind, JobUpdate
from control.daysim.arrivals import TruckArrival, container_numbers
from control.daysim.engine import SimConfig, run_day
from control.daysim.report import HOURLY_SERIES, SimReport
from control.daysim.site_model import build_sim_site
from control.fieldsim import IGVDevices
from control.fieldsim.faults import FaultKind
from control.fleet.config import FleetConfig
from control.fleet.fleet import Fleet
from control.jobs import FINAL_STATES, JOB_FLOW, allowed_next, job_histories, load_jobs

RUNS = [
    SimConfig(trucks_per_day=400, hours=2, igvs=10, cranes=1, seed=0),
    SimConfig(trucks_per_day=500, hours=2, igvs=12, cranes=2, seed=1),
    SimConfig(trucks_per_day=600, hours=2, igvs=20, cranes=3, seed=2),
    SimConfig(trucks_per_day=300, hours=1.5, igvs=15, cranes=2, seed=7, process="manual"),
]


def _id(config: SimConfig) -> str:
    return f"{config.trucks_per_day:g}tpd-{config.hours:g}h-{config.igvs}igv-{config.cranes}c-s{config.seed}"


def exports(count: int, *, seed: int = 5, start_s: float = 60.0, every_s: float = 90.0,
            per_truck: int = 1) -> tuple[TruckArrival, ...]:
    """``count`` export trucks with valid, distinct container numbers, evenly spaced."""
    numbers = container_numbers(np.random.default_rng(seed), count * per_truck)
    return tuple(TruckArrival(truck_id=f"E{i + 1:03d}", t=start_s + every_s * i, kind="export",
                              containers=tuple(numbers[i * per_truck:(i + 1) * per_truck]))
                 for i in range(count))


def assert_consistent(report: SimReport, config: SimConfig) -> None:
    """What every run must satisfy, whatever the load."""
    assert report.collisions == 0
    assert report.deadlocks == 0
    assert report.jobs_created == report.jobs_ended
    assert report.jobs_open == 0
    assert 0 <= report.containers_moved <= report.jobs_created
    assert 0 <= report.trucks_completed <= report.trucks_arrived
    p50, p95 = report.time_in_system_s["p50"], report.time_in_system_s["p95"]
    assert 0.0 <= p50 <= p95
    assert 0.0 <= report.crane_utilisation <= 1.0
    assert 0.0 <= report.igv_utilisation <= 1.0
    assert report.max_queue >= 0
    hours = math.ceil(config.hours)
    assert set(HOURLY_SERIES) <= set(report.hourly)
    assert {name: len(series) for name, series in report.hourly.items()} == dict.fromkeys(report.hourly, hours)
    assert sum(report.hourly["arrivals"]) == report.trucks_arrived
    assert sum(report.hourly["completed"]) == report.trucks_completed
    assert max(report.hourly["queue"]) <= report.max_queue
    for name in ("igv_busy", "crane_busy"):
        assert all(0.0 <= value <= 1.0 for value in report.hourly[name]), name
    assert report.config["igvs"] == config.igvs
    assert report.config["cranes"] == config.cranes
    assert report.wall_s > 0.0


@pytest.mark.parametrize("config", RUNS, ids=_id)
def test_a_run_is_safe_and_every_job_ends_once(config: SimConfig) -> None:
    report = run_day(config)
    assert_consistent(report, config)
    assert report.trucks_arrived > 0
    assert report.trucks_completed > 0
    assert report.containers_moved > 0
    assert report.faults == {}


def test_the_same_seed_gives_the_same_report() -> None:
    config = SimConfig(trucks_per_day=500, hours=1, igvs=10, cranes=2, seed=11)
    first, second = run_day(config), run_day(config)
    assert first.trucks_arrived > 0
    assert replace(first, wall_s=0.0) == replace(second, wall_s=0.0)
    other = run_day(replace(config, seed=12))
    assert replace(other, wall_s=0.0) != replace(first, wall_s=0.0)


def _histories(path: Path) -> dict[str, list[JobUpdate]]:
    with Journal.open(path) as journal:
        histories = job_histories(journal)
        assert journal.corrupt_skipped == 0
    assert all(u.job_id == job_id for job_id, updates in histories.items() for u in updates)
    return histories


def test_the_journal_holds_every_job_step_along_its_flow(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    config = SimConfig(trucks_per_day=500, hours=2, igvs=12, cranes=2, seed=3, journal=path)
    report = run_day(config)
    assert_consistent(report, config)

    histories = _histories(path)
    assert len(histories) == report.jobs_created > 0
    done = 0
    kinds: set[JobKind] = set()
    for job_id, updates in histories.items():
        kind = updates[0].kind
        kinds.add(kind)
        assert updates[0].state == "created", job_id
        assert all(u.kind == kind and u.container_number == updates[0].container_number for u in updates), job_id
        for before, after in itertools.pairwise(updates):
            assert after.state in allowed_next(kind, before.state), (job_id, before.state, after.state)
        finals = [u.state for u in updates if u.state in FINAL_STATES]
        assert finals == [updates[-1].state], job_id          # exactly one final state, and it is the last
        times = [u.sim_time_s for u in updates]
        assert all(t is not None for t in times), job_id
        assert times == sorted(times), job_id                  # type: ignore[type-var]
        if updates[-1].state == "done":
            done += 1
            assert [u.state for u in updates if u.state in JOB_FLOW[kind]][-1] == "done"
    assert done == report.containers_moved
    assert kinds == set(get_args(JobKind))                    # both flows were exercised

    with Journal.open(path) as journal:
        book = load_jobs(journal)
    assert book.skipped == 0
    assert book.open_jobs() == []
    assert book.ended == report.jobs_created
    assert book.counts().get("done", 0) == report.containers_moved


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_faults_are_counted_and_the_fleet_stays_safe(seed: int) -> None:
    config = SimConfig(trucks_per_day=400, hours=1, igvs=10, cranes=2, seed=seed, faults=True)
    report = run_day(config)
    assert report.faults, "a run with faults=True recorded no fault"
    assert set(report.faults) == set(get_args(FaultKind))     # the seeded plan holds every kind
    assert all(count > 0 for count in report.faults.values())
    assert report.config["faults"] is True
    assert_consistent(report, config)


def test_an_igv_passes_a_broken_down_igv_in_its_lane() -> None:
    """The engine's tick on its own parts: IGV 0 broken (held, obstructing, device broken) on the corridor's
    eastbound lane (2 cells wide, lane changes allowed), IGV 1 right behind it, sent 60 m further east: it changes
    lanes round it (PIBT alone would wait behind it, since the way round is one step longer)."""
    site = build_sim_site(2, parking=60, stands_per_bay=6)
    grid = site.grid
    x, y = 1000, 42
    assert grid.passable[y, x]
    assert grid.passable[y + 1, x]
    starts = np.array([y * grid.width + x + 1, y * grid.width + x], dtype=np.int32)
    fleet = Fleet(grid, FleetConfig(igvs=2), starts, parking=site.parking, charging=site.charging)
    devices = IGVDevices(grid, starts)
    fleet.hold(0, True)
    fleet.obstruct(0, True)
    devices.broken[0] = True
    goal = y * grid.width + x + 30
    fleet.send(1, goal, "to_drop")
    fleet.detour([1])
    for tick in range(200):                          # 80 s: 30 cells at one a tick, with time to spare
        fleet.step(tick * 0.4)
        planned = fleet.planned_next()
        actual = devices.execute(planned)
        if (actual != planned).any():
            fleet.sync(actual)
        if actual[1] == goal:
            break
    assert int(devices.positions[0]) == int(starts[0])
    assert int(devices.positions[1]) == goal


def test_manual_checks_keep_trucks_longer_than_smartgate() -> None:
    arrivals = exports(30, every_s=100.0)
    reports = {process: run_day(SimConfig(trucks_per_day=800, hours=1, igvs=15, cranes=3, process=process,
                                          arrivals=arrivals))
               for process in ("smartgate", "manual")}
    for process, report in reports.items():
        assert report.trucks_arrived == len(arrivals), process
        assert report.collisions == report.deadlocks == 0, process
        assert report.containers_moved == len(arrivals), process
    smart, manual = reports["smartgate"].time_in_system_s, reports["manual"].time_in_system_s
    assert manual["p50"] > smart["p50"] + 60.0       # the paper check at gate-in and gate-out is minutes, not seconds
    assert manual["p95"] > smart["p95"]


@pytest.mark.parametrize(("count", "per_truck"), [(1, 1), (6, 1), (4, 2)])
def test_explicit_exports_are_exactly_the_containers_moved(count: int, per_truck: int) -> None:
    arrivals = exports(count, per_truck=per_truck, every_s=45.0)
    report = run_day(SimConfig(trucks_per_day=100, hours=1, igvs=8, cranes=2, arrivals=arrivals))
    assert report.trucks_arrived == report.trucks_completed == count
    assert report.jobs_created == report.jobs_ended == report.containers_moved == count * per_truck
    assert report.jobs_unfinished == 0
    assert report.collisions == report.deadlocks == 0


def test_explicit_imports_are_brought_from_china_to_their_trucks(tmp_path: Path) -> None:
    numbers = container_numbers(np.random.default_rng(9), 3)
    arrivals = (TruckArrival("I001", 1200.0, "import", (numbers[0],)),
                TruckArrival("I002", 1500.0, "import", (numbers[1], numbers[2])))
    path = tmp_path / "jobs.sqlite"
    report = run_day(SimConfig(trucks_per_day=100, hours=1, igvs=8, cranes=2, arrivals=arrivals, journal=path))
    assert report.jobs_created == report.containers_moved == 3
    assert report.jobs_unfinished == 0
    states = {job_id: [u.state for u in updates] for job_id, updates in _histories(path).items()}
    assert set(states) == {"I001-1", "I002-1", "I002-2"}
    for flow in states.values():
        assert flow[:4] == ["created", "on_igv", "in_corridor", "at_bay"]
        assert flow[-2:] == ["on_truck", "done"]


def test_an_empty_window_reports_zeros() -> None:
    report = run_day(SimConfig(trucks_per_day=100, hours=1, igvs=4, cranes=1, arrivals=()))
    counts = (report.trucks_arrived, report.trucks_completed, report.containers_moved, report.jobs_created)
    assert counts == (0, 0, 0, 0)
    assert report.time_in_system_s == {"p50": 0.0, "p95": 0.0}
    assert report.collisions == report.deadlocks == 0


BAD: list[tuple[dict[str, Any], str]] = [
    ({"trucks_per_day": 0}, "trucks_per_day"),
    ({"trucks_per_day": -5}, "trucks_per_day"),
    ({"trucks_per_day": math.nan}, "trucks_per_day"),
    ({"trucks_per_day": math.inf}, "trucks_per_day"),
    ({"trucks_per_day": 100_001}, "trucks_per_day"),
    ({"hours": 0}, "hours"),
    ({"hours": -1}, "hours"),
    ({"hours": 24 * 14 + 1}, "hours"),
    ({"igvs": 0}, "igvs"),
    ({"igvs": 1001}, "igvs"),
    ({"cranes": 0}, "cranes"),
    ({"cranes": 25}, "cranes"),
    ({"china_points": 0}, "china_points"),
    ({"china_points": 17}, "china_points"),
    ({"stands_per_bay": 3}, "stands_per_bay"),
    ({"stands_per_bay": 9}, "stands_per_bay"),
    ({"process": "paper"}, "process"),
]


@pytest.mark.parametrize(("change", "named"), BAD, ids=[f"{next(iter(c))}={next(iter(c.values()))}" for c, _ in BAD])
def test_sim_config_rejects_bad_values(change: dict[str, Any], named: str) -> None:
    fields: dict[str, Any] = {"trucks_per_day": 400, **change}
    with pytest.raises(ValueError, match=named):
        SimConfig(**fields)


@pytest.mark.parametrize("change", [{"hours": 336}, {"igvs": 1, "cranes": 1}, {"igvs": 1000, "cranes": 24},
                                    {"china_points": 16, "stands_per_bay": 8}, {"stands_per_bay": 4},
                                    {"process": "manual"}, {"trucks_per_day": 100_000}])
def test_sim_config_accepts_the_limits(change: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"trucks_per_day": 400, **change}
    config = SimConfig(**fields)
    assert all(getattr(config, key) == value for key, value in change.items())

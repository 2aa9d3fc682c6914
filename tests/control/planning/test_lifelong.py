"""Lifelong planning: new goals as jobs complete, zero conflicts over many steps, goals keep being reached, waiting
on a goal, pushing aside and coming back, input checks, and the time per step on the bundled yard."""

from __future__ import annotations

import time

import numpy as np
import pytest

from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap, grid_from_yard, random_instance
from control.planning.lifelong import LifelongPlanner
from control.planning.result import InstanceError
from control.planning.validate import validate
from tests.control.planning.planner_cases import against_lane, ascii_map, cells
from tests.yard.test_layout import BUNDLED
from yard.grid import build_grid
from yard.layout import load_layout


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    """Compile (or load from numba's cache) before any test starts a clock."""
    grid = ascii_map("warm-up", ["...", "..."])
    LifelongPlanner(grid, cells(grid, [(0, 0)]), cells(grid, [(2, 1)])).step()


@pytest.fixture(scope="module")
def yard():
    return grid_from_yard(build_grid(load_layout(BUNDLED)))


@pytest.fixture(scope="module")
def yard_table(yard):
    return DistanceTable(yard)


def run_jobs(grid: GridMap, planner: LifelongPlanner, steps: int, rng: np.random.Generator,
             deadline_s_per_step: float | None = None) -> tuple[np.ndarray, int]:
    """Step the fleet, giving every agent on its goal a new random goal first; returns the positions and how many
    goals were reached."""
    history = [planner.positions.copy()]
    reached = 0
    for _ in range(steps):
        done = np.flatnonzero(planner.reached)
        if done.size:
            reached += done.size
            planner.assign(done, rng.choice(grid.free_cells, size=done.size))
        deadline = None if deadline_s_per_step is None else time.monotonic() + deadline_s_per_step
        history.append(planner.step(deadline))
    return np.stack(history), reached


def test_fifty_igvs_two_hundred_steps_without_conflict(yard, yard_table):
    starts, goals = random_instance(yard, 50, seed=1)
    planner = LifelongPlanner(yard, starts, goals, seed=1, distances=yard_table)
    paths, reached = run_jobs(yard, planner, 200, np.random.default_rng(1))
    assert validate(yard, starts, planner.goals, paths, require_goals=False) == []
    assert against_lane(yard, paths) == 0
    assert reached >= 25                          # jobs keep completing, not a fleet stuck after its first goals
    assert planner.steps == 200


def test_deterministic_for_a_seed(yard, yard_table):
    starts, goals = random_instance(yard, 30, seed=2)
    runs = []
    for _ in range(2):
        planner = LifelongPlanner(yard, starts, goals, seed=5, distances=yard_table)
        runs.append(run_jobs(yard, planner, 40, np.random.default_rng(0))[0])
    assert np.array_equal(runs[0], runs[1])


def test_an_agent_without_a_new_job_waits_on_its_goal():
    grid = ascii_map("open", ["....", "...."])
    s = cells(grid, [(0, 0)])
    planner = LifelongPlanner(grid, s, cells(grid, [(2, 1)]))
    for _ in range(3):
        planner.step()
    assert planner.reached.tolist() == [True]
    for _ in range(5):
        assert planner.step().tolist() == cells(grid, [(2, 1)]).tolist()


def test_an_agent_on_its_goal_is_pushed_aside_and_comes_back():
    grid = ascii_map("bay", [".......", "###.###"])
    parked = cells(grid, [(3, 0)])[0]
    s = cells(grid, [(3, 0), (0, 0)])
    g = cells(grid, [(3, 0), (6, 0)])
    planner = LifelongPlanner(grid, s, g, seed=0)
    history = [planner.positions.copy()]
    for _ in range(15):
        history.append(planner.step())
    paths = np.stack(history)
    assert validate(grid, s, g, paths) == []
    assert (paths[:, 0] != parked).any()          # it made room ...
    assert planner.reached.all()                  # ... and is back, with the other one through


def test_new_goals_take_effect_at_the_next_step():
    grid = ascii_map("line", ["......"])
    planner = LifelongPlanner(grid, cells(grid, [(2, 0)]), cells(grid, [(2, 0)]))
    planner.assign(np.array([0]), cells(grid, [(5, 0)]))
    assert planner.reached.tolist() == [False]
    assert planner.step().tolist() == cells(grid, [(3, 0)]).tolist()
    planner.assign(np.array([0]), cells(grid, [(0, 0)]))
    assert planner.step().tolist() == cells(grid, [(2, 0)]).tolist()


def test_an_expired_deadline_keeps_the_previous_goal_for_one_step():
    grid = ascii_map("line", ["......"])
    planner = LifelongPlanner(grid, cells(grid, [(2, 0)]), cells(grid, [(5, 0)]))
    planner.assign(np.array([0]), cells(grid, [(0, 0)]))
    assert planner.step(time.monotonic() - 1.0).tolist() == cells(grid, [(3, 0)]).tolist()   # still towards (5, 0)
    assert planner.step().tolist() == cells(grid, [(2, 0)]).tolist()                        # now towards (0, 0)


def test_many_distinct_goals_recycle_distance_rows(yard, yard_table):
    starts, goals = random_instance(yard, 20, seed=3)
    planner = LifelongPlanner(yard, starts, goals, seed=3, distances=yard_table)
    rng = np.random.default_rng(3)
    history = [planner.positions.copy()]
    for _ in range(30):                           # every agent gets a fresh random goal at every step
        planner.assign(np.arange(20), rng.choice(yard.free_cells, size=20, replace=False))
        history.append(planner.step())
    assert validate(yard, starts, planner.goals, np.stack(history), require_goals=False) == []
    assert planner._rows.shape[0] <= 64           # rows of goals nobody heads for any more are reused


@pytest.mark.parametrize(("agents", "goals", "message"), [
    ([0, 0], [1, 2], "assigned twice"),
    ([5], [1], "agent ids"),
    ([0], [1, 2], "1 agents but 2 goals"),
    ([0], [4], "blocked"),
    ([0.5], [1], "integer"),
])
def test_bad_assignments_are_refused(agents, goals, message):
    grid = ascii_map("small", ["....", "#..."])
    planner = LifelongPlanner(grid, np.array([0, 1]), np.array([2, 3]))
    with pytest.raises(InstanceError, match=message):
        planner.assign(np.array(agents), np.array(goals))


def test_duplicate_starts_are_refused():
    grid = ascii_map("small", ["...."])
    with pytest.raises(InstanceError, match="share the start"):
        LifelongPlanner(grid, np.array([0, 0]), np.array([1, 2]))


@pytest.mark.parametrize(("agents", "budget_ms"), [(200, 5.0), (1000, 50.0)])
def test_step_time_on_the_yard(yard, yard_table, agents, budget_ms):
    starts, goals = random_instance(yard, agents, seed=7)
    planner = LifelongPlanner(yard, starts, goals, seed=7, distances=yard_table)
    rng = np.random.default_rng(7)
    run_jobs(yard, planner, 5, rng)                             # warm the row cache and the dispatcher
    times = []
    for _ in range(40):
        done = np.flatnonzero(planner.reached)
        if done.size:
            planner.assign(done, rng.choice(yard.free_cells, size=done.size))
        began = time.perf_counter()
        planner.step()
        times.append(time.perf_counter() - began)
    mean_ms = 1000.0 * float(np.mean(times))
    assert mean_ms < budget_ms, f"{agents} IGVs: {mean_ms:.2f} ms per step"

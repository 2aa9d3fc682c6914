"""TrajectoryLog: each check can fail (planted vertex conflict, swap, jump, one-way move, stall) and counts what it
finds once, across chunk boundaries; a correct lifelong PIBT run on the bundled yard counts nothing."""

from __future__ import annotations

import numpy as np
import pytest

from control.fieldsim.igv_devices import IGVDevices
from control.fieldsim.trajectory import TrajectoryLog
from control.planning.grid_map import GridMap, build_grid_map
from control.planning.lifelong import LifelongPlanner
from tests.control.fieldsim.yard_fixture import yard_map

# a 6 × 3 open hall; cell = y * 6 + x
HALL = build_grid_map("hall", np.ones((3, 6), dtype=bool))
ONE_WAY = build_grid_map("lane", np.ones((1, 4), dtype=bool), np.full((1, 4), 1, dtype=np.uint8))   # +x only


def play(grid: GridMap, rows: list[list[int]], *, chunk_ticks: int = 2048, goals: list[int] | None = None,
         waiting: list[bool] | None = None, tick_s: float = 1.0, stall_s: float = 900.0) -> TrajectoryLog:
    """Record ``rows[1:]`` after start ``rows[0]`` and close the log."""
    n = len(rows[0])
    log = TrajectoryLog(grid, np.array(rows[0]), chunk_ticks=chunk_ticks, tick_s=tick_s, stall_s=stall_s)
    goal = np.array(goals if goals is not None else [-1] * n, dtype=np.int32)
    wait = np.array(waiting if waiting is not None else [False] * n)
    for row in rows[1:]:
        log.record(np.array(row), goal, wait)
    log.close()
    return log


PLANTED: list[tuple[str, GridMap, list[list[int]], int, int]] = [
    # name, grid, rows (start first), collisions, illegal moves
    ("clean following", HALL, [[0, 1], [1, 2], [2, 3]], 0, 0),
    ("vertex conflict", HALL, [[0, 2], [1, 1], [0, 2]], 1, 0),
    ("vertex conflict held two ticks", HALL, [[0, 2], [1, 1], [1, 1], [0, 2]], 2, 0),
    ("swap", HALL, [[0, 1], [1, 0]], 1, 0),
    ("jump", HALL, [[0], [2]], 0, 1),
    ("across the row end", HALL, [[5], [6]], 0, 1),
    ("against a one-way lane", ONE_WAY, [[2], [1]], 0, 1),
    ("not a cell id", HALL, [[0], [99], [1]], 0, 1),
]


@pytest.mark.parametrize("chunk_ticks", [1, 2, 2048])
@pytest.mark.parametrize(("name", "grid", "rows", "collisions", "illegal"), PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_conflicts_and_illegal_moves_are_counted_once(name: str, grid: GridMap, rows: list[list[int]],
                                                              collisions: int, illegal: int,
                                                              chunk_ticks: int) -> None:
    log = play(grid, rows, chunk_ticks=chunk_ticks)
    assert (log.collisions, log.illegal_moves, log.deadlocks) == (collisions, illegal, 0)
    assert log.ticks == len(rows) - 1
    assert len(log.examples) == collisions + illegal


def test_a_stalled_agent_is_one_deadlock_episode() -> None:
    """Agent 0 heads for cell 5 but stands still for 12 ticks (stall after 5): one episode, counted once; agent 1
    stands still as long but waits on purpose; agent 2 has no goal."""
    rows = [[0, 12, 17]] * 13
    log = play(HALL, rows, goals=[5, 14, -1], waiting=[False, True, False], stall_s=5.0, chunk_ticks=4)
    assert log.deadlocks == 1
    assert (log.collisions, log.illegal_moves) == (0, 0)


def test_progress_resets_the_stall_clock_and_a_second_stall_counts_again() -> None:
    still = [[0]] * 4
    rows = [*still, [1], [1], [1], [1], [1], [1], [1]]      # 3 still ticks, one step closer, then 6 still
    log = play(HALL, rows, goals=[5], stall_s=4.0)
    assert log.deadlocks == 1                                 # only the second wait lasts 4 ticks
    log = play(HALL, [[0]] * 10 + [[1]] + [[1]] * 10, goals=[5], stall_s=4.0, chunk_ticks=3)
    assert log.deadlocks == 2


def test_an_unreachable_goal_is_a_stall() -> None:
    log = play(ONE_WAY, [[2]] * 6, goals=[0], stall_s=3.0)
    assert log.deadlocks == 1


def test_record_checks_shapes_and_refuses_after_close() -> None:
    log = TrajectoryLog(HALL, np.array([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        log.record(np.array([0, 1, 2]), np.array([-1, -1]), np.array([False, False]))
    log.close()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.record(np.array([0, 1]), np.array([-1, -1]), np.array([False, False]))


@pytest.mark.parametrize(("kwargs", "error"), [({"chunk_ticks": 0}, "chunk_ticks"), ({"tick_s": 0.0}, "tick_s"),
                                               ({"stall_s": float("nan")}, "stall_s")])
def test_bad_settings_are_refused(kwargs: dict[str, float], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        TrajectoryLog(HALL, np.array([0]), **kwargs)  # type: ignore[arg-type]


def test_a_lifelong_pibt_run_on_the_yard_has_no_collision_illegal_move_or_deadlock() -> None:
    """40 IGVs from the parking and charging spots (and random cells) to random goals, a new goal each time one is
    reached, 1,500 ticks; the devices execute every planned step (nothing refused) and the checks find nothing."""
    grid = yard_map()
    rng = np.random.default_rng(3)
    spots = np.array([cell for name, cell in grid.names.items() if name.startswith("igv-")], dtype=np.int32)
    others = np.setdiff1d(grid.free_cells, spots)
    starts = np.concatenate([spots, rng.choice(others, 40 - spots.size, replace=False)]).astype(np.int32)
    planner = LifelongPlanner(grid, starts, rng.choice(grid.free_cells, starts.size).astype(np.int32), seed=3)
    log = TrajectoryLog(grid, starts, chunk_ticks=256, stall_s=300.0)
    devices = IGVDevices(grid, starts, log)
    arrivals = 0
    for _ in range(1500):
        devices.goals[:] = planner.goals
        actual = devices.execute(planner.step())
        assert (actual == planner.positions).all()
        done = np.flatnonzero(planner.reached)
        arrivals += done.size
        if done.size:
            planner.assign(done, rng.choice(grid.free_cells, done.size).astype(np.int32))
    log.close()
    assert (log.collisions, log.illegal_moves, log.deadlocks, devices.refused) == (0, 0, 0, 0)
    assert log.ticks == 1500
    assert arrivals > 40

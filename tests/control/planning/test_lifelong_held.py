"""Held agents never move and are never pushed, releasing restores their goal, and the planner continues from
reset positions; checked with the independent validator over many steps on the bundled yard."""

from __future__ import annotations

import numpy as np
import pytest

from control.planning.distances import DistanceTable
from control.planning.grid_map import grid_from_yard, random_instance
from control.planning.lifelong import LifelongPlanner
from control.planning.result import InstanceError
from control.planning.validate import validate
from tests.control.planning.planner_cases import BAY_CORRIDOR, against_lane, ascii_map, cells
from tests.yard.test_layout import BUNDLED
from yard.grid import build_grid
from yard.layout import load_layout


@pytest.fixture(scope="module")
def yard():
    return grid_from_yard(build_grid(load_layout(BUNDLED)))


@pytest.fixture(scope="module")
def yard_table(yard):
    return DistanceTable(yard)


def test_held_agents_never_move_over_many_steps_without_conflicts(yard, yard_table):
    starts, goals = random_instance(yard, 60, seed=11)
    planner = LifelongPlanner(yard, starts, goals, seed=11, distances=yard_table)
    rng = np.random.default_rng(11)
    history = [planner.positions.copy()]
    held_from = {}                                # agent -> step it was held at
    for step in range(400):
        if step % 20 == 0:                        # hold a few, release a few
            free = np.flatnonzero(~planner.held)
            hold = rng.choice(free, size=3, replace=False)
            planner.set_held(hold, True)
            held_from.update({int(a): step for a in hold})
            release = [a for a, since in held_from.items() if step - since >= 60]
            planner.set_held(np.array(release, dtype=np.int64), False)
            for a in release:
                del held_from[a]
        done = np.flatnonzero(planner.reached & ~planner.held)
        if done.size:
            planner.assign(done, rng.choice(yard.free_cells, size=done.size))
        before = planner.positions.copy()
        after = planner.step()
        history.append(after)
        held = np.array(sorted(held_from), dtype=np.int64)
        assert np.array_equal(after[held], before[held]), f"a held agent moved at step {step}"
    paths = np.stack(history)
    assert validate(yard, starts, planner.goals, paths, require_goals=False) == []
    assert against_lane(yard, paths) == 0


def test_a_held_agent_in_a_corridor_is_not_pushed_and_the_other_waits():
    grid = ascii_map("corridor", ["......"])
    planner = LifelongPlanner(grid, cells(grid, [(2, 0), (0, 0)]), cells(grid, [(5, 0), (4, 0)]))
    planner.set_held(np.array([0]), True)
    for _ in range(10):
        positions = planner.step()
        assert positions[0] == cells(grid, [(2, 0)])[0]
    assert positions[1] == cells(grid, [(1, 0)])[0]   # queued behind, never through
    planner.set_held(np.array([0]), False)
    for _ in range(10):
        planner.step()
    assert planner.reached.all()                      # the held agent's goal came back on release


def test_without_holding_the_agent_on_its_goal_is_pushed_aside():
    grid = ascii_map("bay", BAY_CORRIDOR)
    parked = cells(grid, [(3, 0)])[0]
    planner = LifelongPlanner(grid, cells(grid, [(3, 0), (0, 0)]), cells(grid, [(3, 0), (6, 0)]))
    moved = [planner.step()[0] != parked for _ in range(15)]
    assert any(moved)                                 # the contrast for the held case below
    held = LifelongPlanner(grid, cells(grid, [(3, 0), (0, 0)]), cells(grid, [(3, 0), (6, 0)]))
    held.set_held(np.array([0]), True)
    assert all(held.step()[0] == parked for _ in range(15))


def test_release_restores_the_goal_and_a_goal_assigned_while_held_waits_for_release():
    grid = ascii_map("line", ["......"])
    planner = LifelongPlanner(grid, cells(grid, [(0, 0)]), cells(grid, [(5, 0)]))
    planner.step()
    planner.set_held(np.array([0]), True)
    assert planner.goals.tolist() == cells(grid, [(1, 0)]).tolist()
    assert planner.reached.tolist() == [True]
    planner.step()
    planner.set_held(np.array([0]), False)
    assert planner.goals.tolist() == cells(grid, [(5, 0)]).tolist()
    planner.set_held(np.array([0]), True)
    planner.assign(np.array([0]), cells(grid, [(0, 0)]))
    assert planner.step().tolist() == cells(grid, [(1, 0)]).tolist()    # still held
    planner.set_held(np.array([0]), False)
    assert planner.step().tolist() == cells(grid, [(0, 0)]).tolist()    # the goal assigned while held


def test_holding_twice_and_releasing_a_free_agent_change_nothing():
    grid = ascii_map("line", ["......"])
    planner = LifelongPlanner(grid, cells(grid, [(0, 0)]), cells(grid, [(5, 0)]))
    planner.set_held(np.array([0]), False)
    planner.set_held(np.array([0]), True)
    planner.set_held(np.array([0]), True)
    planner.set_held(np.array([0]), False)
    assert planner.goals.tolist() == cells(grid, [(5, 0)]).tolist()
    assert planner.step().tolist() == cells(grid, [(1, 0)]).tolist()


def test_reset_positions_continues_from_the_actual_cells_and_holds_where_they_stand():
    grid = ascii_map("open", ["......", "......"])
    planner = LifelongPlanner(grid, cells(grid, [(0, 0), (5, 1)]), cells(grid, [(5, 0), (0, 1)]))
    planner.set_held(np.array([1]), True)
    planner.step()
    planner.reset_positions(cells(grid, [(2, 1), (4, 1)]))
    assert planner.goals[1] == cells(grid, [(4, 1)])[0]
    history = [planner.positions.copy()]
    for _ in range(8):
        history.append(planner.step())
    paths = np.stack(history)
    assert validate(grid, paths[0], planner.goals, paths) == []
    assert (paths[:, 1] == cells(grid, [(4, 1)])[0]).all()


@pytest.mark.parametrize(("positions", "message"), [
    ([0, 0], "share the start"),
    ([0, 6], "blocked"),
    ([0], "1 positions for 2 agents"),
    ([0, 99], "not a cell"),
    ([[0, 1]], "1-d integer"),
])
def test_bad_reset_positions_are_refused(positions, message):
    grid = ascii_map("small", ["....", "..#."])
    planner = LifelongPlanner(grid, np.array([0, 1]), np.array([2, 3]))
    with pytest.raises(InstanceError, match=message):
        planner.reset_positions(np.array(positions))


@pytest.mark.parametrize(("agents", "message"), [([0, 0], "assigned twice"), ([7], "agent ids"), ([0.5], "integer")])
def test_bad_held_agents_are_refused(agents, message):
    grid = ascii_map("small", ["...."])
    planner = LifelongPlanner(grid, np.array([0, 1]), np.array([2, 3]))
    with pytest.raises(InstanceError, match=message):
        planner.set_held(np.array(agents), True)

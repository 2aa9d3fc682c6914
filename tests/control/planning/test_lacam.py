"""LaCAM: hand-made instances that need search, unsolvable instances, deadlines, determinism, one-way lanes and the
shared MovingAI maps; every plan goes through the independent validator."""

from __future__ import annotations

import time

import numpy as np
import pytest

from control.planning.distances import DistanceTable
from control.planning.grid_map import grid_from_yard, load_movingai_map, random_instance
from control.planning.lacam import solve_lacam, warm_up
from control.planning.result import InstanceError
from control.planning.validate import validate
from tests.control.planning.planner_cases import (
    BAY_CORRIDOR,
    DEAD_END,
    ROOMS,
    against_lane,
    ascii_map,
    cells,
    one_way_ring,
)
from tests.control.planning.shared_maps import map_path
from tests.yard.test_layout import BUNDLED
from yard.grid import build_grid
from yard.layout import load_layout


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    """Compile (or load from numba's cache) before any test starts a clock."""
    warm_up()


def check(grid, starts, goals, result, *, solved: bool = True) -> None:
    assert result.solved is solved
    assert result.algo == "lacam"
    assert (result.paths[0] == starts).all()
    assert validate(grid, starts, goals, result.paths, require_goals=solved) == []


@pytest.mark.parametrize(("rows", "starts", "goals", "makespan"), [
    (BAY_CORRIDOR, [(0, 0), (6, 0)], [(6, 0), (0, 0)], 8),                       # one must wait in the bay
    (ROOMS, [(0, 0), (1, 2), (5, 0), (6, 2)], [(5, 1), (6, 0), (0, 1), (1, 0)], None),
    (["..", ".."], [(0, 0), (1, 0), (1, 1)], [(1, 0), (1, 1), (0, 0)], None),  # a rotation on a 2x2 block
])
def test_small_instances_are_solved(rows, starts, goals, makespan):
    grid = ascii_map("small", rows)
    s, g = cells(grid, starts), cells(grid, goals)
    result = solve_lacam(grid, s, g, deadline_s=time.monotonic() + 5.0)
    check(grid, s, g, result)
    assert result.expanded >= result.makespan
    if makespan is not None:
        assert result.makespan == makespan


def test_dead_end_swap_is_proved_unsolvable_quickly():
    grid = ascii_map("dead-end", DEAD_END)
    s, g = cells(grid, [(1, 0), (3, 0)]), cells(grid, [(3, 0), (1, 0)])
    began = time.monotonic()
    result = solve_lacam(grid, s, g, deadline_s=began + 5.0)
    assert time.monotonic() - began < 1.0          # the search space is exhausted, long before the deadline
    check(grid, s, g, result, solved=False)
    assert result.proved_unsolvable
    assert result.expanded == 10     # every reachable configuration (agent 0 stays left of agent 1), no more


def test_unreachable_goal_is_unsolvable_at_once():
    grid = one_way_ring()
    blocked = ascii_map("split", [".#."])
    s, g = cells(blocked, [(0, 0)]), cells(blocked, [(2, 0)])
    result = solve_lacam(blocked, s, g)
    assert (result.solved, result.proved_unsolvable, result.paths.shape) == (False, True, (1, 1))
    s, g = cells(grid, [(1, 0)]), cells(grid, [(0, 0)])          # one-way but reachable: all the way round
    check(grid, s, g, solve_lacam(grid, s, g))


def test_one_way_ring_two_agents_chase_round():
    grid = one_way_ring()
    s, g = cells(grid, [(1, 0), (2, 0)]), cells(grid, [(0, 0), (1, 0)])
    result = solve_lacam(grid, s, g, deadline_s=time.monotonic() + 5.0)
    check(grid, s, g, result)
    assert against_lane(grid, result.paths) == 0


def test_yard_plans_respect_the_one_way_lanes():
    grid = grid_from_yard(build_grid(load_layout(BUNDLED)))
    starts, goals = random_instance(grid, 100, seed=4)
    result = solve_lacam(grid, starts, goals, seed=4, deadline_s=time.monotonic() + 3.0)
    check(grid, starts, goals, result)
    assert against_lane(grid, result.paths) == 0


def test_deterministic_for_a_seed():
    grid = load_movingai_map(map_path("random-32-32-20"))
    starts, goals = random_instance(grid, 200, seed=8)
    table = DistanceTable(grid)
    first = solve_lacam(grid, starts, goals, seed=3, distances=table)
    second = solve_lacam(grid, starts, goals, seed=3, distances=table)
    check(grid, starts, goals, first)
    assert np.array_equal(first.paths, second.paths)
    assert first.expanded == second.expanded


def test_deadline_is_honoured_on_a_hard_instance():
    grid = load_movingai_map(map_path("maze-32-32-2"))
    starts, goals = random_instance(grid, 300, seed=1)
    table = DistanceTable(grid)
    table.for_goals(goals)
    solve_lacam(grid, starts, goals, distances=table, deadline_s=time.monotonic() + 0.01)     # warm-up
    began = time.monotonic()
    result = solve_lacam(grid, starts, goals, distances=table, deadline_s=began + 0.02)
    took = time.monotonic() - began
    assert took < 0.03, f"{took * 1000:.1f} ms for a 20 ms deadline"
    assert validate(grid, starts, goals, result.paths, require_goals=result.solved) == []
    if not result.solved:                        # the best partial plan: at least as many home as at the start
        assert (result.paths[-1] == goals).sum() >= (starts == goals).sum()


# Instances solved well within the deadline (tens of ms), so the test does not depend on the machine's load. The
# dense ones (rooms and a maze at 60 % of their free cells, where PIBT alone deadlocks: a room or dead end packed
# with agents in the wrong order) and the warehouse's one-cell aisles need LaCAM's search and the swap operation.
@pytest.mark.parametrize(("stem", "agents", "seed"), [
    ("random-32-32-10", 400, 0),
    ("room-32-32-4", 200, 0),
    ("random-32-32-20", 400, 1),
    ("warehouse-10-20-10-2-1", 400, 2),
    ("room-32-32-4", 400, 1),
    ("maze-32-32-2", 400, 0),
])
def test_shared_maps_are_solved_within_a_second(stem, agents, seed):
    grid = load_movingai_map(map_path(stem))
    starts, goals = random_instance(grid, agents, seed=seed)
    began = time.monotonic()
    result = solve_lacam(grid, starts, goals, seed=seed, deadline_s=began + 1.0)
    check(grid, starts, goals, result)
    lower = DistanceTable(grid).for_goals(goals)[np.arange(agents), starts]
    assert result.sum_of_costs >= int(lower.sum())
    assert result.makespan >= int(lower.max())


def test_a_deadline_already_passed_returns_the_start():
    grid = load_movingai_map(map_path("random-32-32-20"))
    starts, goals = random_instance(grid, 50, seed=0)
    result = solve_lacam(grid, starts, goals, deadline_s=time.monotonic() - 1.0)
    assert (result.solved, result.paths.shape, result.expanded) == (False, (1, 50), 0)
    assert (result.paths[0] == starts).all()


def test_empty_and_trivial_instances():
    grid = ascii_map("tiny", ["..."])
    none = np.zeros(0, dtype=np.int32)
    result = solve_lacam(grid, none, none)
    assert (result.solved, result.paths.shape, result.makespan) == (True, (1, 0), 0)
    s = cells(grid, [(0, 0), (2, 0)])
    result = solve_lacam(grid, s, s)
    assert (result.solved, result.makespan, result.sum_of_costs, result.expanded) == (True, 0, 0, 1)


def test_bad_instance_is_refused():
    grid = ascii_map("tiny", ["..."])
    with pytest.raises(InstanceError, match="share the start"):
        solve_lacam(grid, np.array([0, 0]), np.array([1, 2]))

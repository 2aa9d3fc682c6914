"""Detours round obstacles: only the agents told to detour drive round a held one, a new goal ends the detour, an
obstacle change recomputes only the detouring agents' rows, and a detour that leaves no way falls back."""

from __future__ import annotations

import numpy as np
import pytest

from control.planning.distances import DistanceTable
from control.planning.grid import MapError
from control.planning.lifelong import LifelongPlanner
from control.planning.result import InstanceError
from tests.control.planning.planner_cases import ascii_map, cells

# A two-lane road: the way round a held agent on the lower lane is one step longer, so PIBT alone waits behind it.
ROAD = ["........",
        "........"]


def _road_planner() -> tuple[LifelongPlanner, np.ndarray]:
    grid = ascii_map("road", ROAD)
    starts = cells(grid, [(3, 0), (2, 0)])           # agent 0 held in front of agent 1
    goals = cells(grid, [(3, 0), (6, 0)])
    planner = LifelongPlanner(grid, starts, goals)
    planner.set_held(np.array([0]), True)
    planner.set_obstacles(frozenset({int(starts[0])}))
    return planner, goals


def test_an_agent_told_to_detour_drives_round_the_held_one():
    planner, goals = _road_planner()
    planner.set_detour(np.array([1]), True)
    for _ in range(8):
        planner.step()
    assert planner.positions[1] == goals[1]
    assert planner.positions[0] == goals[0]          # held: never moved


def test_an_agent_not_told_to_detour_waits_behind_the_held_one():
    planner, _ = _road_planner()
    first = planner.positions[1]
    for _ in range(8):
        planner.step()
    assert planner.positions[1] == first


def test_a_new_goal_ends_the_detour_and_the_same_goal_keeps_it():
    planner, goals = _road_planner()
    planner.set_detour(np.array([1]), True)
    planner.assign(np.array([1]), goals[1:])
    assert planner.detouring[1]
    planner.assign(np.array([1]), cells(planner.grid, [(7, 1)]))
    assert not planner.detouring[1]


def test_an_obstacle_change_recomputes_only_the_detouring_agents_rows():
    grid = ascii_map("wide", ["." * 40] * 6)
    rng = np.random.default_rng(3)
    free = rng.permutation(grid.free_cells)
    starts, goals = free[:12], free[12:24]             # 12 agents, 12 distinct goals
    table = DistanceTable(grid)
    planner = LifelongPlanner(grid, starts, goals, distances=table)
    planner.set_detour(np.array([4]), True)
    plain = table.misses
    calls = []
    real = table.to_goal_avoiding

    def counting(goal: int, avoid: np.ndarray, out: np.ndarray) -> np.ndarray:
        calls.append(goal)
        return real(goal, avoid, out)

    table.to_goal_avoiding = counting                 # type: ignore[method-assign]
    for obstacle in free[30:35].tolist():
        planner.set_obstacles(frozenset({int(obstacle)}))
    assert calls == [int(goals[4])] * 5                # one row per change, for the one detouring agent
    assert table.misses == plain                       # no plain row was recomputed


def test_a_detour_that_leaves_no_way_uses_the_plain_row():
    grid = ascii_map("corridor", ["......"])
    starts, goals = cells(grid, [(2, 0), (0, 0)]), cells(grid, [(2, 0), (5, 0)])
    planner = LifelongPlanner(grid, starts, goals)
    planner.set_held(np.array([0]), True)
    planner.set_obstacles(frozenset({int(starts[0])}))
    planner.set_detour(np.array([1]), True)
    for _ in range(5):
        planner.step()
    assert planner.positions[1] == cells(grid, [(1, 0)])[0]   # queued behind it, heading the right way


def test_avoided_cells_get_no_distance_and_the_way_round_is_longer():
    grid = ascii_map("road", ROAD)
    table = DistanceTable(grid)
    goal = int(cells(grid, [(6, 0)])[0])
    avoid = np.zeros(grid.num_cells, dtype=bool)
    blocked = int(cells(grid, [(3, 0)])[0])
    avoid[blocked] = True
    row = table.to_goal_avoiding(goal, avoid, np.empty(grid.num_cells, dtype=np.int32))
    start = int(cells(grid, [(2, 0)])[0])
    assert row[blocked] == -1
    assert row[start] == table.to_goal(goal)[start] + 2
    with pytest.raises(MapError):
        table.to_goal_avoiding(goal, avoid[:-1], np.empty(grid.num_cells, dtype=np.int32))


def test_obstacles_outside_the_map_are_refused():
    planner, _ = _road_planner()
    with pytest.raises(InstanceError, match="outside the map"):
        planner.set_obstacles(frozenset({10_000}))


def _two_for_one_cell(boosted: int) -> LifelongPlanner:
    """Agents 0 and 1 on either side of cell (1, 0), both heading for it; ``boosted`` is boosted."""
    grid = ascii_map("corridor", ["..."])
    goal = cells(grid, [(1, 0)])[0]
    planner = LifelongPlanner(grid, cells(grid, [(0, 0), (2, 0)]), np.array([goal, goal], dtype=np.int32))
    planner.boost(np.array([boosted]))
    return planner


@pytest.mark.parametrize("boosted", [0, 1])
def test_a_boosted_agent_is_planned_before_the_other_free_ones(boosted: int) -> None:
    planner = _two_for_one_cell(boosted)
    planner.step()
    assert planner.reached[boosted]
    assert not planner.reached[1 - boosted]


def test_boosting_never_puts_a_free_agent_before_a_held_one() -> None:
    planner = _two_for_one_cell(0)
    planner.set_held(np.array([1]), True)
    planner.boost(np.array([0, 1]))
    before = planner.positions.copy()
    planner.step()
    assert planner.positions[1] == before[1]         # held: planned first, on its own cell

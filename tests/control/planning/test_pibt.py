"""PIBT: one step, whole problems, input checks, determinism, one-way lanes, and its speed against the plain-Python
reference (loosely: the formal ratio is in benchmarks/test_bench_planning.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmarks.reference_pibt import ReferencePIBT
from control.planning.distances import DistanceTable
from control.planning.grid_map import grid_from_yard, load_movingai_map, random_instance
from control.planning.kernels import next_order, pibt_step
from control.planning.pibt import base_order, initial_priorities, pibt_paths, solve_pibt
from control.planning.result import InstanceError
from control.planning.validate import validate
from tests.control.planning.planner_cases import (
    BAY_CORRIDOR,
    JUNCTION,
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
    grid = ascii_map("warm-up", ["...", "..."])
    s, g = cells(grid, [(0, 0), (2, 1)]), cells(grid, [(2, 1), (0, 0)])
    solve_pibt(grid, s, g)
    solve_pibt(grid, s, g, swap=True)


def check(grid, starts, goals, result, *, solved: bool = True) -> None:
    assert result.solved is solved
    assert result.paths.dtype == np.int32
    assert (result.paths[0] == starts).all()
    assert validate(grid, starts, goals, result.paths, require_goals=solved) == []


def test_pibt_step_priority_inheritance_pushes_the_lower_agent_along():
    grid = ascii_map("line", ["...."])
    starts, goals = cells(grid, [(1, 0), (2, 0)]), cells(grid, [(3, 0), (1, 0)])
    dist = DistanceTable(grid).for_goals(goals)
    # agent 0 outranks agent 1, which sits on agent 0's way and is pushed one cell further
    nxt = pibt_step(grid.successors, dist, starts, np.array([2.0, 0.5]), 7)
    assert nxt.tolist() == cells(grid, [(2, 0), (3, 0)]).tolist()


def test_pibt_step_never_swaps_two_agents_head_on():
    grid = ascii_map("pair", [".."])
    starts, goals = cells(grid, [(0, 0), (1, 0)]), cells(grid, [(1, 0), (0, 0)])
    dist = DistanceTable(grid).for_goals(goals)
    for seed in range(5):
        nxt = pibt_step(grid.successors, dist, starts, np.array([1.0, 0.5]), seed)
        assert nxt.tolist() == starts.tolist()     # the only moves would be a swap: both wait


@pytest.mark.parametrize(("rows", "starts", "goals", "swap"), [
    (BAY_CORRIDOR, [(0, 0), (6, 0)], [(6, 0), (0, 0)], True),
    (ROOMS, [(0, 0), (1, 2), (5, 0), (6, 2)], [(5, 1), (6, 0), (0, 1), (1, 0)], False),
    (ROOMS, [(0, 0), (1, 2), (5, 0), (6, 2)], [(5, 1), (6, 0), (0, 1), (1, 0)], True),
    (["....", "....", "...."], [(0, 0), (3, 2), (0, 2), (3, 0)], [(3, 2), (0, 0), (3, 0), (0, 2)], False),
])
def test_solve_pibt_small_instances(rows, starts, goals, swap):
    grid = ascii_map("small", rows)
    s, g = cells(grid, starts), cells(grid, goals)
    result = solve_pibt(grid, s, g, seed=1, swap=swap)
    check(grid, s, g, result)
    assert result.makespan == result.paths.shape[0] - 1
    assert result.sum_of_costs >= int(DistanceTable(grid).for_goals(g)[np.arange(g.size), s].sum())


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("starts", "goals"), [
    ([(6, 1), (5, 1)], [(0, 1), (2, 1)]),       # the far-going agent is behind
    ([(5, 1), (6, 1)], [(2, 1), (0, 1)]),       # the same, agent ids the other way round
])
def test_swap_lets_an_agent_overtake_at_a_junction(seed, starts, goals):
    grid = ascii_map("junction", JUNCTION)
    s, g = cells(grid, starts), cells(grid, goals)
    result = solve_pibt(grid, s, g, seed=seed, swap=True, max_steps=100)
    check(grid, s, g, result)
    assert result.makespan == 6                 # the far-going agent never waits: six moves west
    assert not solve_pibt(grid, s, g, seed=seed, max_steps=100).solved    # the paper's PIBT: stuck for ever


def test_next_order_equals_sorting_by_waiting_time_then_tie_break():
    rng = np.random.default_rng(5)
    n = 300
    goals = rng.permutation(1000)[:n].astype(np.int32)
    base = rng.permutation(n).astype(np.int32)
    rank = np.empty(n, dtype=np.int64)
    rank[base] = np.arange(n)                   # position in the tie-break order, 0 first
    waited = np.zeros(n, dtype=np.int64)
    order = base.copy()
    for _ in range(20):
        q = np.where(rng.random(n) < 0.3, goals, goals + 1).astype(np.int32)
        waited = np.where(q == goals, 0, waited + 1)
        out = np.empty_like(order)
        next_order(order, base, q, goals, out)
        expected = np.lexsort((rank, -waited))  # most steps waited first, then the tie-break
        assert out.tolist() == expected.tolist()
        order = out


def test_base_order_puts_the_longest_trips_first():
    order = base_order(np.array([3, 40, 0, 12, 40]), seed=2)
    assert set(order[:2].tolist()) == {1, 4}
    assert order[2:].tolist() == [3, 0, 2]


def test_pibt_paths_is_the_loop_of_solve_pibt():
    grid = load_movingai_map(map_path("random-32-32-10"))
    starts, goals = random_instance(grid, 200, seed=4)
    table = DistanceTable(grid)
    result = solve_pibt(grid, starts, goals, seed=4, distances=table, swap=True)
    paths = pibt_paths(grid.successors, table.for_goals(goals), starts, goals, seed=4, swap=True)
    assert np.array_equal(result.paths, paths)


def test_classic_pibt_cannot_pass_in_a_corridor_but_stays_valid():
    grid = ascii_map("bay", BAY_CORRIDOR)
    s, g = cells(grid, [(0, 0), (6, 0)]), cells(grid, [(6, 0), (0, 0)])
    result = solve_pibt(grid, s, g, seed=1, max_steps=60)
    check(grid, s, g, result, solved=False)     # the paper's PIBT is incomplete: it needs LaCAM or the swap here
    assert result.paths.shape == (61, 2)


def test_solve_pibt_on_goals_already():
    grid = ascii_map("line", ["..."])
    s = cells(grid, [(0, 0), (2, 0)])
    result = solve_pibt(grid, s, s)
    check(grid, s, s, result)
    assert (result.makespan, result.sum_of_costs, result.paths.shape) == (0, 0, (1, 2))


def test_solve_pibt_is_deterministic_for_a_seed():
    grid = load_movingai_map(map_path("random-32-32-10"))
    starts, goals = random_instance(grid, 150, seed=3)
    table = DistanceTable(grid)
    first = solve_pibt(grid, starts, goals, seed=11, distances=table, swap=True)
    second = solve_pibt(grid, starts, goals, seed=11, distances=table, swap=True)
    check(grid, starts, goals, first)
    assert np.array_equal(first.paths, second.paths)


def test_solve_pibt_stops_at_max_steps_with_a_valid_partial_plan():
    grid = load_movingai_map(map_path("random-32-32-10"))
    starts, goals = random_instance(grid, 100, seed=0)
    result = solve_pibt(grid, starts, goals, max_steps=5)
    check(grid, starts, goals, result, solved=False)
    assert result.paths.shape == (6, 100)
    assert result.makespan == 0


def test_solve_pibt_honours_the_deadline():
    grid = load_movingai_map(map_path("warehouse-10-20-10-2-1"))
    starts, goals = random_instance(grid, 600, seed=2)
    table = DistanceTable(grid)
    table.for_goals(goals)
    began = time.monotonic()
    result = solve_pibt(grid, starts, goals, deadline_s=began + 0.02, max_steps=100_000, distances=table)
    assert time.monotonic() - began < 0.03
    assert validate(grid, starts, goals, result.paths, require_goals=result.solved) == []


def test_unreachable_goal_is_reported_unsolvable_without_moving():
    blocked = ascii_map("split", [".#."])
    s, g = cells(blocked, [(0, 0)]), cells(blocked, [(2, 0)])
    result = solve_pibt(blocked, s, g)
    assert (result.solved, result.proved_unsolvable, result.paths.shape) == (False, True, (1, 1))


def test_one_way_ring_is_driven_one_way_only():
    grid = one_way_ring()
    s, g = cells(grid, [(1, 0), (5, 2)]), cells(grid, [(0, 0), (4, 3)])
    result = solve_pibt(grid, s, g)
    check(grid, s, g, result)
    assert against_lane(grid, result.paths) == 0
    assert result.makespan >= 15       # (1, 0) -> (0, 0) is all the way round the 16-cell ring


def test_yard_plans_respect_the_one_way_lanes():
    grid = grid_from_yard(build_grid(load_layout(BUNDLED)))
    starts, goals = random_instance(grid, 60, seed=5)
    result = solve_pibt(grid, starts, goals, seed=5, deadline_s=time.monotonic() + 2.0)
    assert against_lane(grid, result.paths) == 0
    assert validate(grid, starts, goals, result.paths, require_goals=result.solved) == []


@pytest.mark.parametrize(("starts", "goals", "message"), [
    ([[0, 0], [0, 0]], [[1, 0], [2, 0]], "share the start"),
    ([[0, 0], [1, 0]], [[2, 0], [2, 0]], "share the goal"),
    ([[1, 1]], [[0, 0]], "blocked"),
    ([[0, 0]], [[0, 0], [1, 0]], "1 starts but 2 goals"),
])
def test_bad_instances_are_refused(starts, goals, message):
    grid = ascii_map("bad", ["...", ".#."])
    s = np.array([y * 3 + x for x, y in starts], dtype=np.int32)
    g = np.array([y * 3 + x for x, y in goals], dtype=np.int32)
    with pytest.raises(InstanceError, match=message):
        solve_pibt(grid, s, g)


def test_out_of_map_cell_and_float_ids_are_refused():
    grid = ascii_map("bad", ["..."])
    with pytest.raises(InstanceError, match="not a cell"):
        solve_pibt(grid, np.array([7]), np.array([0]))
    with pytest.raises(InstanceError, match="integer"):
        solve_pibt(grid, np.array([0.0]), np.array([1.0]))


def test_numba_pibt_is_much_faster_than_the_python_reference():
    grid = load_movingai_map(map_path("random-32-32-10"))
    starts, goals = random_instance(grid, 400, seed=0)
    dist = DistanceTable(grid).for_goals(goals)
    priorities = initial_priorities(400, 0)
    reference = ReferencePIBT.from_arrays(grid.successors, dist, starts, goals, seed=0)
    q_from = starts.tolist()
    began = time.perf_counter()
    for _ in range(5):
        q_from = reference.step(q_from, priorities.tolist())
    python_s = (time.perf_counter() - began) / 5
    pibt_step(grid.successors, dist, starts, priorities, 0)          # compiled already; warms the dispatcher
    began = time.perf_counter()
    for seed in range(50):
        nxt = pibt_step(grid.successors, dist, starts, priorities, seed)
    numba_s = (time.perf_counter() - began) / 50
    assert validate(grid, starts, goals, np.stack([starts, nxt]), require_goals=False) == []
    assert python_s / numba_s > 10, f"numba {numba_s * 1e6:.0f} µs vs Python {python_s * 1e6:.0f} µs per step"

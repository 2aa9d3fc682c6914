"""The plan validator: one hand-made plan per kind of violation, malformed plans, agreement with a plain per-step
reference on random plans, and its speed on a 1,000-agent plan."""

from __future__ import annotations

import itertools
import logging
import time

import numpy as np
import pytest

from control.planning.grid_map import GridMap, build_grid_map
from control.planning.validate import Violation, validate
from yard.grid import MOVES

log = logging.getLogger(__name__)

# 5 wide, 3 high; (2, 1) is blocked. Cell ids: y * 5 + x.
#   0  1  2  3  4
#   5  6  #  8  9
#  10 11 12 13 14
OPEN = build_grid_map("open", np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 1], [1, 1, 1, 1, 1]], dtype=bool))
# a 1 × 4 corridor driven +x only
ONE_WAY = build_grid_map("lane", np.ones((1, 4), dtype=bool), np.full((1, 4), 1, dtype=np.uint8))

Expected = list[tuple[str, int, int, int]]
CASES: list[tuple[str, GridMap, list[int], list[int], list[list[int]], Expected]] = [
    ("valid, following", OPEN, [0, 1], [2, 3], [[0, 1], [1, 2], [2, 3]], []),
    ("valid, rotation of four", OPEN, [0, 1, 6, 5], [1, 6, 5, 0], [[0, 1, 6, 5], [1, 6, 5, 0]], []),
    ("valid, waits only", OPEN, [0, 14], [0, 14], [[0, 14]], []),
    ("valid, with the lane", ONE_WAY, [0, 2], [2, 3], [[0, 2], [1, 3], [2, 3]], []),
    ("start", OPEN, [0, 1], [0, 3], [[0, 3], [0, 3]], [("start", 0, 1, -1)]),
    ("continuity jump", OPEN, [0], [2], [[0], [2]], [("continuity", 1, 0, -1)]),
    ("continuity across the row end", OPEN, [4], [5], [[4], [5]], [("continuity", 1, 0, -1)]),
    ("one_way", ONE_WAY, [2], [1], [[2], [1]], [("one_way", 1, 0, -1)]),
    ("obstacle entered", OPEN, [2], [7], [[2], [7]], [("obstacle", 1, 0, -1)]),
    ("obstacle held", OPEN, [7], [7], [[7], [7]], [("obstacle", 0, 0, -1), ("obstacle", 1, 0, -1)]),
    ("vertex", OPEN, [0, 2], [0, 2], [[0, 2], [1, 1], [0, 2]], [("vertex", 1, 0, 1)]),
    ("vertex of three", OPEN, [0, 2, 6], [0, 2, 6], [[0, 2, 6], [1, 1, 1], [0, 2, 6]],
     [("vertex", 1, 0, 1), ("vertex", 1, 1, 2)]),
    ("swap", OPEN, [0, 1], [1, 0], [[0, 1], [1, 0]], [("swap", 1, 0, 1)]),
    ("swap later, vertical", OPEN, [3, 13, 0], [13, 3, 0], [[3, 13, 0], [8, 13, 0], [13, 8, 0], [13, 3, 0]],
     [("swap", 2, 0, 1)]),
    ("goal", OPEN, [0, 4], [2, 4], [[0, 4], [1, 4]], [("goal", 1, 0, -1)]),
    ("several, ordered by step", OPEN, [0, 1, 10], [2, 0, 11], [[0, 1, 10], [1, 0, 12], [1, 0, 12]],
     [("continuity", 1, 2, -1), ("swap", 1, 0, 1), ("goal", 2, 0, -1), ("goal", 2, 2, -1)]),
]


@pytest.mark.parametrize(("grid", "starts", "goals", "paths", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_hand_made_plans(grid: GridMap, starts: list[int], goals: list[int], paths: list[list[int]],
                         expected: Expected) -> None:
    found = validate(grid, np.array(starts, np.int32), np.array(goals, np.int32), np.array(paths, np.int32))
    assert [(v.kind, v.t, v.agent, v.other) for v in found] == expected
    assert all(v.detail for v in found)


def test_details_name_agents_and_cells() -> None:
    swap, = validate(OPEN, np.array([0, 1]), np.array([1, 0]), np.array([[0, 1], [1, 0]]))
    assert swap.detail == "agents 0 and 1 swap (0, 0) <-> (1, 0)"
    lane, = validate(ONE_WAY, np.array([2]), np.array([1]), np.array([[2], [1]]))
    assert lane.detail == "agent 0 moves (2, 0) -> (1, 0), against a one-way lane"


def test_goals_are_only_checked_when_required() -> None:
    paths = np.array([[0, 4], [1, 4]])
    assert validate(OPEN, paths[0], np.array([2, 4]), paths, require_goals=False) == []


def test_max_report_caps_the_list_keeping_the_earliest() -> None:
    paths = np.array([[7], [7], [7], [7], [7]])          # held on a blocked cell for five steps
    found = validate(OPEN, paths[0], paths[0], paths, max_report=3)
    assert [(v.kind, v.t) for v in found] == [("obstacle", 0), ("obstacle", 1), ("obstacle", 2)]
    with pytest.raises(ValueError, match="max_report"):
        validate(OPEN, paths[0], paths[0], paths, max_report=0)


MALFORMED = [
    ("float paths", [0], [0], np.array([[0.0]]), "paths must hold integer cell ids"),
    ("bool starts", np.array([True]), [0], [[0]], "starts must hold integer cell ids"),
    ("paths 1-D", [0, 1], [0, 1], np.array([0, 1]), "paths must have shape (T + 1, 2)"),
    ("no steps", [0], [0], np.zeros((0, 1), np.int32), "paths must have shape (T + 1, 1)"),
    ("agents differ", [0, 1], [0, 1], [[0, 1, 2]], "paths must have shape (T + 1, 2)"),
    ("goals short", [0, 1], [0], [[0, 1]], "goals must have shape (N,)"),
    ("starts 2-D", [[0]], [0], [[0]], "starts must have shape (N,)"),
    ("cell outside", [0], [0], [[0], [15]], "paths[1, 0] = 15 is not a cell id of open (0..14)"),
    ("negative cell", [0], [0], [[0], [-1]], "paths[1, 0] = -1"),
    ("goal outside", [0], [99], [[0]], "goals[0] = 99"),
]


@pytest.mark.parametrize(("starts", "goals", "paths", "message"), [case[1:] for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_malformed_plans_give_one_shape_violation(starts: object, goals: object, paths: object, message: str) -> None:
    found = validate(OPEN, np.asarray(starts), np.asarray(goals), np.asarray(paths))
    assert len(found) == 1
    assert found[0].kind == "shape"
    assert message in found[0].detail


def test_the_empty_fleet_is_valid() -> None:
    empty = np.zeros(0, np.int32)
    assert validate(OPEN, empty, empty, np.zeros((3, 0), np.int32)) == []


# --- agreement with a plain reference --------------------------------------------------------------------------------

def plain_violations(passable: np.ndarray, allowed: np.ndarray, starts: list[int], goals: list[int],
                     paths: list[list[int]]) -> set[tuple[str, int, int, int]]:
    """Per step, per agent, from the passable mask and move bits (not from the code's successor table)."""
    _height, width = passable.shape
    free = passable.ravel()
    bit_of = {(dx, dy): bit for dx, dy, bit in MOVES}
    found: set[tuple[str, int, int, int]] = set()
    agents = len(starts)
    for i in range(agents):
        if paths[0][i] != starts[i]:
            found.add(("start", 0, i, -1))
        if paths[-1][i] != goals[i]:
            found.add(("goal", len(paths) - 1, i, -1))
    for t, row in enumerate(paths):
        at: dict[int, list[int]] = {}
        for i, cell in enumerate(row):
            at.setdefault(cell, []).append(i)
            if not free[cell]:
                found.add(("obstacle", t, i, -1))
        for group in at.values():
            found.update(("vertex", t, a, b) for a, b in itertools.pairwise(group))
        if t == 0:
            continue
        before = paths[t - 1]
        for i in range(agents):
            a, b = before[i], row[i]
            if a == b or not (free[a] and free[b]):
                continue
            (ay, ax), (by, bx) = divmod(a, width), divmod(b, width)
            step = (bx - ax, by - ay)
            if step not in bit_of:
                found.add(("continuity", t, i, -1))
            elif not allowed[ay, ax] & bit_of[step]:
                found.add(("one_way", t, i, -1))
        for i in range(agents):
            for j in range(i + 1, agents):
                if before[i] != row[i] and before[i] == row[j] and row[i] == before[j]:
                    found.add(("swap", t, i, j))
    return found


def random_plan(rng: np.random.Generator, grid: GridMap, agents: int, steps: int) -> np.ndarray:
    """Mostly legal-looking moves (any of the 4 directions, waits), some jumps, on any cell."""
    paths = np.empty((steps + 1, agents), dtype=np.int64)
    paths[0] = rng.choice(grid.num_cells, size=agents, replace=False)
    for t in range(steps):
        x, y = paths[t] % grid.width, paths[t] // grid.width
        k = rng.integers(0, 5, size=agents)
        dx = np.array([0, 1, -1, 0, 0])[k]
        dy = np.array([0, 0, 0, 1, -1])[k]
        nx, ny = np.clip(x + dx, 0, grid.width - 1), np.clip(y + dy, 0, grid.height - 1)
        nxt = ny * grid.width + nx
        jump = rng.random(agents) < 0.05
        paths[t + 1] = np.where(jump, rng.integers(0, grid.num_cells, size=agents), nxt)
    return paths


def test_agrees_with_a_plain_per_step_reference_on_random_plans() -> None:
    rng = np.random.default_rng(2024)
    kinds_seen: set[str] = set()
    for _ in range(150):
        passable = rng.random((4, 5)) > 0.15
        allowed = rng.integers(0, 16, size=(4, 5)).astype(np.uint8)
        grid = build_grid_map("random", passable, allowed)
        agents = int(rng.integers(1, 6))
        paths = random_plan(rng, grid, agents, steps=int(rng.integers(0, 6)))
        starts = paths[0].copy()
        starts[rng.random(agents) < 0.1] = 0
        goals = rng.integers(0, grid.num_cells, size=agents)
        found = {(v.kind, v.t, v.agent, v.other) for v in validate(grid, starts, goals, paths, max_report=10_000)}
        expected = plain_violations(passable, allowed, starts.tolist(), goals.tolist(), paths.tolist())
        # Swaps are compared at steps without a vertex conflict before them: two agents standing on one cell and
        # leaving along one edge are a vertex conflict, after which the swap pairs are not all named.
        crowded = {t + 1 for kind, t, _, _ in expected if kind == "vertex"}
        assert {v for v in found if v[0] != "swap"} == {v for v in expected if v[0] != "swap"}
        assert {v for v in found if v[0] == "swap"} <= {v for v in expected if v[0] == "swap"}
        assert {v for v in expected if v[0] == "swap" and v[1] not in crowded} <= found
        kinds_seen |= {v[0] for v in found}
    assert kinds_seen == {"start", "goal", "obstacle", "continuity", "one_way", "vertex", "swap"}


# --- speed ----------------------------------------------------------------------------------------------------------

def conveyor_cycle(width: int, height: int) -> list[int]:
    """A Hamiltonian cycle of an open grid with an even height: row 0 eastwards, a serpentine over columns 1.. of
    the other rows, and column 0 back north."""
    cycle = [x for x in range(width)]
    for y in range(1, height):
        xs = range(width - 1, 0, -1) if y % 2 else range(1, width)
        cycle += [y * width + x for x in xs]
    cycle += [y * width for y in range(height - 1, 0, -1)]
    return cycle


def test_a_1000_agent_plan_is_checked_in_milliseconds() -> None:
    grid = build_grid_map("empty", np.ones((32, 32), dtype=bool))
    cycle = np.array(conveyor_cycle(32, 32))
    assert sorted(cycle.tolist()) == list(range(1024))
    steps, agents = 300, 1000
    position = (np.arange(agents)[None, :] + np.arange(steps + 1)[:, None]) % cycle.size
    paths = cycle[position].astype(np.int32)          # everyone advances one cell along the cycle each step
    assert validate(grid, paths[0], paths[-1], paths) == []
    best = float("inf")
    for _ in range(3):
        begin = time.perf_counter()
        validate(grid, paths[0], paths[-1], paths)
        best = min(best, time.perf_counter() - begin)
    log.info("validate: %d agents × %d steps in %.1f ms", agents, steps, best * 1e3)
    assert best < 0.5
    broken = paths.copy()
    broken[150, [10, 11]] = broken[150, [11, 10]]     # two neighbours trade places mid-plan
    found = {(v.kind, v.t, v.agent) for v in validate(grid, paths[0], paths[-1], broken)}
    assert found == {("continuity", 150, 10), ("continuity", 151, 11)}   # 10 jumps ahead, 11 catches up


def test_violation_defaults() -> None:
    assert Violation("goal", 3, 1) == Violation("goal", 3, 1, -1, "")

"""Plan checker, independent of the planners: nothing is dispatched to a vehicle before it passes.

A plan ``paths`` is (T + 1, N) cells; it is valid when it starts at ``starts``, every step is a wait or an allowed move
(``grid.successors``: walls, the map's edge and one-way lanes), no cell is blocked, no two agents share a cell at a
step (vertex conflict), no two agents trade cells in one step (swap conflict), and, when asked, every agent ends on
its goal. Following (moving into a cell another agent leaves at the same step) and rotations are allowed, as in
PIBT and LaCAM. Each check is numpy over all agents and steps at once (sorted keys instead of per-step sets), so
checking a 1,000-agent plan costs milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from control.planning.grid import GridMap
from yard.grid import MOVES

ViolationKind = Literal["start", "continuity", "vertex", "swap", "one_way", "obstacle", "goal", "shape"]
_KIND_ORDER = {kind: i for i, kind in enumerate(
    ("shape", "start", "obstacle", "continuity", "one_way", "vertex", "swap", "goal"))}


@dataclass(frozen=True)
class Violation:
    """One broken rule: at step ``t`` (the step a move ends), by ``agent`` (and ``other`` for conflicts)."""

    kind: ViolationKind
    t: int
    agent: int
    other: int = -1
    detail: str = ""


def validate(grid: GridMap, starts: np.ndarray, goals: np.ndarray, paths: np.ndarray, *,
             require_goals: bool = True, max_report: int = 100) -> list[Violation]:
    """Every violation of the plan, ordered by step then agent, at most ``max_report`` of them; [] = valid.
    A malformed plan (shape, dtype, cell ids outside the map) gives one "shape" violation and nothing else."""
    if isinstance(max_report, bool) or not isinstance(max_report, int) or max_report < 1:
        raise ValueError(f"max_report must be a positive integer, got {max_report!r}")
    malformed = _shape_violation(grid, starts, goals, paths)
    if malformed is not None:
        return [malformed]
    check = _Checker(grid, np.asarray(paths, dtype=np.int64), max_report)
    found = [*check.starts(np.asarray(starts, dtype=np.int64)), *check.obstacles(), *check.moves(),
             *check.vertices(), *check.swaps()]
    if require_goals:
        found += check.goals(np.asarray(goals, dtype=np.int64))
    found.sort(key=lambda v: (v.t, _KIND_ORDER[v.kind], v.agent, v.other))
    return found[:max_report]


def _shape_violation(grid: GridMap, starts: np.ndarray, goals: np.ndarray, paths: np.ndarray) -> Violation | None:
    arrays = {"starts": np.asarray(starts), "goals": np.asarray(goals), "paths": np.asarray(paths)}
    for name, array in arrays.items():
        if not np.issubdtype(array.dtype, np.integer):
            return Violation("shape", 0, -1, detail=f"{name} must hold integer cell ids, got {array.dtype}")
    agents = arrays["starts"].shape[0] if arrays["starts"].ndim == 1 else -1
    expected = {"starts": (agents,), "goals": (agents,)}
    for name in ("starts", "goals"):
        if arrays[name].shape != expected[name]:
            return Violation("shape", 0, -1, detail=f"{name} must have shape (N,), got {arrays[name].shape}"
                             + (f" with N = {agents}" if name == "goals" else ""))
    plan = arrays["paths"]
    if plan.ndim != 2 or plan.shape[0] < 1 or plan.shape[1] != agents:
        return Violation("shape", 0, -1, detail=f"paths must have shape (T + 1, {agents}), got {plan.shape}")
    for name, array in arrays.items():
        outside = np.argwhere((array < 0) | (array >= grid.num_cells))
        if outside.size:
            where = tuple(int(v) for v in outside[0])
            t, agent = (where if name == "paths" else (0, where[0]))
            return Violation("shape", t, agent, detail=f"{name}{list(where)} = {int(array[where])} is not a cell id "
                             f"of {grid.name} (0..{grid.num_cells - 1})")
    return None


class _Checker:
    """The individual rules over one well-formed plan; each returns at most ``limit`` violations, earliest first."""

    def __init__(self, grid: GridMap, paths: np.ndarray, limit: int) -> None:
        self.grid = grid
        self.paths = paths
        self.limit = limit
        self.free = grid.passable.ravel()

    def where(self, cell: int) -> str:
        y, x = divmod(int(cell), self.grid.width)
        return f"({x}, {y})"

    def starts(self, starts: np.ndarray) -> list[Violation]:
        wrong = np.flatnonzero(self.paths[0] != starts)[:self.limit]
        return [Violation("start", 0, int(i), detail=f"agent {i} is at {self.where(self.paths[0, i])}, its start is "
                          f"{self.where(starts[i])}") for i in wrong]

    def obstacles(self) -> list[Violation]:
        hits = np.argwhere(~self.free[self.paths])[:self.limit]
        return [Violation("obstacle", int(t), int(i), detail=f"agent {i} is on blocked cell "
                          f"{self.where(self.paths[t, i])}") for t, i in hits]

    def moves(self) -> list[Violation]:
        """Steps that are neither a wait nor an allowed move; adjacent ones are "one_way" (the move exists but
        goes against a lane), others "continuity". Moves from or to a blocked cell are left to `obstacles`. Each
        step is classified by its direction and checked with one lookup in ``grid.move_bits``."""
        before, after = self.paths[:-1].ravel(), self.paths[1:].ravel()
        movers = np.flatnonzero(before != after)
        source, target = before[movers], after[movers]
        width = self.grid.width
        diff, shift = target - source, target % width - source % width
        direction = np.zeros(movers.size, dtype=np.uint8)
        for dx, dy, bit in MOVES:
            direction[(diff == dy * width + dx) & (shift == dx)] = bit
        bad = ((self.grid.move_bits[source] & direction) == 0) & self.free[source] & self.free[target]
        agents = self.paths.shape[1]
        return [self._bad_move(int(flat) // agents, int(flat) % agents, adjacent=bool(code))
                for flat, code in zip(movers[bad][:self.limit], direction[bad][:self.limit], strict=True)]

    def _bad_move(self, m: int, i: int, *, adjacent: bool) -> Violation:
        move = f"{self.where(self.paths[m, i])} -> {self.where(self.paths[m + 1, i])}"
        if adjacent:
            return Violation("one_way", m + 1, i, detail=f"agent {i} moves {move}, against a one-way lane")
        return Violation("continuity", m + 1, i, detail=f"agent {i} jumps {move}, not a neighbouring cell")

    def vertices(self) -> list[Violation]:
        t, a, b = (found[:self.limit] for found in _equal_in_rows(self.paths, self.limit))
        return [Violation("vertex", int(s), int(i), int(j), detail=f"agents {i} and {j} both at "
                          f"{self.where(self.paths[s, i])}") for s, i, j in zip(t, a, b, strict=True)]

    def swaps(self) -> list[Violation]:
        """Two moving agents on the same undirected edge in one step, in opposite directions. (Same direction means
        both stood on one cell: a vertex conflict, reported by `vertices`.)"""
        before, after = self.paths[:-1], self.paths[1:]
        cells = self.grid.num_cells
        moved = after != before
        edge = np.minimum(before, after) * cells + np.maximum(before, after)
        unique_wait = -1 - np.arange(before.shape[1], dtype=np.int64)       # waiting agents never match
        m, a, b = _equal_in_rows(np.where(moved, edge, unique_wait[None, :]), None)
        opposite = after[m, a] == before[m, b]
        m, a, b = m[opposite][:self.limit], a[opposite][:self.limit], b[opposite][:self.limit]
        return [Violation("swap", int(s) + 1, int(i), int(j), detail=f"agents {i} and {j} swap "
                          f"{self.where(before[s, i])} <-> {self.where(before[s, j])}")
                for s, i, j in zip(m, a, b, strict=True)]

    def goals(self, goals: np.ndarray) -> list[Violation]:
        last = self.paths.shape[0] - 1
        missed = np.flatnonzero(self.paths[-1] != goals)[:self.limit]
        return [Violation("goal", last, int(i), detail=f"agent {i} ends at {self.where(self.paths[-1, i])}, its goal "
                          f"is {self.where(goals[i])}") for i in missed]


def _equal_in_rows(values: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, a, b) with a < b and ``values[t, a] == values[t, b]`` (neighbours in the row's sorted order), rows in
    order, from at most ``limit`` rows. Rows are sorted without indices first; only rows holding a repeat are
    sorted again with ``argsort`` to name the agents, so a valid plan costs one ``np.sort``."""
    ordered = np.sort(values, axis=1)
    rows = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))[:limit]
    subset = values[rows]
    order = np.argsort(subset, axis=1, kind="stable")
    ranked = np.take_along_axis(subset, order, axis=1)
    r, k = np.nonzero(ranked[:, 1:] == ranked[:, :-1])
    return rows[r], order[r, k], order[r, k + 1]

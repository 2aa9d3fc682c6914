"""The project's plain-Python PIBT: the readable reference the numba planner is measured against.

Okumura et al., "Priority Inheritance with Backtracking for Iterative Multi-agent Path Finding" (AIJ 2022),
Algorithm 1, in plain Python lists and ints, no numpy in the loop and no numba: the names follow the paper
(`func_pibt` is its funcPIBT, `Q_from` / `Q_to` the current and next configurations), so the paper documents it.
It reads the same inputs as `control.planning.pibt.solve_pibt` (the successor table and the distance tables), so
a benchmark can run both on the same instance and compare only the planning.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

NIL = -1


class ReferencePIBT:
    """One PIBT instance: ``neighbours[v]`` lists the cells one move from v (v itself first, for waiting),
    ``dist[i][v]`` the steps from v to agent i's goal (-1 where it cannot be reached)."""

    def __init__(self, neighbours: Sequence[Sequence[int]], dist: Sequence[Sequence[int]],
                 starts: Sequence[int], goals: Sequence[int], seed: int = 0) -> None:
        self.neighbours = [list(v) for v in neighbours]
        self.dist = [list(d) for d in dist]
        self.starts, self.goals = list(starts), list(goals)
        self.N = len(self.starts)
        self.rng = random.Random(seed)
        self.occupied_now = [NIL] * len(self.neighbours)
        self.occupied_nxt = [NIL] * len(self.neighbours)

    @classmethod
    def from_arrays(cls, successors: np.ndarray, dist: np.ndarray, starts: np.ndarray, goals: np.ndarray,
                    seed: int = 0) -> ReferencePIBT:
        """From the numba planner's arrays: ``successors`` (C, 5) -1 padded, ``dist`` (N, C)."""
        neighbours = [[int(u) for u in row if u >= 0] for row in successors.tolist()]
        return cls(neighbours, dist.tolist(), starts.tolist(), goals.tolist(), seed)

    def cost(self, i: int, v: int) -> int:
        """Distance to go, unreachable cells last."""
        d = self.dist[i][v]
        return d if d >= 0 else len(self.neighbours)

    def func_pibt(self, Q_from: list[int], Q_to: list[int], i: int) -> bool:
        """Agent i picks its best free next cell; an agent standing there inherits i's priority and must move."""
        C = list(self.neighbours[Q_from[i]])
        self.rng.shuffle(C)  # random tie-breaking among cells equally near the goal
        C.sort(key=lambda u: self.cost(i, u))
        for v in C:
            if self.occupied_nxt[v] != NIL:
                continue
            j = self.occupied_now[v]
            if j != NIL and Q_to[j] == Q_from[i]:  # j would move into i's cell: a swap
                continue
            Q_to[i] = v
            self.occupied_nxt[v] = i
            if j != NIL and j != i and Q_to[j] == NIL and not self.func_pibt(Q_from, Q_to, j):
                continue  # j could not make room: try i's next cell
            return True
        Q_to[i] = Q_from[i]
        self.occupied_nxt[Q_from[i]] = i
        return False

    def step(self, Q_from: list[int], priorities: list[float]) -> list[int]:
        """One timestep: agents plan in decreasing priority; returns the next configuration."""
        Q_to = [NIL] * self.N
        for i, v in enumerate(Q_from):
            self.occupied_now[v] = i
        for i in sorted(range(self.N), key=lambda k: -priorities[k]):
            if Q_to[i] == NIL:
                self.func_pibt(Q_from, Q_to, i)
        for i in range(self.N):
            self.occupied_now[Q_from[i]] = NIL
            self.occupied_nxt[Q_to[i]] = NIL
        return Q_to

    def run(self, max_timestep: int = 1000) -> list[list[int]]:
        """Configurations from the starts until every agent is on its goal (or ``max_timestep``)."""
        size = len(self.neighbours)
        priorities = [self.cost(i, self.starts[i]) / size for i in range(self.N)]
        configs = [list(self.starts)]
        while len(configs) <= max_timestep and configs[-1] != self.goals:
            Q = self.step(configs[-1], priorities)
            configs.append(Q)
            for i in range(self.N):  # agents away from their goal gain priority; the others drop back
                priorities[i] = priorities[i] + 1 if Q[i] != self.goals[i] else priorities[i] - int(priorities[i])
        return configs

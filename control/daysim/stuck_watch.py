"""Unsticking IGVs that wait behind a held one.

PIBT prefers waiting to a longer way round, and a held IGV (under a crane, on a waiting spot, broken down) cannot
be pushed aside; so an IGV whose shortest way runs through a held one's cell waits for as long as that one is
held. Every `CHECK_TICKS` ticks the watcher finds IGVs that have not come closer to their goal for `STUCK_TICKS`
ticks and have a held IGV next to them: those held IGVs become obstacles (the fleet's `obstruct`) and the stuck
IGV detours round them (`Fleet.detour`, until its next goal); an obstacle is lifted when its IGV is let go. Only
the stuck IGVs' distances change, so an obstacle costs a few distance rows, not one per goal in the yard.
(Overtaking the still head of a queue in the lane's other cell the same way was tried: it made more stalls.)

A stuck IGV whose neighbour (not held) waits to drive onto its cell, as on a waiting spot whose only exit is the
lane cell where the next IGV waits to come in, is hurried (`Fleet.hurry`): planned first, it pushes that one on
and gets out, where the one outside, first by plain priority, would wait for the spot for ever.
"""

from __future__ import annotations

import numpy as np

from control.fleet.fleet import Fleet

__all__ = ["StuckWatch"]

CHECK_TICKS = 25
STUCK_TICKS = 50        # 20 s without coming closer to the goal


class StuckWatch:
    """Progress per IGV (steps to its goal on a straight-line count, enough to see standing still)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        n = fleet.positions.size
        self._best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        self._goal = np.full(n, -1, dtype=np.int64)
        self._since = np.zeros(n, dtype=np.int64)
        self._tick = 0
        self.obstructing: set[int] = set()      # held IGVs made obstacles
        self.unstuck = 0            # held IGVs made obstacles so far
        self.hurried = 0            # stuck IGVs planned first so far

    def tick(self, held: dict[int, set[str]]) -> None:
        """Called every tick; every `CHECK_TICKS`, obstruct held IGVs that a stuck one waits behind."""
        self._tick += 1
        if self._tick % CHECK_TICKS:
            return
        fleet = self.fleet
        width = fleet.grid.width
        here, goals = fleet.positions.astype(np.int64), fleet.goals().astype(np.int64)
        steps = np.abs(here % width - goals % width) + np.abs(here // width - goals // width)
        fresh = (goals != self._goal) | (steps < self._best) | fleet.waiting() | (steps == 0)
        self._best = np.where(fresh, steps, self._best)
        self._since[fresh] = self._tick
        self._goal = goals
        stuck = np.flatnonzero(self._tick - self._since >= STUCK_TICKS).tolist()
        blocked = [igv for igv in stuck if self._obstruct_neighbours(int(here[igv]), held)]
        if blocked:
            self.fleet.detour(blocked)
        cornered = [igv for igv in stuck if self._awaited_by_neighbour(int(here[igv]), goals, held)]
        if cornered:
            self.fleet.hurry(cornered)
            self.hurried += len(cornered)

    def _awaited_by_neighbour(self, cell: int, goals: np.ndarray, held: dict[int, set[str]]) -> bool:
        """A free IGV next to ``cell`` has ``cell`` as its goal."""
        near = np.flatnonzero(np.isin(self.fleet.positions, self._around(cell)) & (goals == cell))
        return any(not held.get(int(igv)) for igv in near.tolist())

    def _obstruct_neighbours(self, cell: int, held: dict[int, set[str]]) -> bool:
        """Make the held IGVs next to ``cell`` obstacles; True if there is any."""
        blocking = [igv for igv in np.flatnonzero(np.isin(self.fleet.positions, self._around(cell))).tolist()
                    if held.get(igv)]
        for igv in blocking:
            if igv not in self.obstructing:
                self.obstructing.add(igv)
                self.fleet.obstruct(igv, True)
                self.unstuck += 1
        return bool(blocking)

    def _around(self, cell: int) -> np.ndarray:
        """The cells one move from ``cell``."""
        successors = self.fleet.grid.successors[cell]
        return np.asarray(successors[(successors >= 0) & (successors != cell)])

    def released(self, igv: int) -> None:
        """The IGV is let go: it is no obstacle any more (the engine calls this before it moves)."""
        if igv in self.obstructing:
            self.obstructing.discard(igv)
            self.fleet.obstruct(igv, False)

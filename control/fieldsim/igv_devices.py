"""What the IGVs physically do in one tick, for the whole fleet in one numba kernel.

The planner's commands are advice: a device moves only to its own cell or a neighbour the map allows, only when it
works and got its order, and only when the move is safe, so a bad plan, a lost order or a breakdown can never make
two IGVs meet. Safety is resolved to a fixed point: an IGV that stays holds its cell; a follower into a cell whose
owner stays, stays too (and so may its own follower); two movers into one free cell: the lower index goes; two IGVs
trading cells both stay. Rotations of three or more and chains of followers move together, as PIBT plans them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from control.planning.grid_map import GridMap
from control.planning.result import checked_instance

if TYPE_CHECKING:
    from control.fieldsim.trajectory import TrajectoryLog

__all__ = ["DeviceError", "IGVDevices"]


class DeviceError(ValueError):
    """Commands or masks that do not fit the fleet (wrong shape or type)."""


class IGVDevices:
    """What the IGVs physically do each tick: move to the commanded next cell if it is adjacent (or the same),
    the device is not broken, and the move is safe (the cell is free at the end of the tick and no two IGVs swap),
    else stay (numba kernel). Counts refused moves. Records executed positions into a TrajectoryLog.

    ``goals`` ((N,) int32, -1 = none) and ``waiting`` ((N,) bool) are what the log's stall detector needs: the
    caller keeps them current (a broken IGV counts as waiting). ``blocked`` ((C,) bool) marks cells an obstacle
    occupies: no IGV enters them."""

    def __init__(self, grid: GridMap, starts: np.ndarray, log: TrajectoryLog | None = None) -> None:
        cells, _ = checked_instance(grid, starts, np.asarray(starts))
        n = cells.size
        self.grid = grid
        self.positions: np.ndarray = cells
        self.broken: np.ndarray = np.zeros(n, dtype=bool)
        self.goals: np.ndarray = np.full(n, -1, dtype=np.int32)
        self.waiting: np.ndarray = np.zeros(n, dtype=bool)
        self.blocked: np.ndarray = np.zeros(grid.num_cells, dtype=bool)
        self.refused = 0
        self.ticks = 0
        self._log = log
        self._no_loss = np.zeros(n, dtype=bool)
        self._idle = np.zeros(n, dtype=bool)
        self._next = np.empty(n, dtype=np.int32)
        self._claim = np.full(grid.num_cells, -1, dtype=np.int32)
        self._here = np.full(grid.num_cells, -1, dtype=np.int32)

    def execute(self, commanded: np.ndarray, lost: np.ndarray | None = None) -> np.ndarray:
        """One tick: the actual positions afterwards (a copy). ``commanded`` (N,) integer cells; ``lost`` (N,)
        bool: orders that never arrived (those devices stay)."""
        wanted = np.asarray(commanded)
        if wanted.shape != self.positions.shape or wanted.dtype.kind not in "iu":
            raise DeviceError(f"commanded must be an integer array of shape {self.positions.shape}, got "
                              f"{wanted.dtype} {wanted.shape}")
        missing = self._no_loss if lost is None else np.asarray(lost)
        if missing.shape != self.positions.shape or missing.dtype != np.bool_:
            raise DeviceError(f"lost must be a bool array of shape {self.positions.shape}, got "
                              f"{missing.dtype} {missing.shape}")
        self.refused += _execute(self.grid.successors, self.blocked, self.broken, missing, self.positions, wanted,
                                 self._next, self._claim, self._here)
        self.ticks += 1
        if self._log is not None:
            np.logical_or(self.waiting, self.broken, out=self._idle)
            self._log.record(self.positions, self.goals, self._idle)
        return self.positions.copy()

    def block_cell(self, cell: int, blocked: bool) -> None:
        """An obstacle appears on (or leaves) ``cell``; an IGV already on it may still drive off."""
        if not 0 <= int(cell) < self.grid.num_cells:
            raise DeviceError(f"cell {cell} is outside 0..{self.grid.num_cells - 1}")
        self.blocked[int(cell)] = blocked


@njit(cache=True, nogil=True)
def _execute(successors: np.ndarray, blocked: np.ndarray, broken: np.ndarray, lost: np.ndarray,
             positions: np.ndarray, commanded: np.ndarray, nxt: np.ndarray, claim: np.ndarray,
             here: np.ndarray) -> int:  # pragma: no cover - compiled
    """Move ``positions`` in place; returns the commanded moves refused (of devices that got their order and
    work). ``claim`` and ``here`` are (C,) scratch arrays, all -1 on entry and on return."""
    n = positions.size
    cells = successors.shape[0]
    for i in range(n):             # the commanded cell if the map allows the move (inline: a call costs more)
        source = positions[i]
        here[source] = i
        nxt[i] = source
        target = commanded[i]
        if broken[i] or lost[i] or target == source or target < 0 or target >= cells or blocked[target]:
            continue
        for k in range(1, successors.shape[1]):
            if successors[source, k] == target:
                nxt[i] = target
                break
    changed = True
    while changed:
        changed = _settle_cells(positions, nxt, claim)
        changed = _settle_swaps(positions, nxt, here) or changed
    refused = 0
    for i in range(n):
        if not (broken[i] or lost[i]) and commanded[i] != positions[i] and nxt[i] == positions[i]:
            refused += 1
        here[positions[i]] = -1
        positions[i] = nxt[i]
    return refused


@njit(cache=True, nogil=True, inline="always")
def _settle_cells(positions: np.ndarray, nxt: np.ndarray, claim: np.ndarray) -> bool:  # pragma: no cover
    """Stayers claim their cells first, then movers in index order; a mover into a claimed cell stays. True if
    any mover was stopped (its cell is then claimed on the next pass)."""
    n = positions.size
    changed = False
    for i in range(n):
        if nxt[i] == positions[i]:
            claim[nxt[i]] = i
    for i in range(n):
        target = nxt[i]
        if target != positions[i]:
            if claim[target] >= 0:
                nxt[i] = positions[i]
                changed = True
            else:
                claim[target] = i
    for i in range(n):        # every claimed cell is some agent's position or its target before this pass
        claim[positions[i]] = -1
    for i in range(n):
        claim[nxt[i]] = -1
    return changed


@njit(cache=True, nogil=True, inline="always")
def _settle_swaps(positions: np.ndarray, nxt: np.ndarray, here: np.ndarray) -> bool:  # pragma: no cover
    """Two IGVs trading cells both stay. True if any did."""
    changed = False
    for i in range(positions.size):
        target = nxt[i]
        if target != positions[i]:
            j = here[target]
            if j >= 0 and nxt[j] == positions[i]:
                nxt[i] = positions[i]
                nxt[j] = positions[j]
                changed = True
    return changed

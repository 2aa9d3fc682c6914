"""The IGV fleet on one grid: who does which task, where idle IGVs wait, batteries, and one planner step per tick.

Each IGV has a mode (an int8 code internally, its name in `Fleet.modes`), a *target* (the cell its mode is about:
pickup, drop, parking or charging spot; -1 when idle) and a *goal* handed to the lifelong planner. The goal is the
target, except while an assigned IGV waits to depart (it would arrive long before the crane is ready, so it stays
where it is or at its parking spot until ``ready_s`` minus its travel time), while it is held (the planner keeps it
on its cell), and while its target is a blocked cell (it waits where it is). Arrival is reported once per target.

Assignment (`Fleet.dispatch`) is a min-cost matching on travel ticks (`DistanceTable` rows to each distinct pickup,
cached), with tasks whose crane is ready earliest preferred when there are more tasks than IGVs, and pairs an IGV's
battery cannot cover (drive to the pickup, then to the nearest charger) forbidden. IGVs still driving empty to a
pickup are put back into the problem at most every ``reassign_every_ticks`` (when some IGV is free), so a closer
IGV that has just become free can take over; the current holder gets a small bonus so that equal choices do not
swap back and forth.

`Fleet.step` is one planner step and one compiled loop over all IGVs (battery, charging, arrivals, utilisation);
Python runs only for the few IGVs whose state changes in a tick. `Fleet.dispatch` solves only when a task waits
and something changed (a task came, an IGV became free or was released from a hold), or a re-solve is due.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from control.fleet.assignment import INFEASIBLE, assign
from control.fleet.config import FleetConfig
from control.fleet.kernels import tick_update
from control.fleet.spots import SpotError, Spots
from control.fleet.tasks import Task
from control.planning.blocked import blocked_grid
from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap
from control.planning.lifelong import LifelongPlanner
from control.planning.result import InstanceError

__all__ = ["MODE_NAMES", "Fleet", "FleetError", "IGVMode"]

log = logging.getLogger(__name__)

IGVMode = Literal["idle", "to_pickup", "busy", "to_drop", "charging", "parking", "broken"]
MODE_NAMES: tuple[IGVMode, ...] = ("idle", "to_pickup", "busy", "to_drop", "charging", "parking", "broken")
IDLE, TO_PICKUP, BUSY, TO_DROP, CHARGING, PARKING, BROKEN = range(len(MODE_NAMES))
_MODE_CODE = {name: code for code, name in enumerate(MODE_NAMES)}
_WORKING = np.array([code not in (IDLE, PARKING, CHARGING) for code in range(len(MODE_NAMES))])

_KEEP_BONUS_TICKS = 10.0      # a re-solve moves a task only to an IGV at least this much closer
_ARRIVE_EARLY_S = 10.0        # an IGV that must wait for its crane aims to arrive this long before ready_s
_TRAVEL_SLACK = 1.1           # traffic: plan the departure for 10 % more ticks than the free-road distance
_OFFSET_CAP_TICKS = 1e6       # bound on the readiness term of a cost, far below INFEASIBLE
_STEP_ROWS_KEPT = 256         # distinct pickup cells whose distance rows dispatch keeps at hand


class FleetError(ValueError):
    """A request the fleet cannot carry out: unknown IGV or task, a repeated task id, a cell that is not on the
    map, blocking a cell an IGV stands on."""


class Fleet:
    """The IGVs on one grid: positions, modes, batteries, assignment and one lifelong-PIBT step per tick."""

    def __init__(self, grid: GridMap, config: FleetConfig, starts: np.ndarray, *,
                 parking: Sequence[int], charging: Sequence[int]) -> None:
        start_cells = np.asarray(starts)
        if start_cells.ndim != 1 or start_cells.size != config.igvs:
            raise FleetError(f"{config.igvs} IGVs need {config.igvs} start cells, got shape {start_cells.shape}")
        try:
            self._parking = Spots("parking", parking, grid)
            self._charging = Spots("charging", charging, grid)
        except SpotError as error:
            raise FleetError(str(error)) from error
        self.config = config
        self._base_grid = grid
        self.grid = grid
        self._blocked: set[int] = set()
        self._obstructing: set[int] = set()               # broken-down IGVs the others drive round
        self._table = DistanceTable(grid)
        try:
            self._planner = LifelongPlanner(grid, start_cells, start_cells, seed=config.seed,
                                            distances=self._table)
        except InstanceError as error:
            raise FleetError(str(error)) from error
        n = config.igvs
        self.positions: np.ndarray = self._planner.positions.copy()
        self.battery: np.ndarray = np.ones(n, dtype=np.float64)
        self._planned = self.positions.copy()
        self._before = self.positions.copy()
        self._mode = np.full(n, IDLE, dtype=np.int8)
        self._target = np.full(n, -1, dtype=np.int32)
        self._goal = self.positions.copy()                 # the planner's goal when not held or blocked
        self._reported = np.zeros(n, dtype=bool)
        self._depart = np.full(n, math.inf)
        self._next_depart = math.inf
        self._held = np.zeros(n, dtype=bool)
        self._dirty: set[int] = set()                      # IGVs whose goal the planner has not been told yet
        self._is_charger = np.zeros(grid.num_cells, dtype=bool)
        self._is_charger[self._charging.cells] = True
        self._to_charger = self._charger_steps()
        self._step_rows: dict[int, np.ndarray] = {}           # pickup cell -> steps to it (rows of _table)
        self._tasks: dict[str, Task] = {}
        self._pending: dict[str, Task] = {}
        self._task_of: list[str | None] = [None] * n
        self._owner: dict[str, int] = {}
        self._last_resolve_s = -math.inf
        self._arrived: np.ndarray = np.empty(0, dtype=np.int64)
        self._arrival_buffer = np.empty(n, dtype=np.int64)
        self._changed = True                               # something a waiting task could use: try to assign
        self._before_arrival: dict[int, tuple[int, int]] = {}     # igv -> (mode, target) at its last arrival
        self._busy_ticks = 0
        self._ticks = 0
        self._settle_at_start()

    # ---- views -------------------------------------------------------------------------------------------------

    @property
    def modes(self) -> list[IGVMode]:
        """Each IGV's mode by name."""
        return [MODE_NAMES[code] for code in self._mode.tolist()]

    def ids(self) -> list[str]:
        """"igv-01", "igv-02", ... (wider numbers for fleets of 100 or more)."""
        width = max(2, len(str(self.config.igvs)))
        return [f"igv-{i + 1:0{width}d}" for i in range(self.config.igvs)]

    def task_of(self, igv: int) -> str | None:
        return self._task_of[self._checked_igv(igv)]

    def busy_fraction(self) -> float:
        """IGV utilisation so far: ticks spent neither idle, parking nor charging, over all IGV ticks."""
        total = self._ticks * self.config.igvs
        return self._busy_ticks / total if total else 0.0

    def planned_next(self) -> np.ndarray:
        """(N,) int32 cells the last `step` chose: what the orders to the IGVs carry."""
        return self._planned.copy()

    def goals(self) -> np.ndarray:
        """(N,) int32 cells the planner is driving each IGV to now (its own cell when held or waiting)."""
        if self._dirty:
            self._flush_goals()
        return self._planner.goals.copy()

    def waiting(self) -> np.ndarray:
        """(N,) bool IGVs not trying to move on purpose: held, idle, or waiting to depart for a task."""
        waiting: np.ndarray = self._held | (self._mode == IDLE) | np.isfinite(self._depart)
        return waiting

    # ---- tasks -------------------------------------------------------------------------------------------------

    def submit(self, task: Task) -> None:
        """Queue a task for the next `dispatch`."""
        if not isinstance(task, Task) or not isinstance(task.task_id, str) or not task.task_id:
            raise FleetError(f"a task must be a Task with a non-empty task_id, got {task!r}")
        if task.task_id in self._tasks:
            raise FleetError(f"task {task.task_id!r} was submitted already")
        self._checked_cell(task.pickup, f"task {task.task_id!r} pickup")
        if not math.isfinite(task.ready_s):
            raise FleetError(f"task {task.task_id!r}: ready_s must be finite, got {task.ready_s!r}")
        self._tasks[task.task_id] = task
        self._pending[task.task_id] = task
        self._changed = True

    def cancel(self, task_id: str) -> None:
        """Forget a task; an IGV driving empty to it goes back to parking (one already loaded keeps its mode: the
        engine decides where it goes)."""
        if task_id not in self._tasks:
            raise FleetError(f"unknown task {task_id!r}")
        del self._tasks[task_id]
        self._pending.pop(task_id, None)
        igv = self._owner.pop(task_id, None)
        if igv is not None:
            self._task_of[igv] = None
            if self._mode[igv] == TO_PICKUP:
                self._settle(igv)

    def dispatch(self, t: float) -> list[tuple[str, int]]:
        """Assign pending tasks to free IGVs (and, every ``reassign_every_ticks``, re-solve the tasks whose IGV is
        still driving empty to the pickup); returns the new (task_id, igv) pairs. An IGV that loses its task in a
        re-solve goes back to parking; its task appears in the returned pairs under its new IGV."""
        resolve = t - self._last_resolve_s >= self.config.reassign_every_ticks * self.config.tick_s
        if resolve:
            self._last_resolve_s = t
            self._tidy()
        if not resolve and not (self._pending and self._changed):
            return []
        self._changed = False
        free = np.flatnonzero(~self._held & ((self._mode == IDLE) | (self._mode == PARKING)))
        again = np.empty(0, dtype=np.int64)
        if resolve and free.size:                 # a re-solve can only help when an IGV is free to take over
            again = np.array([i for i in np.flatnonzero(self._mode == TO_PICKUP).tolist()
                              if self._task_of[i] is not None], dtype=np.int64)
        tasks = list(self._pending.values()) + [self._tasks[str(self._task_of[i])] for i in again.tolist()]
        rows = np.concatenate([free, again]).astype(np.int64)
        if rows.size == 0 or not tasks:
            return []
        costs, travel = self._costs(rows, tasks, t)
        for k in range(again.size):           # the holder keeps its task unless another IGV is clearly closer
            r, c = free.size + k, len(self._pending) + k
            if costs[r, c] < INFEASIBLE:
                costs[r, c] -= _KEEP_BONUS_TICKS
        matched = {int(rows[r]): (tasks[c], int(travel[r, c])) for r, c in assign(costs)}
        return self._apply(matched, again, t)

    def _apply(self, matched: dict[int, tuple[Task, int]], again: np.ndarray, t: float) -> list[tuple[str, int]]:
        previous = {i: self._task_of[i] for i in again.tolist()}
        for i, task_id in previous.items():
            got = matched.get(i)
            if got is None or got[0].task_id != task_id:
                self._detach(i)
        new: list[tuple[str, int]] = []
        for i, (task, ticks) in matched.items():
            if previous.get(i) == task.task_id:
                self._retime(i, task, ticks, t)
                continue
            del self._pending[task.task_id]
            self._start(i, task, ticks, t)
            new.append((task.task_id, i))
        for i in previous:
            if self._task_of[i] is None:
                self._settle(i)
        return new

    def _costs(self, rows: np.ndarray, tasks: list[Task], t: float) -> tuple[np.ndarray, np.ndarray]:
        """(costs, travel ticks), both (rows, tasks): travel ticks plus the task's readiness term, INFEASIBLE for
        a held IGV, a pickup out of reach or blocked, or a battery that cannot do the trip and reach a charger."""
        cfg = self.config
        pickups = np.array([task.pickup for task in tasks], dtype=np.int64)
        ready = np.array([task.ready_s for task in tasks], dtype=np.float64)
        offsets = np.clip((ready - t) / cfg.tick_s, -_OFFSET_CAP_TICKS, _OFFSET_CAP_TICKS)
        unique, inverse = np.unique(pickups, return_inverse=True)
        where = self.positions[rows]
        by_pickup = np.stack([self._steps_to(p)[where] for p in unique.tolist()])     # (P, rows)
        travel = by_pickup[inverse].T.astype(np.int64)                                  # (rows, tasks)
        need = cfg.drain_per_tick * (travel + self._to_charger[pickups][None, :])
        ok = (travel >= 0) & ~self._held[rows][:, None] & (self.battery[rows][:, None] >= need)
        costs = np.where(ok, travel + offsets[None, :], INFEASIBLE)
        return costs, travel

    def _steps_to(self, cell: int) -> np.ndarray:
        """(C,) steps to ``cell`` from every cell; all -1 (out of reach) while ``cell`` is blocked."""
        row = self._step_rows.get(cell)
        if row is None:
            if self.grid.passable.ravel()[cell]:
                row = self._table.to_goal(cell)
            else:
                row = np.full(self.grid.num_cells, -1, dtype=np.int32)
            if len(self._step_rows) >= _STEP_ROWS_KEPT:
                self._step_rows.clear()
            self._step_rows[cell] = row
        return row

    def _start(self, igv: int, task: Task, ticks: int, t: float) -> None:
        self._task_of[igv] = task.task_id
        self._owner[task.task_id] = igv
        self._mode[igv] = TO_PICKUP
        self._target[igv] = task.pickup
        self._reported[igv] = False
        self._retime(igv, task, ticks, t, fresh=True)

    def _retime(self, igv: int, task: Task, ticks: int, t: float, *, fresh: bool = False) -> None:
        """Depart now, or wait (where it is, or at its parking spot) so as to arrive just before ``ready_s``."""
        if not fresh and not math.isfinite(self._depart[igv]):
            return                                            # already on its way
        depart = task.ready_s - ticks * self.config.tick_s * _TRAVEL_SLACK - _ARRIVE_EARLY_S
        if depart <= t:
            self._go(igv, task.pickup)
            return
        self._set_depart(igv, depart)
        if fresh and not (self._parking.holds(igv) or self._charging.holds(igv)):
            self._set_goal(igv, int(self.positions[igv]))        # wait where it is

    def _detach(self, igv: int) -> None:
        """Take the task away from ``igv`` (back to pending until matched again)."""
        task_id = self._task_of[igv]
        if task_id is None:
            return
        self._task_of[igv] = None
        del self._owner[task_id]
        self._pending[task_id] = self._tasks[task_id]
        self._set_depart(igv, math.inf)
        self._mode[igv] = IDLE

    # ---- the engine's legs -------------------------------------------------------------------------------------

    def send(self, igv: int, cell: int, mode: IGVMode) -> None:
        """Drive ``igv`` to ``cell`` in ``mode`` (the engine's drop legs). A held IGV leaves when released."""
        i = self._checked_igv(igv)
        target = self._checked_cell(cell, "send cell")
        if mode not in _MODE_CODE:
            raise FleetError(f"unknown IGV mode {mode!r}; expected one of {', '.join(MODE_NAMES)}")
        self._mode[i] = _MODE_CODE[mode]
        self._go(i, target)
        if not self._charging.claim_cell(i, target):
            self._parking.claim_cell(i, target)

    def hold(self, igv: int, held: bool) -> None:
        """Keep ``igv`` still (under a crane, broken down) or let it go again; the planner never moves a held IGV
        and nobody pushes it. Its mode and task are unchanged, except that a held IGV still driving to a pickup
        loses its task at the next re-solve while some IGV is free (to that IGV, or back to the queue) and goes
        back to parking."""
        i = self._checked_igv(igv)
        self._planner.set_held(np.array([i]), bool(held))
        self._held[i] = bool(held)
        self._changed = True

    def release(self, igv: int) -> None:
        """Job done: the IGV forgets its task and goes to a charger when its battery is low, else to parking
        (idle where it is when no spot is free)."""
        i = self._checked_igv(igv)
        task_id = self._task_of[i]
        if task_id is not None:
            self._task_of[i] = None
            self._owner.pop(task_id, None)
            self._tasks.pop(task_id, None)
        self._settle(i)

    # ---- ticks -------------------------------------------------------------------------------------------------

    def step(self, t: float) -> np.ndarray:
        """One tick at simulated time ``t``: departures that are due, one planner step, batteries, arrivals.
        Returns the IGVs (int64, ascending) that reached their target this tick (each target reported once)."""
        if t >= self._next_depart:
            self._depart_due(t)
        if self._dirty:
            self._flush_goals()
        before = self.positions
        after = self._planner.step()
        cfg = self.config
        count, busy, topped_up = tick_update(before, after, self._mode, CHARGING, self._target, self._reported,
                                             self.battery, self._is_charger, cfg.drain_per_tick,
                                             cfg.charge_per_tick, cfg.full_battery, _WORKING, self._arrival_buffer)
        self._before, self._planned, self.positions = before, after, after
        arrived = self._arrival_buffer[:count].copy()
        self._arrived = arrived
        if count:
            self._on_arrival(arrived)
        if topped_up:
            full = (self._mode == CHARGING) & self._is_charger[after] & (self.battery >= cfg.full_battery)
            for i in np.flatnonzero(full).tolist():
                self._settle(i)
        self._busy_ticks += busy
        self._ticks += 1
        return arrived

    def sync(self, actual: np.ndarray) -> None:
        """Continue from where the IGVs really are (a refused move, a lost order, a breakdown): the planner
        restarts from ``actual``; a move that did not happen costs no battery, and an arrival reported by the last
        `step` that did not happen is reported again when it does (its mode goes back from busy). So call it before
        acting on `step`'s arrivals: an IGV the engine has already sent on or held keeps what the engine gave it."""
        cells = np.asarray(actual)
        if cells.shape == self.positions.shape and np.array_equal(cells, self.positions):
            return
        try:
            self._planner.reset_positions(cells)
        except InstanceError as error:
            raise FleetError(str(error)) from error
        now = self._planner.positions.copy()
        refund = (now == self._before) & (self._planned != self._before)
        np.add(self.battery, self.config.drain_per_tick, out=self.battery, where=refund)
        np.clip(self.battery, 0.0, 1.0, out=self.battery)
        for i in self._arrived.tolist():
            mode, target = self._before_arrival.get(i, (int(self._mode[i]), int(self._target[i])))
            if now[i] != target and self._target[i] == target:     # the engine has not moved it on meanwhile
                self._reported[i] = False
                if self._mode[i] == BUSY:
                    self._mode[i] = mode
        self.positions = now

    def obstruct(self, igv: int, obstructing: bool) -> None:
        """A held IGV (broken down, or one that others wait behind) becomes an obstacle (``obstructing``) or no
        longer: the IGVs told to `detour` plan their way round its cell instead of waiting behind it. Hold it too
        (`hold`), so that the planner never moves it."""
        i = self._checked_igv(igv)
        if obstructing:
            self._obstructing.add(i)
        else:
            self._obstructing.discard(i)
        self._planner.set_obstacles(self._obstacle_cells())
        self._changed = True

    def detour(self, igvs: list[int]) -> None:
        """These IGVs drive round the obstacles (`obstruct`) until their next new goal; the others keep waiting
        behind a held IGV in their way, which costs them nothing when it is let go soon."""
        self._planner.set_detour(self._current_goals_of(igvs), True)
        self._changed = True

    def hurry(self, igvs: list[int]) -> None:
        """These IGVs move before the other free ones until they reach their targets (`LifelongPlanner.boost`)."""
        self._planner.boost(self._current_goals_of(igvs))

    def _current_goals_of(self, igvs: list[int]) -> np.ndarray:
        """The IGVs' indices, after the planner has the goals just sent (a detour or a hurry is for those)."""
        ids = np.asarray([self._checked_igv(i) for i in igvs], dtype=np.int64)
        if self._dirty:
            self._flush_goals()
        return ids

    def _obstacle_cells(self) -> frozenset[int]:
        return frozenset(int(self.positions[i]) for i in self._obstructing)

    def block_cell(self, cell: int, blocked: bool) -> None:
        """A blocked-cell fault (``blocked``) or its end: the map is rebuilt without (with) the cell and the planner
        continues from the current positions. IGVs whose target is blocked wait where they are meanwhile."""
        c = int(cell)
        if not (0 <= c < self._base_grid.num_cells and self._base_grid.passable.ravel()[c]):
            raise FleetError(f"cell {cell!r} is not a passable cell of {self._base_grid.name}")
        if blocked == (c in self._blocked):
            return
        if blocked:
            on = np.flatnonzero(self.positions == c)
            if on.size:
                raise FleetError(f"cannot block cell {c}: {self.ids()[int(on[0])]} stands on it")
            self._blocked.add(c)
        else:
            self._blocked.discard(c)
        self._rebuild()

    # ---- internals ---------------------------------------------------------------------------------------------

    def _on_arrival(self, arrived: np.ndarray) -> None:
        self._reported[arrived] = True
        self._before_arrival = {}
        for i in arrived.tolist():
            mode = int(self._mode[i])
            self._before_arrival[i] = (mode, int(self._target[i]))
            if mode in (TO_PICKUP, TO_DROP):
                self._mode[i] = BUSY

    def _depart_due(self, t: float) -> None:
        for i in np.flatnonzero(self._depart <= t).tolist():
            self._go(i, int(self._target[i]))

    def _go(self, igv: int, cell: int) -> None:
        """Head for ``cell`` now, giving back any spot held."""
        self._parking.free(igv)
        self._charging.free(igv)
        self._set_depart(igv, math.inf)
        self._target[igv] = cell
        self._reported[igv] = False
        self._set_goal(igv, cell)

    def _settle(self, igv: int) -> None:
        """No task: a charger when the battery is low, else a parking spot, else idle where it stands."""
        self._changed = True
        self._parking.free(igv)
        self._charging.free(igv)
        self._set_depart(igv, math.inf)
        position = int(self.positions[igv])
        passable = self.grid.passable.ravel()
        mode, spot = CHARGING, None
        if self.battery[igv] < self.config.low_battery:
            spot = self._charging.claim_nearest(igv, position, self._table, passable)
        if spot is None:
            mode, spot = PARKING, self._parking.claim_nearest(igv, position, self._table, passable)
        if spot is None:
            self._mode[igv] = IDLE
            self._target[igv] = -1
            self._set_goal(igv, position)
            return
        self._mode[igv] = mode
        self._target[igv] = spot
        self._reported[igv] = False
        self._set_goal(igv, spot)

    def _settle_at_start(self) -> None:
        """IGVs starting on a spot keep it (no arrival reported); the others get the nearest free one."""
        for i, cell in enumerate(self.positions.tolist()):
            for spots, mode in ((self._charging, CHARGING), (self._parking, PARKING)):
                if spots.claim_cell(i, cell):
                    self._mode[i], self._target[i], self._reported[i] = mode, cell, True
                    break
        for i in np.flatnonzero(self._target < 0).tolist():
            self._settle(i)

    def _tidy(self) -> None:
        """Every re-solve: idle IGVs take spots that have become free, low batteries go to free chargers."""
        passable = self.grid.passable.ravel()
        free = ~self._held & np.array([task is None for task in self._task_of], dtype=bool)
        if self._parking.has_free(passable):
            for i in np.flatnonzero(free & (self._mode == IDLE)).tolist():
                self._settle(i)
        if self._charging.has_free(passable):
            low = free & ((self._mode == IDLE) | (self._mode == PARKING)) & (self.battery < self.config.low_battery)
            for i in np.flatnonzero(low).tolist():
                self._settle(i)

    def _set_goal(self, igv: int, cell: int) -> None:
        self._goal[igv] = cell
        self._dirty.add(igv)

    def _set_depart(self, igv: int, when: float) -> None:
        was = self._depart[igv]
        if when == was:
            return
        self._depart[igv] = when
        if when < self._next_depart:
            self._next_depart = when
        elif was == self._next_depart:
            self._next_depart = float(self._depart.min()) if self._depart.size else math.inf

    def _flush_goals(self) -> None:
        """Tell the planner the goals changed since the last step; a blocked goal means: wait where you are."""
        ids = np.fromiter(self._dirty, dtype=np.int64, count=len(self._dirty))
        self._dirty.clear()
        goals = self._goal[ids]
        goals = np.where(self.grid.passable.ravel()[goals], goals, self.positions[ids])
        self._planner.assign(ids, goals)

    def _rebuild(self) -> None:
        """A new map and planner for the current blocked cells, continuing from the current positions."""
        detouring = np.flatnonzero(self._planner.detouring)
        self.grid = blocked_grid(self._base_grid, self._blocked)
        self._table = DistanceTable(self.grid)
        goals = np.where(self.grid.passable.ravel()[self._goal], self._goal, self.positions)
        self._planner = LifelongPlanner(self.grid, self.positions, goals, seed=self.config.seed,
                                        distances=self._table)
        held = np.flatnonzero(self._held)
        if held.size:
            self._planner.set_held(held, True)
        self._planner.set_obstacles(self._obstacle_cells())
        self._planner.set_detour(detouring, True)
        self._dirty.clear()
        self._to_charger = self._charger_steps()
        self._step_rows = {}
        self._changed = True
        log.info("fleet map rebuilt: %d cells blocked", len(self._blocked))

    def _charger_steps(self) -> np.ndarray:
        """(C,) int64 steps from each cell to its nearest reachable charger (0 where none can be reached)."""
        nearest = np.full(self.grid.num_cells, np.iinfo(np.int64).max, dtype=np.int64)
        passable = self.grid.passable.ravel()
        for cell in self._charging.cells.tolist():
            if passable[cell]:
                row = self._table.to_goal(cell).astype(np.int64)
                np.minimum(nearest, np.where(row >= 0, row, nearest), out=nearest)
        out: np.ndarray = np.where(nearest == np.iinfo(np.int64).max, 0, nearest)
        return out

    def _checked_igv(self, igv: int) -> int:
        if isinstance(igv, bool) or not isinstance(igv, int | np.integer) or not 0 <= igv < self.config.igvs:
            raise FleetError(f"IGV index must be an integer in 0..{self.config.igvs - 1}, got {igv!r}")
        return int(igv)

    def _checked_cell(self, cell: int, what: str) -> int:
        if isinstance(cell, bool) or not isinstance(cell, int | np.integer) \
                or not 0 <= cell < self._base_grid.num_cells or not self._base_grid.passable.ravel()[int(cell)]:
            raise FleetError(f"{what} {cell!r} is not a passable cell of {self._base_grid.name}")
        return int(cell)

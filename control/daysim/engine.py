"""`run_day`: a simulated day of the gate and the transfer yard, faster than real time.

Trucks arrive (daily peaks), queue at gate-in, are read and cleared (the gate process's times), drive to a transfer
bay and wait under its crane. Each container is a job. An export is lifted onto an IGV (or a stand, when no IGV is
there yet, so the truck can leave), driven 3.6 km along the border corridor to a Chinese transfer point and handed
over; the IGV then brings back an import if one is due, else returns to park or charge. Imports are called from
China so that they reach their bay about when their truck does. Trucks leave through gate-out.

Cranes and trucks are events; IGVs move on the planners' grid one cell per tick (`TICK_S`): the fleet plans one
conflict-free step (lifelong PIBT), the field devices execute it (refusing unsafe moves, obeying faults), the fleet
continues from where the devices really are, and the executed trajectories are checked for collisions and stalls.
When no IGV has anywhere to go, time jumps to the next event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bus.journal import Journal
from control.cranes import CraneBank
from control.daysim.arrivals import TruckArrival, truck_arrivals
from control.daysim.bays import EXPORT_STANDS, IMPORT_STANDS, Bay
from control.daysim.events import Event, EventQueue
from control.daysim.gate_times import MANUAL, SMARTGATE, GateProcess
from control.daysim.igv_calls import IGVCalls
from control.daysim.report import SimReport, time_quantiles
from control.daysim.site_model import MAX_CHINA_POINTS, MAX_CRANES, MAX_STANDS, SimSite, build_sim_site
from control.daysim.stats import DayStats
from control.daysim.stuck_watch import StuckWatch
from control.daysim.truck_flow import TruckFlow
from control.fieldsim import Fault, IGVDevices, LossyLink, TrajectoryLog, fault_plan
from control.fleet.config import FleetConfig
from control.fleet.fleet import Fleet
from control.jobs import JobBook, JournalJobSink

__all__ = ["PROCESSES", "SimConfig", "run_day"]

PROCESSES: dict[str, GateProcess] = {"smartgate": SMARTGATE, "manual": MANUAL}
DRAIN_PER_TICK = 1.5e-5  # battery per moving tick: about 7.4 h of driving on a charge (electric IGV, 18 km/h)
STANDS_PER_BAY = 6       # each bay's buffer: container stands under its crane
IDLE_JUMP_S = 10.0      # longest jump while every IGV waits: departures timed for a crane window are checked this often


@dataclass(frozen=True)
class SimConfig:
    """One simulated run. ``arrivals`` replaces the random trucks (the demo's cleared containers)."""

    trucks_per_day: float
    hours: float = 24.0
    igvs: int = 50
    cranes: int = 3
    china_points: int = 6             # transfer points (cranes) at the Chinese end of the corridor
    stands_per_bay: int = STANDS_PER_BAY  # container stands under each crane: the buffer that rations imports
    seed: int = 0
    process: str = "smartgate"
    faults: bool = False
    journal: Path | None = None
    arrivals: tuple[TruckArrival, ...] | None = None
    drain_hours: float = 2.0          # after the last arrival, how long open jobs may take to finish
    china_handling_s: float = 90.0    # the Chinese yard's crane: an IGV unloaded or loaded
    import_lead_s: float = 7200.0     # an import's declaration (its job) comes this long before its truck
    import_margin_s: float = 300.0    # an import is called from China to reach its bay this long before the truck

    def __post_init__(self) -> None:
        if not (0 < self.trucks_per_day <= 100_000 and 0 < self.hours <= 24 * 14):
            raise ValueError("trucks_per_day must be in (0, 100000] and hours in (0, 336]")
        if not (1 <= self.igvs <= 1000 and 1 <= self.cranes <= MAX_CRANES):
            raise ValueError(f"igvs must be in 1..1000 and cranes in 1..{MAX_CRANES}")
        if not 1 <= self.china_points <= MAX_CHINA_POINTS:
            raise ValueError(f"china_points must be in 1..{MAX_CHINA_POINTS}")
        if not EXPORT_STANDS + IMPORT_STANDS <= self.stands_per_bay <= MAX_STANDS:
            raise ValueError(f"stands_per_bay must be in {EXPORT_STANDS + IMPORT_STANDS}..{MAX_STANDS}")
        if self.process not in PROCESSES:
            raise ValueError(f"process must be one of {sorted(PROCESSES)}, got {self.process!r}")


def run_day(config: SimConfig) -> SimReport:
    """Simulate ``config.hours`` of arrivals and drain what is left; the report counts what finished in the window
    and checks that every job ended exactly once."""
    started = time.monotonic()
    journal = Journal.open(config.journal) if config.journal is not None else None
    try:
        simulation = DaySimulation(config, journal)
        report = simulation.run()
    finally:
        if journal is not None:
            journal.close()
    report.wall_s = time.monotonic() - started
    return report


@dataclass
class _Faults:
    """Faults in force: lost-order rate and which devices are out, with the plan still to come."""

    plan: list[Fault]
    lost_rates: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def lost_rate(self) -> float:
        return max(self.lost_rates, default=0.0)


class DaySimulation:
    """The whole yard for one run; `run` returns the report."""

    def __init__(self, config: SimConfig, journal: Journal | None = None) -> None:
        self.config = config
        self.site: SimSite = build_sim_site(config.cranes, china_points=config.china_points,
                                            parking=max(60, config.igvs), stands_per_bay=config.stands_per_bay)
        self.process = PROCESSES[config.process]
        self.events = EventQueue()
        self.book = JobBook(JournalJobSink(journal) if journal is not None else None)
        self.cranes = CraneBank(self.site.crane_specs)
        self.bays = {spec.bay_id: Bay(bay_id=spec.bay_id, crane_id=spec.crane_id,
                                      transfer_cell=self.site.transfer_cell[spec.bay_id],
                                      staging_cells=self.site.staging_cells[spec.bay_id],
                                      stands=[None] * self.site.stands_per_bay)
                     for spec in self.site.crane_specs}
        starts = np.asarray(self.site.parking[:config.igvs], dtype=np.int32)
        self.tick_s = FleetConfig(igvs=config.igvs).tick_s
        fleet_config = FleetConfig(igvs=config.igvs, seed=config.seed, drain_per_tick=DRAIN_PER_TICK)
        self.fleet = Fleet(self.site.grid, fleet_config, starts, parking=self.site.parking,
                           charging=self.site.charging)
        self.log = TrajectoryLog(self.site.grid, starts, tick_s=self.tick_s)
        self.devices = IGVDevices(self.site.grid, starts, self.log)
        self.stuck = StuckWatch(self.fleet)
        self._last_positions = starts.copy()
        self.link = LossyLink(config.seed)
        self.stats = DayStats(hours=config.hours)
        self.calls = IGVCalls(self)
        self.trucks = TruckFlow(self)
        arrivals = config.arrivals if config.arrivals is not None else tuple(
            truck_arrivals(config.trucks_per_day, config.hours, config.seed))
        self.trucks.schedule(arrivals)
        self.faults = _Faults(plan=self._fault_plan() if config.faults else [])
        for index, fault in enumerate(self.faults.plan):
            self.events.push(Event(fault.at_s, "fault_start", str(index)))
        self.now = 0.0
        self.unfinished = 0

    # --- the loop -------------------------------------------------------------------------------------------
    def run(self) -> SimReport:
        horizon = self.config.hours * 3600.0
        limit = horizon + self.config.drain_hours * 3600.0
        t = 0.0
        moved = False
        while t < limit:
            self._run_events(t)
            if t >= horizon and self._all_done():
                break
            self.calls.dispatch(t)
            if not moved and self._igvs_waiting():
                nxt = self.events.next_time()
                jump = t + IDLE_JUMP_S if nxt is None else min(nxt, t + IDLE_JUMP_S)
                t = max(t + self.tick_s, self.tick_s * np.ceil(jump / self.tick_s))
                continue
            moved = self._tick(t)
            t += self.tick_s
        self.now = t
        self.log.close()
        self.unfinished = self._cancel_open(t)
        self.book.flush()
        return self._report(min(t, horizon))

    def _cancel_open(self, t: float) -> int:
        """Jobs still open when the run stops end here, as cancelled: every job ends exactly once."""
        open_jobs = self.book.open_jobs()
        for job in open_jobs:
            self.book.advance(job.job_id, "cancelled", t, detail="simulation ended")
        return len(open_jobs)

    def _run_events(self, t: float) -> None:
        self.now = t
        for _ in range(1000):          # handlers may schedule more events at the same time
            due = self.events.due(t)
            if not due:
                return
            for event in due:
                self._handle(event, t)

    def _handle(self, event: Event, t: float) -> None:
        if event.kind == "fault_start":
            self._fault_start(event, t)
        elif event.kind == "fault_end":
            self._fault_end(event, t)
        elif event.kind == "crane_done":
            self.calls.crane_done(event, t)
        elif event.kind in ("china_unloaded", "china_loaded"):
            self.calls.china_done(event, t)
        else:
            self.trucks.handle(event, t)

    def _tick(self, t: float) -> bool:
        """One IGV step: plan, execute on the devices, continue from what they did; True if any IGV moved."""
        before = self._last_positions
        arrived = self.fleet.step(t)
        planned = self.fleet.planned_next()
        lost = self.link.lost(planned.size, self.faults.lost_rate) if self.faults.lost_rate > 0 else None
        goals = self.fleet.goals()
        self.devices.goals[:] = goals
        self.devices.waiting[:] = self.fleet.waiting()
        if self.devices.broken.any():      # a goal a broken-down IGV stands on: waiting for the tow is on purpose
            self.devices.waiting |= np.isin(goals, self.devices.positions[self.devices.broken])
        actual = self.devices.execute(planned, lost)
        if (actual != planned).any():
            self.fleet.sync(actual)
            arrived = arrived[actual[arrived] == planned[arrived]]
        for igv in arrived.tolist():
            self.calls.arrived(int(igv), t)
        self.stuck.tick(self.calls.held)
        self._last_positions = actual
        return bool((actual != before).any())

    def _igvs_waiting(self) -> bool:
        """True when no IGV has a goal it is not on: nothing would move this tick."""
        return bool(np.array_equal(self.fleet.positions, self.fleet.goals()))

    def _all_done(self) -> bool:
        return self.trucks.in_yard == 0 and self.calls.jobs_created == self.book.ended

    # --- faults ---------------------------------------------------------------------------------------------
    def _fault_plan(self) -> list[Fault]:
        named = set(self.site.grid.names.values())
        free = [int(c) for c in self.site.grid.free_cells[::97] if int(c) not in named]
        return fault_plan(self.config.seed, self.config.hours * 3600.0, igvs=self.fleet.ids(),
                          cranes=[spec.crane_id for spec in self.site.crane_specs], cells=free)

    def _fault_start(self, event: Event, t: float) -> None:
        fault = self.faults.plan[int(event.key)]
        self.faults.counts[fault.kind] = self.faults.counts.get(fault.kind, 0) + 1
        if fault.kind == "lost_messages":
            self.faults.lost_rates.append(fault.rate)
        elif fault.kind == "igv_breakdown":
            igv = self.fleet.ids().index(fault.target)
            self.devices.broken[igv] = True
            self.calls.hold(igv, "broken")
            self.fleet.obstruct(igv, True)
            self.fleet.detour([i for i in range(len(self.fleet.ids())) if i != igv])   # nobody waits for the tow
        elif fault.kind == "crane_stop":
            self.calls.crane_fault(fault.target, t)
        elif fault.kind == "blocked_cell":
            cell = int(fault.target.split(":", 1)[1])
            if np.any(self.fleet.positions == cell):
                self.faults.counts[fault.kind] -= 1
                self.events.push(Event(t + self.tick_s, "fault_start", event.key))
                return                      # an IGV stands there: the obstacle lands when it has left
            self.fleet.block_cell(cell, True)
            self.devices.block_cell(cell, True)
        self.events.push(Event(t + fault.duration_s, "fault_end", event.key))

    def _fault_end(self, event: Event, t: float) -> None:
        fault = self.faults.plan[int(event.key)]
        if fault.kind == "lost_messages":
            self.faults.lost_rates.remove(fault.rate)
        elif fault.kind == "igv_breakdown":
            igv = self.fleet.ids().index(fault.target)
            self.devices.broken[igv] = False
            self.fleet.obstruct(igv, False)
            self.calls.unhold(igv, "broken")
        elif fault.kind == "crane_stop":
            self.cranes.repair(fault.target, t)
            self.calls.crane_repaired(fault.target, t)
        elif fault.kind == "blocked_cell":
            cell = int(fault.target.split(":", 1)[1])
            self.fleet.block_cell(cell, False)
            self.devices.block_cell(cell, False)

    # --- the report -----------------------------------------------------------------------------------------
    def _report(self, window_end_s: float) -> SimReport:
        busy = self.cranes.busy_fraction(max(window_end_s, 1.0))
        return SimReport(
            trucks_arrived=self.trucks.arrived, trucks_completed=self.trucks.completed_in_window,
            containers_moved=self.calls.containers_moved,
            time_in_system_s=time_quantiles(self.trucks.times_in_system),
            max_queue=self.stats.max_queue, crane_utilisation=float(np.mean(list(busy.values()))) if busy else 0.0,
            igv_utilisation=self.fleet.busy_fraction(), collisions=self.log.collisions, deadlocks=self.log.deadlocks,
            wall_s=0.0, jobs_created=self.calls.jobs_created, jobs_ended=self.book.ended,
            jobs_open=self.calls.jobs_created - self.book.ended, jobs_unfinished=self.unfinished,
            faults=dict(self.faults.counts), hourly=self.stats.hourly(),
            config={"trucks_per_day": self.config.trucks_per_day, "hours": self.config.hours,
                    "igvs": self.config.igvs, "cranes": self.config.cranes,
                    "china_points": self.config.china_points,
                    "stands_per_bay": self.config.stands_per_bay, "seed": self.config.seed,
                    "process": self.config.process, "faults": self.config.faults,
                    "refused_moves": self.devices.refused, "illegal_moves": self.log.illegal_moves,
                    "unstuck": self.stuck.unstuck, "hurried": self.stuck.hurried})

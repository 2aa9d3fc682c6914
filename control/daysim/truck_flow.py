"""The truck side of the day simulation: gate-in, inspection, the drive to a bay, the bay's queue, gate-out.

Gate lanes are first-come first-served servers (the process's lanes and processing times). An export truck goes
to the open bay with the fewest trucks at or bound for it; an import truck goes where its containers were sent.
A crane stop sends the trucks not yet under that crane to other bays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from control.daysim.arrivals import TruckArrival
from control.daysim.bays import UNDER_CRANE, Bay, Cargo, TruckVisit
from control.daysim.events import Event
from control.daysim.gate_times import sample_s

if TYPE_CHECKING:
    from control.daysim.engine import DaySimulation

__all__ = ["TruckFlow"]

REDIRECT_S = 60.0    # driving from one bay's queue to another's


class TruckFlow:
    """Trucks of one simulation, their gate lanes and the counts the report needs."""

    def __init__(self, sim: DaySimulation) -> None:
        self.sim = sim
        self.rng = np.random.default_rng(sim.config.seed + 7919)
        self.plan: dict[str, TruckArrival] = {}
        self.visits: dict[str, TruckVisit] = {}
        self.holding: dict[str, TruckVisit] = {}      # import trucks waiting for their containers to land
        self.near: set[str] = set()                     # imports whose IGV has reached their bay
        self.gate_in = [0.0] * sim.process.lanes_in
        self.gate_out = [0.0] * sim.process.lanes_out
        self.bound_for = dict.fromkeys(sim.bays, 0)
        self.arrived = 0
        self.in_yard = 0
        self.completed_in_window = 0
        self.times_in_system: list[float] = []

    def schedule(self, arrivals: tuple[TruckArrival, ...]) -> None:
        for arrival in arrivals:
            self.plan[arrival.truck_id] = arrival
            self.sim.events.push(Event(arrival.t, "truck_arrive", arrival.truck_id))
            if arrival.kind == "import":
                due = max(0.0, arrival.t - self.sim.config.import_lead_s)
                self.sim.events.push(Event(due, "import_due", arrival.truck_id))
        for minute in range(0, int(self.sim.config.hours * 60), 5):
            self.sim.events.push(Event(minute * 60.0, "sample"))

    def handle(self, event: Event, t: float) -> None:
        handler = _HANDLERS.get(event.kind)
        if handler is None:
            raise RuntimeError(f"no handler for event {event.kind!r}")
        handler(self, event.key, t)

    # --- gate-in ----------------------------------------------------------------------------------------------
    def _arrive(self, truck_id: str, t: float) -> None:
        self.arrived += 1
        self.in_yard += 1
        self.sim.stats.arrival(t)
        self.sim.stats.queue_change(t, +1)
        start, done = _serve(self.gate_in, t, sample_s(self.rng, self.sim.process.gate_in_s))
        self.sim.events.push(Event(start, "gate_in_start", truck_id))
        self.sim.events.push(Event(done, "gate_in_done", truck_id))

    def _gate_in_start(self, truck_id: str, t: float) -> None:
        self.sim.stats.queue_change(t, -1)

    def _gate_in_done(self, truck_id: str, t: float) -> None:
        if self.plan[truck_id].red_channel:
            self.sim.events.push(Event(t + self.sim.process.inspection_s, "cleared", truck_id))
        else:
            self._cleared(truck_id, t)

    def _cleared(self, truck_id: str, t: float) -> None:
        arrival = self.plan[truck_id]
        if arrival.kind == "export":
            cargo = [Cargo(f"{truck_id}-{k + 1}", number) for k, number in enumerate(arrival.containers)]
            for item in cargo:
                self.sim.book.create(item.job_id, "export", item.container_number, t, truck_id=truck_id)
            self.sim.calls.jobs_created += len(cargo)
            bay_id = self._least_busy_bay()
        else:
            cargo = [Cargo(f"{truck_id}-{k + 1}", number) for k, number in enumerate(arrival.containers)]
            bay_id = self.sim.calls.job_bay.get(cargo[0].job_id) or self._least_busy_bay()
        visit = TruckVisit(truck_id=truck_id, kind=arrival.kind, arrived_s=arrival.t, cargo=cargo, bay_id=bay_id)
        self.visits[truck_id] = visit
        if arrival.kind == "import" and not self._containers_ready(visit):
            self.holding[truck_id] = visit
            for item in cargo:
                self.sim.calls.hurry_import(item.job_id, t)
            return
        self._to_bay(visit, t)

    def _to_bay(self, visit: TruckVisit, t: float) -> None:
        self.bound_for[visit.bay_id] += 1
        self.sim.events.push(Event(t + self.sim.process.to_bay_s, "at_bay", visit.truck_id))

    def _containers_ready(self, visit: TruckVisit) -> bool:
        """Every container of an import truck is at its bay: on a stand, or on an IGV that has arrived there."""
        book = self.sim.book
        return all(book.get(item.job_id).state == "on_stand" or item.job_id in self.near for item in visit.cargo)

    def import_near(self, job_id: str, t: float) -> None:
        """An IGV brought the import to its bay: its truck, if waiting in the holding area, drives in for it."""
        self.near.add(job_id)
        self.import_landed(job_id, t)

    def import_landed(self, job_id: str, t: float) -> None:
        """An import reached its bay: its truck, if waiting in the holding area and now complete, drives in."""
        truck_id = self.sim.book.get(job_id).truck_id or ""
        visit = self.holding.get(truck_id)
        if visit is not None and self._containers_ready(visit):
            del self.holding[truck_id]
            self._to_bay(visit, t)

    def _import_due(self, truck_id: str, t: float) -> None:
        """The import's declaration: its jobs exist from now, and the containers are called from China in time."""
        arrival = self.plan[truck_id]
        bay_id = self._least_busy_bay()
        for k, number in enumerate(arrival.containers):
            job_id = f"{truck_id}-{k + 1}"
            self.sim.book.create(job_id, "import", number, t, truck_id=truck_id, bay_id=bay_id)
            self.sim.calls.jobs_created += 1
            self.sim.calls.new_import(job_id, number, bay_id, arrival.t + self.sim.process.to_bay_s)

    def _import_call(self, call_id: str, t: float) -> None:
        self.sim.calls.offer_import(call_id, t)

    def waiting_trucks(self) -> int:
        """Trucks waiting now: for gate-in, for their import containers (holding area), for a crane lane."""
        at_bays = sum(max(0, bay.queued() - UNDER_CRANE) for bay in self.sim.bays.values())
        return self.sim.stats.queue_now + len(self.holding) + at_bays

    def _sample(self, _key: str, t: float) -> None:
        self.sim.stats.yard_queue_sample(t, self.waiting_trucks())
        cranes = self.sim.cranes
        crane_busy = (len(cranes.open_bays()) - len(cranes.idle())) / max(1, len(self.sim.bays))
        self.sim.stats.busy_sample(t, len(self.sim.calls.igv_call) / max(1, len(self.sim.calls.igv_ids)), crane_busy)

    # --- bays -------------------------------------------------------------------------------------------------
    def _least_busy_bay(self) -> str:
        """The open bay with the least work coming: trucks at or bound for it, and imports planned for it."""
        open_bays = self.sim.cranes.open_bays() or list(self.sim.bays)
        imports = self.sim.calls.imports_by_bay
        return min(open_bays, key=lambda b: self.sim.bays[b].queued() + self.bound_for[b] + imports.get(b, 0))

    def _at_bay(self, truck_id: str, t: float) -> None:
        visit = self.visits[truck_id]
        self.bound_for[visit.bay_id] -= 1
        bay = self.sim.bays[visit.bay_id]
        if visit.kind == "export" and self.sim.cranes.crane_of(bay.bay_id) is None and self.sim.cranes.open_bays():
            self._redirect(visit, t)
            return
        visit.at_bay_s = t
        bay.trucks.append(visit)
        self._fill_lanes(bay, t)

    def _redirect(self, visit: TruckVisit, t: float) -> None:
        visit.bay_id = self._least_busy_bay()
        self.bound_for[visit.bay_id] += 1
        self.sim.events.push(Event(t + REDIRECT_S, "at_bay", visit.truck_id))

    def _fill_lanes(self, bay: Bay, t: float) -> None:
        """Trucks that have reached one of the lanes under the crane: exports call their IGVs now."""
        for visit in list(bay.trucks)[:UNDER_CRANE]:
            if visit.under_crane:
                continue
            visit.under_crane = True
            if visit.kind == "export":
                for item in visit.cargo:
                    self.sim.book.advance(item.job_id, "at_bay", t, bay_id=bay.bay_id, crane_id=bay.crane_id)
                    self.sim.calls.call_export(bay, item.job_id, item.container_number, t)
        self.sim.calls.try_crane(bay, t)

    def left_bay(self, bay: Bay, visit: TruckVisit, t: float) -> None:
        bay.trucks.remove(visit)
        self.sim.events.push(Event(t + self.sim.process.to_gate_out_s, "gate_out_arrive", visit.truck_id))
        self._fill_lanes(bay, t)

    def crane_stopped(self, bay_id: str, t: float) -> None:
        """Exports not yet under the stopped crane go to other bays (imports wait: their containers are here)."""
        if not self.sim.cranes.open_bays():
            return
        bay = self.sim.bays[bay_id]
        for visit in list(bay.trucks)[UNDER_CRANE:]:
            if visit.kind == "export":
                bay.trucks.remove(visit)
                self._redirect(visit, t)

    # --- gate-out ---------------------------------------------------------------------------------------------
    def _gate_out_arrive(self, truck_id: str, t: float) -> None:
        _, done = _serve(self.gate_out, t, sample_s(self.rng, self.sim.process.gate_out_s))
        self.sim.events.push(Event(done, "gate_out_done", truck_id))

    def _gate_out_done(self, truck_id: str, t: float) -> None:
        visit = self.visits.pop(truck_id)
        self.in_yard -= 1
        self.times_in_system.append(t - visit.arrived_s)
        if t <= self.sim.config.hours * 3600.0:
            self.completed_in_window += 1
            self.sim.stats.completion(t)
        if visit.kind == "import":
            for item in visit.cargo:
                self.sim.book.advance(item.job_id, "done", t)
                self.sim.calls.import_done(item.job_id)
            self.sim.calls.containers_moved += len(visit.cargo)


def _serve(lanes: list[float], t: float, service_s: float) -> tuple[float, float]:
    """First-come first-served on the lane free soonest: (start, finish)."""
    lane = min(range(len(lanes)), key=lanes.__getitem__)
    start = max(t, lanes[lane])
    lanes[lane] = start + service_s
    return start, start + service_s


_HANDLERS = {
    "truck_arrive": TruckFlow._arrive,
    "gate_in_start": TruckFlow._gate_in_start,
    "gate_in_done": TruckFlow._gate_in_done,
    "cleared": TruckFlow._cleared,
    "import_due": TruckFlow._import_due,
    "import_call": TruckFlow._import_call,
    "sample": TruckFlow._sample,
    "at_bay": TruckFlow._at_bay,
    "gate_out_arrive": TruckFlow._gate_out_arrive,
    "gate_out_done": TruckFlow._gate_out_done,
}

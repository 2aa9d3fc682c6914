"""The IGV side of the day simulation: calls for IGVs, what an IGV does when it arrives, and the cranes' moves.

A *call* is one IGV trip the yard needs: fetch an export from a bay, carry it to China, fetch an import in China,
bring it to its bay. Calls are what the fleet assigns (its task ids); the job a call serves can change when the crane
hands the waiting IGV an older container from a stand instead of the one it came for (the two calls swap jobs).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bus.messages import JobKind
from control.cranes import CraneMove, IGVAtBay, StandLoad, choose_move
from control.daysim.bays import Bay
from control.daysim.events import Event
from control.fleet.tasks import Task

if TYPE_CHECKING:
    from control.daysim.engine import DaySimulation

__all__ = ["Call", "IGVCalls"]

CallKind = Literal["fetch_export", "deliver_export", "fetch_import", "deliver_import"]
BACKHAUL_TRIES = 16           # imports looked at before the IGV gives up and drives back empty (a bounded scan)
BACKHAUL_WINDOW_S = 3600.0    # an IGV in China takes an import due within this long instead of returning empty
NEAR_CELLS = 25              # an IGV this much farther from the crane than one already waiting gives way to it
LATE_S = 600.0                # an import no returning IGV took by this long after its time gets an IGV of its own
RETRY_S = 300.0               # an import with no stand free at its bay is offered again this much later


@dataclass(slots=True)
class Call:
    call_id: str
    kind: CallKind
    job_id: str
    container_number: str
    bay_id: str
    cell: int
    ready_s: float = 0.0
    offered: bool = False
    place: int = -1          # an import's IGV place at its bay, reserved before it is loaded in China


class IGVCalls:
    """Calls, their IGVs, holds (under a crane, in China, broken) and the cranes' moves of one simulation."""

    def __init__(self, sim: DaySimulation) -> None:
        self.sim = sim
        self.calls: dict[str, Call] = {}
        self.job_call: dict[str, str] = {}
        self.call_igv: dict[str, int] = {}
        self.igv_call: dict[int, str] = {}
        self.held: dict[int, set[str]] = {}
        self.job_bay: dict[str, str] = {}
        self.imports_by_bay: dict[str, int] = {}     # imports planned for each bay and not yet gone on a truck
        self.china_pending: list[tuple[float, str]] = []       # (ready_s, call id) imports not yet on an IGV
        self.crane_token: dict[str, int] = {}
        self.containers_moved = 0
        self.jobs_created = 0
        self._ids = itertools.count(1)
        self.china_use = dict.fromkeys(sim.site.china_cells, 0)    # IGVs bound for or at each Chinese point
        self.igv_ids = sim.fleet.ids()

    # --- calls ----------------------------------------------------------------------------------------------
    def _new_call(self, kind: CallKind, job_id: str, container: str, bay_id: str, cell: int,
                  ready_s: float) -> Call:
        call = Call(f"call-{next(self._ids)}", kind, job_id, container, bay_id, cell, ready_s)
        self.calls[call.call_id] = call
        self.job_call[job_id] = call.call_id
        return call

    def call_export(self, bay: Bay, job_id: str, container: str, t: float) -> None:
        """An IGV for an export under the crane, if the bay has a place for it; else it waits its turn."""
        occupied = self._occupied()
        if not bay.has_free_place(occupied):
            bay.export_waiting.append(job_id)
            return
        call = self._new_call("fetch_export", job_id, container, bay.bay_id, bay.transfer_cell, t)
        call.cell = _placed(bay, call.call_id, occupied)
        self.sim.fleet.submit(Task(call.call_id, call.cell, t))

    def new_import(self, job_id: str, container: str, bay_id: str, truck_s: float) -> None:
        """An import declared for a truck arriving at ``truck_s``: it should be on its bay a little before."""
        corridor_s = self.sim.site.corridor_m / (self.sim.site.cell_m / self.sim.tick_s)
        ready = max(0.0, truck_s - self.sim.config.import_margin_s - corridor_s - self.sim.config.china_handling_s)
        call = self._new_call("fetch_import", job_id, container, bay_id, -1, ready)
        self.job_bay[job_id] = bay_id
        self.imports_by_bay[bay_id] = self.imports_by_bay.get(bay_id, 0) + 1
        heapq.heappush(self.china_pending, (ready, call.call_id))
        self.sim.events.push(Event(max(self.sim.now, ready + LATE_S), "import_call", call.call_id))

    def import_done(self, job_id: str) -> None:
        bay_id = self.job_bay.pop(job_id, None)
        if bay_id is not None:
            self.imports_by_bay[bay_id] -= 1

    def offer_import(self, call_id: str, t: float) -> None:
        """Offer an import still in China to the fleet (unless an IGV there took it on its way back) once a stand
        at a bay is reserved for it; without one, try again a minute later."""
        call = self.calls.get(call_id)
        if call is None or call.kind != "fetch_import" or call_id in self.call_igv or call.offered:
            return
        if not self._import_ok(call, t):
            self.sim.events.push(Event(t + RETRY_S, "import_call", call_id))
            return
        call.offered = True
        call.cell = self._china_point()
        self.sim.fleet.submit(Task(call_id, call.cell, call.ready_s))

    def hurry_import(self, job_id: str, t: float) -> None:
        """The import's truck is already waiting: offer it now rather than at its planned time."""
        call_id = self.job_call.get(job_id)
        if call_id is not None:
            call = self.calls[call_id]
            call.ready_s = min(call.ready_s, t)
            self.offer_import(call_id, t)

    def _import_ok(self, call: Call, t: float) -> bool:
        """May this import be fetched now? Once a stand is reserved for it (so that its IGV can always be unloaded
        at once, whether its truck is there or not): at its truck's bay once the truck is cleared; before, at its
        planned bay or, for a truck taking one container, at another open bay (the truck will be sent there)."""
        bays = self.sim.bays
        if call.call_id in bays[call.bay_id].reserved:
            return True
        truck_id = self.sim.book.get(call.job_id).truck_id or ""
        visit = self.sim.trucks.visits.get(truck_id)
        if visit is not None:
            choices = [visit.bay_id]
        elif len(self.sim.trucks.plan[truck_id].containers) == 1:
            choices = [call.bay_id, *(b for b in self.sim.cranes.open_bays() if b != call.bay_id)]
        else:
            choices = [call.bay_id]
        together = self._siblings(call, truck_id)
        for bay_id in choices:
            if bays[bay_id].reserve_stands([c.call_id for c in together]):
                for sibling in together:
                    self._move_import(sibling, bay_id)
                return True
        return False

    def _siblings(self, call: Call, truck_id: str) -> list[Call]:
        """The truck's imports still in China, this one first: their stands are reserved together, or a truck
        could wait with one container on a stand for another that finds no stand (and hold that stand for ever)."""
        others = [self.calls[c] for c in (self.job_call.get(f"{truck_id}-{k + 1}")
                                           for k in range(len(self.sim.trucks.plan[truck_id].containers)))
                  if c is not None and c != call.call_id]
        return [call, *(c for c in others if c.kind == "fetch_import"
                        and c.call_id not in self.sim.bays[c.bay_id].reserved)]

    def dispatch(self, t: float) -> None:
        for call_id, igv in self.sim.fleet.dispatch(t):
            old = self.call_igv.get(call_id)
            if old is not None and old != igv and self.igv_call.get(old) == call_id:
                del self.igv_call[old]
            previous = self.igv_call.get(igv)
            if previous is not None and previous != call_id and self.call_igv.get(previous) == igv:
                del self.call_igv[previous]        # the fleet gave this IGV's old task back to the queue
            self.call_igv[call_id] = igv
            self.igv_call[igv] = call_id

    # --- holds ----------------------------------------------------------------------------------------------
    def hold(self, igv: int, reason: str) -> None:
        reasons = self.held.setdefault(igv, set())
        if not reasons:
            self.sim.fleet.hold(igv, True)
        reasons.add(reason)

    def unhold(self, igv: int, reason: str) -> None:
        reasons = self.held.get(igv)
        if reasons and reason in reasons:
            reasons.discard(reason)
            if not reasons:
                self.sim.stuck.released(igv)
                self.sim.fleet.hold(igv, False)

    def _send(self, igv: int, call: Call, cell: int, reason: str) -> None:
        call.cell = cell
        self.unhold(igv, reason)
        self.sim.fleet.send(igv, cell, "to_drop")

    def _release(self, igv: int) -> None:
        """The IGV's trip is over: its call is forgotten, its holds (but a breakdown) lifted, the fleet has it."""
        self._release_call_only(igv)
        for reason in list(self.held.get(igv, ())):
            if reason != "broken":
                self.unhold(igv, reason)
        self.sim.fleet.release(igv)

    # --- arrivals -------------------------------------------------------------------------------------------
    def arrived(self, igv: int, t: float) -> None:
        call_id = self.igv_call.get(igv)
        if call_id is None:
            return
        call = self.calls[call_id]
        if int(self.sim.fleet.positions[igv]) != call.cell:
            if call.kind == "fetch_export":   # its place moved up while the fleet drove it to the old one
                self._send(igv, call, call.cell, "bay")
            return
        if call.kind == "deliver_export":
            self.hold(igv, "china")
            self.sim.events.push(Event(t + self.sim.config.china_handling_s, "china_unloaded", str(igv)))
            return
        if call.kind == "fetch_import":
            self.hold(igv, "china")
            if not self._start_loading(igv, call, t):
                self._give_up_import(igv, call, t)
            return
        bay = self.sim.bays[call.bay_id]
        self.hold(igv, "bay")
        if call.kind == "deliver_import":
            self.sim.trucks.import_near(call.job_id, t)
        if call.cell == bay.transfer_cell and bay.igv is None:
            if call.kind == "deliver_import" and self.sim.book.get(call.job_id).state != "at_bay":
                self._advance(call.job_id, "at_bay", t, bay_id=bay.bay_id, igv_id=self.igv_ids[igv])
            kind: JobKind = "export" if call.kind == "fetch_export" else "import"
            bay.igv = IGVAtBay(igv_id=self.igv_ids[igv], job_id=call.job_id, kind=kind,
                               container_number=call.container_number, since_s=t)
            self._call_waiting_exports(bay, t)      # the spot it came from is left now
            self.try_crane(bay, t)
        else:
            self._rebalance(bay, t)

    def china_done(self, event: Event, t: float) -> None:
        igv = int(event.key)
        call = self.calls[self.igv_call[igv]]
        if event.kind == "china_unloaded":
            self._advance(call.job_id, "delivered", t)
            self._advance(call.job_id, "done", t)
            self.containers_moved += 1
            if not self._backhaul(igv, t):
                self._leave_china(call.cell)
                self._release(igv)
            return
        self._advance(call.job_id, "on_igv", t, igv_id=self.igv_ids[igv])
        self._advance(call.job_id, "in_corridor", t)
        call.kind = "deliver_import"
        self._leave_china(call.cell)
        self._send(igv, call, call.place, "china")

    def _occupied(self) -> frozenset[int]:
        """Cells IGVs stand on now."""
        return frozenset(self.sim.fleet.positions.tolist())

    def _start_loading(self, igv: int, call: Call, t: float) -> bool:
        """Load an import in China only once an IGV place at its bay is reserved, so that a loaded IGV never waits
        for one (it would block a Chinese point or a lane)."""
        place = self.sim.bays[call.bay_id].reserve(call.call_id, self._occupied())
        if place is None:
            return False
        call.place = place
        self.sim.events.push(Event(t + self.sim.config.china_handling_s, "china_loaded", str(igv)))
        return True

    def _give_up_import(self, igv: int, call: Call, t: float) -> None:
        """No place at the import's bay: the IGV goes back empty and the import is offered again later."""
        self._leave_china(call.cell)
        self.igv_call.pop(igv, None)
        self.call_igv.pop(call.call_id, None)
        self.sim.fleet.cancel(call.call_id)
        self.unhold(igv, "china")
        self.sim.fleet.release(igv)
        call.offered = False
        self.sim.events.push(Event(t + RETRY_S, "import_call", call.call_id))

    def _china_point(self) -> int:
        """The Chinese transfer point with the fewest IGVs bound for it or standing at it."""
        cell = min(self.china_use, key=self.china_use.__getitem__)
        self.china_use[cell] += 1
        return cell

    def _leave_china(self, cell: int) -> None:
        if cell in self.china_use:
            self.china_use[cell] = max(0, self.china_use[cell] - 1)

    def _move_import(self, call: Call, bay_id: str) -> None:
        if bay_id != call.bay_id:
            self.imports_by_bay[call.bay_id] -= 1
            self.imports_by_bay[bay_id] = self.imports_by_bay.get(bay_id, 0) + 1
        call.bay_id = bay_id
        self.job_bay[call.job_id] = bay_id

    def _backhaul(self, igv: int, t: float) -> bool:
        """An IGV just unloaded in China takes the most urgent import due soon that has a stand reserved (or can
        reserve one), instead of driving back empty."""
        skipped: list[tuple[float, str]] = []
        taken = False
        while self.china_pending and self.china_pending[0][0] <= t + BACKHAUL_WINDOW_S \
                and len(skipped) < BACKHAUL_TRIES:
            entry = heapq.heappop(self.china_pending)
            call = self.calls.get(entry[1])
            if call is None or call.kind != "fetch_import" or call.call_id in self.call_igv:
                continue
            if not (self._import_ok(call, t) and self.sim.bays[call.bay_id].has_free_place()):
                skipped.append(entry)
                continue
            if call.offered:
                self.sim.fleet.cancel(call.call_id)
                self._leave_china(call.cell)
            call.offered = True
            self._release_call_only(igv)
            self.call_igv[call.call_id] = igv
            self.igv_call[igv] = call.call_id
            call.cell = int(self.sim.fleet.positions[igv])
            if not self._start_loading(igv, call, t):
                raise RuntimeError(f"{call.bay_id}: no place for {call.call_id} although one was free")
            taken = True
            break
        for entry in skipped:
            heapq.heappush(self.china_pending, entry)
        return taken

    def _release_call_only(self, igv: int) -> None:
        """Forget the IGV's call (the IGV itself stays where the engine has it)."""
        call_id = self.igv_call.pop(igv, None)
        if call_id is not None:
            call = self.calls.pop(call_id)
            self.call_igv.pop(call_id, None)
            if self.job_call.get(call.job_id) == call_id:
                del self.job_call[call.job_id]

    # --- cranes ---------------------------------------------------------------------------------------------
    def try_crane(self, bay: Bay, t: float) -> None:
        """Start the crane's next move if it is free: for the truck in the first lane, else the second, else an
        import truck further back (its containers are on the stands: it pulls in beside the queue)."""
        cranes = self.sim.cranes
        crane = cranes.crane_of(bay.bay_id)
        if crane is None or crane not in cranes.idle():
            return
        move = next(filter(None, (choose_move(bay.view(lane), t) for lane in bay.served_trucks())), None)
        if move is None:
            return
        finish = cranes.start(crane, move, t)
        if move.kind in _TO_STAND:     # the stand is taken from now on, not only when the container lands
            bay.stands[_stand(move)] = StandLoad(job_id=move.job_id, kind=_TO_STAND[move.kind],
                                                 container_number=move.container_number, since_s=finish)
        token = self.crane_token.get(crane, 0) + 1
        self.crane_token[crane] = token
        self.sim.events.push(Event(finish, "crane_done", crane, token))

    def crane_done(self, event: Event, t: float) -> None:
        if self.crane_token.get(event.key) != event.token:
            return                                  # aborted by a fault
        move = self.sim.cranes.finish(event.key, t)
        bay = self.sim.bays[move.bay_id]
        _MOVES[move.kind](self, bay, move, t)
        self.try_crane(bay, t)

    def crane_fault(self, crane: str, t: float) -> None:
        aborted = self.sim.cranes.fault(crane, t)
        if aborted is not None and aborted.kind in _TO_STAND:
            self.sim.bays[aborted.bay_id].stands[_stand(aborted)] = None
        self.crane_token[crane] = self.crane_token.get(crane, 0) + 1
        bay_id = next(b.bay_id for b in self.sim.bays.values() if b.crane_id == crane)
        self.sim.trucks.crane_stopped(bay_id, t)

    def crane_repaired(self, crane: str, t: float) -> None:
        for bay in self.sim.bays.values():
            if bay.crane_id == crane:
                self.try_crane(bay, t)

    def _truck_to_igv(self, bay: Bay, move: CraneMove, t: float) -> None:
        self._igv_takes_export(bay, move.job_id, t)     # first: the truck leaving may start the next move
        self._cargo_done(bay, move.job_id, t)

    def _truck_to_stand(self, bay: Bay, move: CraneMove, t: float) -> None:
        bay.stands[_stand(move)] = StandLoad(job_id=move.job_id, kind="export",
                                             container_number=move.container_number, since_s=t)
        self._advance(move.job_id, "on_stand", t)
        self._cargo_done(bay, move.job_id, t)

    def _stand_to_igv(self, bay: Bay, move: CraneMove, t: float) -> None:
        bay.stands[_stand(move)] = None
        if bay.igv is not None and bay.igv.job_id != move.job_id:
            self._swap_jobs(bay, bay.igv.job_id, move.job_id)
        self._igv_takes_export(bay, move.job_id, t)

    def _igv_to_truck(self, bay: Bay, move: CraneMove, t: float) -> None:
        self._igv_unloaded(bay, t)
        self._advance(move.job_id, "on_truck", t)
        self._cargo_done(bay, move.job_id, t)

    def _igv_to_stand(self, bay: Bay, move: CraneMove, t: float) -> None:
        self._igv_unloaded(bay, t)
        bay.stands[_stand(move)] = StandLoad(job_id=move.job_id, kind="import",
                                             container_number=move.container_number, since_s=t)
        self._advance(move.job_id, "on_stand", t)
        self.sim.trucks.import_landed(move.job_id, t)

    def _stand_to_truck(self, bay: Bay, move: CraneMove, t: float) -> None:
        bay.stands[_stand(move)] = None
        self._advance(move.job_id, "on_truck", t)
        self._cargo_done(bay, move.job_id, t)

    def _igv_takes_export(self, bay: Bay, job_id: str, t: float) -> None:
        igv = self._igv_at(bay)
        call = self.calls[self.igv_call[igv]]
        self._advance(job_id, "on_igv", t, igv_id=self.igv_ids[igv], crane_id=bay.crane_id)
        self._advance(job_id, "in_corridor", t)
        call.kind = "deliver_export"
        self._send(igv, call, self._china_point(), "bay")
        self._transfer_freed(bay, t)

    def _igv_unloaded(self, bay: Bay, t: float) -> None:
        igv = self._igv_at(bay)
        bay.reserved.discard(self.igv_call.get(igv, ""))
        self._release(igv)
        self._transfer_freed(bay, t)

    def _igv_at(self, bay: Bay) -> int:
        if bay.igv is None:
            raise RuntimeError(f"{bay.bay_id}: a crane move needs the IGV that is not there")
        igv = self.igv_ids.index(bay.igv.igv_id)
        bay.igv = None
        return igv

    def _transfer_freed(self, bay: Bay, t: float) -> None:
        """The staged IGV moves under the crane; exports waiting for a place may call an IGV now."""
        holder = bay.free_transfer()
        if holder is not None:
            call = self.calls[holder]
            igv = self.call_igv.get(holder)
            if call.kind == "fetch_import":
                call.place = bay.transfer_cell         # still loading in China: it drives here when loaded
            elif igv is None:
                self.sim.fleet.cancel(holder)
                call.cell = bay.transfer_cell
                self.sim.fleet.submit(Task(holder, call.cell, t))
            else:
                self._send(igv, call, bay.transfer_cell, "bay")
        self._rebalance(bay, t)
        self._call_waiting_exports(bay, t)

    def _call_waiting_exports(self, bay: Bay, t: float) -> None:
        """Exports that found no IGV place get one as places free up (a transfer point left, or a waiting spot
        left by the IGV that moved up under the crane)."""
        while bay.export_waiting and bay.has_free_place(self._occupied()):
            job_id = bay.export_waiting.popleft()
            self.call_export(bay, job_id, self.sim.book.get(job_id).container_number, t)

    def _waiting_at_place(self, call_id: str | None) -> bool:
        """The call's IGV stands on its place now."""
        igv = self.call_igv.get(call_id or "")
        return igv is not None and int(self.sim.fleet.positions[igv]) == self.calls[call_id or ""].cell

    def _rebalance(self, bay: Bay, t: float) -> None:
        """The transfer point goes to an IGV already waiting beside the crane rather than to one not yet chosen:
        the two calls swap places (the unchosen one is offered for the spot the waiting IGV leaves)."""
        holder = bay.transfer_holder
        if holder is None or bay.igv is not None or self._waiting_at_place(holder) or holder in self.call_igv:
            return          # an IGV already on its way would meet the leaving one head on at the waiting spot
        ready = next((c for c in bay.staged_order if self._waiting_at_place(c)), None)
        if ready is None or self._cells_to(self.call_igv.get(holder), bay.transfer_cell) <= \
                self._cells_to(self.call_igv[ready], bay.transfer_cell) + NEAR_CELLS:
            return
        spot = bay.staging.index(ready)
        bay.transfer_holder, bay.staging[spot] = ready, holder
        bay.staged_order[bay.staged_order.index(ready)] = holder
        self._move_place(ready, bay.transfer_cell, t)
        self._move_place(holder, bay.staging_cells[spot], t)

    def _cells_to(self, igv: int | None, cell: int) -> int:
        """Straight-line steps (4-connected) from the IGV to the cell; an IGV not yet chosen is infinitely far."""
        if igv is None:
            return 1 << 30
        width = self.sim.site.grid.width
        here = int(self.sim.fleet.positions[igv])
        return abs(here % width - cell % width) + abs(here // width - cell // width)

    def _move_place(self, call_id: str, cell: int, t: float) -> None:
        call = self.calls[call_id]
        igv = self.call_igv.get(call_id)
        if call.kind == "fetch_import":
            call.place = cell                       # still loading in China
        elif igv is not None:
            self._send(igv, call, cell, "bay")
        else:
            self.sim.fleet.cancel(call_id)
            call.cell = cell
            self.sim.fleet.submit(Task(call_id, cell, t))

    def _swap_jobs(self, bay: Bay, came_for: str, taken: str) -> None:
        """The IGV that came for ``came_for`` carries ``taken`` (older, on a stand): whoever was to fetch
        ``taken`` fetches ``came_for`` instead."""
        first, second = self.job_call.get(came_for), self.job_call.get(taken)
        for call_id, job_id in ((first, taken), (second, came_for)):
            if call_id is not None:
                call = self.calls[call_id]
                call.job_id = job_id
                call.container_number = self.sim.book.get(job_id).container_number
                self.job_call[job_id] = call_id
        if second is None:
            self.job_call.pop(came_for, None)
            waiting = bay.export_waiting
            if taken in waiting:
                waiting[waiting.index(taken)] = came_for
            else:
                waiting.appendleft(came_for)

    def _cargo_done(self, bay: Bay, job_id: str, t: float) -> None:
        visit = bay.truck_with(job_id)
        if visit is None:
            raise RuntimeError(f"{bay.bay_id}: no truck under the crane carries {job_id}")
        visit.done.add(job_id)
        if visit.loaded:
            self.sim.trucks.left_bay(bay, visit, t)

    def _advance(self, job_id: str, state: str, t: float, **fields: str | None) -> None:
        self.sim.book.advance(job_id, state, t, **fields)  # type: ignore[arg-type]


def _placed(bay: Bay, call_id: str, occupied: frozenset[int]) -> int:
    cell = bay.reserve(call_id, occupied, strict=True)
    if cell is None:
        raise RuntimeError(f"{bay.bay_id}: no IGV place for {call_id} although one was free")
    return cell


def _stand(move: CraneMove) -> int:
    if move.stand is None:
        raise RuntimeError(f"{move.bay_id}: a {move.kind} move without a stand")
    return move.stand


_TO_STAND: dict[str, JobKind] = {"truck_to_stand": "export", "igv_to_stand": "import"}

_MOVES = {
    "truck_to_igv": IGVCalls._truck_to_igv,
    "truck_to_stand": IGVCalls._truck_to_stand,
    "stand_to_igv": IGVCalls._stand_to_igv,
    "igv_to_truck": IGVCalls._igv_to_truck,
    "igv_to_stand": IGVCalls._igv_to_stand,
    "stand_to_truck": IGVCalls._stand_to_truck,
}

"""The yard in simulated time: trucks queueing and parking, containers stacked and moved, IGVs driving.

A `YardScenario` is advanced in fixed steps of simulated time and asked for the objects standing in the yard. It
draws every random choice from one seeded generator in a fixed order, so a seed gives the same yard every time.
Moves are simple and physical enough for occupancy: queued trucks close up behind the truck ahead and never
overlap, a container is only put on top of a stack or taken from its top, and vehicles drive along their lanes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datasets.synth.identifiers import random_container_number
from datasets.yard_synth.geometry import Axis, axis_of
from datasets.yard_synth.scene import (
    CONTAINER_COLORS,
    IGV_LENGTH_M,
    TRACTOR_COLORS,
    TRAILER_LENGTH_M,
    TRUCK_LENGTH_M,
    Color,
    YardObject,
    container_object,
    igv_object,
    truck_object,
)
from yard.layout import Slot, YardLayout, Zone

QUEUE_GAP_M = 3.0
QUEUE_SPEED_M_S = 3.0
BAY_SPEED_M_S = 3.0
BAY_APPROACH_M = 12.0
IGV_SPEED_M_S = 4.0
IGV_SPACING_M = 24.0


@dataclass(frozen=True)
class ScenarioSettings:
    """Rates of the yard's activity (per lane, stand or stack), tuned so a two-minute clip shows every kind."""

    truck_arrivals_per_min: float = 3.0     # per truck-queue lane
    service_s: tuple[float, float] = (6.0, 16.0)
    bay_idle_s: tuple[float, float] = (4.0, 25.0)
    bay_park_s: tuple[float, float] = (15.0, 45.0)
    stack_moves_per_min: float = 10.0      # per buffer stack
    initial_stack_fill: float = 0.45       # share of stack positions (slot x tier) filled at t = 0
    igv_interval_s: tuple[float, float] = (8.0, 20.0)
    igv_loaded_share: float = 0.5
    truck_loaded_share: float = 0.8
    initial_queue_max: int = 6             # trucks already queued per lane at t = 0


@dataclass
class _Cargo:
    number: str
    color: Color


@dataclass
class _Truck:
    id: str
    s: float
    cab_color: Color
    cargo: _Cargo | None
    leaving: bool = False


@dataclass
class _QueueLane:
    zone: Zone
    axis: Axis
    trucks: list[_Truck] = field(default_factory=list)   # head first
    next_arrival: float = 0.0
    head_ready: float | None = None                      # when the head truck's service ends


@dataclass
class _Stand:
    slot: Slot
    axis: Axis
    parked_s: float                  # where the truck's centre stops, along the stand's axis
    phase: str = "empty"             # empty | arriving | parked | leaving
    phase_end: float = 0.0
    truck: _Truck | None = None
    handled: bool = False            # the crane has loaded or unloaded it during this stay


@dataclass
class _Stack:
    slot: Slot
    heading: float
    length_ft: int
    cargo: list[_Cargo] = field(default_factory=list)   # bottom first


@dataclass
class _IgvLane:
    zone: Zone
    axis: Axis
    igvs: list[_Truck] = field(default_factory=list)
    next_spawn: float = 0.0


class YardScenario:
    """The yard over one layout, advanced by `advance(dt)`; `objects()` is what stands there now."""

    def __init__(self, layout: YardLayout, seed: int, settings: ScenarioSettings = ScenarioSettings()) -> None:
        self.layout = layout
        self.settings = settings
        self.t = 0.0
        self.stack_version = 0   # counts changes to the buffer stacks
        self._rng = np.random.default_rng([seed, 5])
        self._numbers: set[str] = set()
        self._counter = 0
        self._lanes = [_QueueLane(z, axis_of(z.polygon, z.direction)) for z in layout.zones_of("truck_queue")]
        self._igv_lanes = [_IgvLane(z, axis_of(z.polygon, z.direction)) for z in layout.zones_of("igv_lane")]
        kinds = {z.id: z.kind for z in layout.zones}
        self._stands = [_stand(s) for s in layout.slots if kinds.get(s.zone_id) == "transfer_bay"]
        self._stacks = [_stack(s) for s in layout.slots if kinds.get(s.zone_id) == "buffer_stack"]
        self._stack_zones = sorted({s.slot.zone_id for s in self._stacks})
        self._next_stack_move = {zone: self._exp(60.0 / settings.stack_moves_per_min) for zone in self._stack_zones}
        self._start()

    # --- public -------------------------------------------------------------------------------------------------

    def advance(self, dt: float) -> None:
        """Move the yard on by `dt` seconds of simulated time."""
        self.t += dt
        for lane in self._lanes:
            self._advance_queue(lane, dt)
        for stand in self._stands:
            self._advance_stand(stand, dt)
        for zone in self._stack_zones:
            while self._next_stack_move[zone] <= self.t:
                self._move_container(zone)
                self._next_stack_move[zone] += self._exp(60.0 / self.settings.stack_moves_per_min)
        for igv_lane in self._igv_lanes:
            self._advance_igvs(igv_lane, dt)

    def objects(self) -> list[YardObject]:
        """Everything in the yard now: the stacked containers, then the vehicles."""
        return self.stacked_objects() + self.vehicles()

    def stacked_objects(self) -> list[YardObject]:
        """The containers in the buffer stacks; they change only when `stack_version` does."""
        out: list[YardObject] = []
        for stack in self._stacks:
            for tier, cargo in enumerate(stack.cargo, start=1):
                out.append(container_object(f"ctr-{cargo.number}", cargo.number, stack.slot.centre, stack.heading,
                                            stack.length_ft, tier, cargo.color))
        return out

    def vehicles(self) -> list[YardObject]:
        """Trucks and IGVs, with what they carry."""
        out: list[YardObject] = []
        for lane in self._lanes:
            out.extend(_truck(t, lane.axis.point(t.s), lane.axis.heading) for t in lane.trucks)
        for stand in self._stands:
            if stand.truck is not None:
                out.append(_truck(stand.truck, stand.axis.point(stand.truck.s), stand.axis.heading))
        for igv_lane in self._igv_lanes:
            for igv in igv_lane.igvs:
                out.append(igv_object(igv.id, igv_lane.axis.point(igv.s), igv_lane.axis.heading,
                                      igv.cargo.number if igv.cargo else None,
                                      igv.cargo.color if igv.cargo else CONTAINER_COLORS[0]))
        return out

    # --- set-up -------------------------------------------------------------------------------------------------

    def _start(self) -> None:
        for stack in self._stacks:
            height = int(self._rng.binomial(stack.slot.tiers, self.settings.initial_stack_fill))
            stack.cargo = [self._cargo() for _ in range(height)]
        for stand in self._stands:
            if self._rng.random() < 0.5 and self._row_free(stand):   # some start with a truck already parked
                stand.truck = self._new_truck(stand.parked_s, 0.5)
                stand.phase, stand.phase_end = "parked", self._uniform(self.settings.bay_park_s)
            else:
                stand.phase_end = self._uniform(self.settings.bay_idle_s)
        spacing = TRUCK_LENGTH_M + QUEUE_GAP_M
        for lane in self._lanes:
            head = lane.axis.s_max - TRUCK_LENGTH_M / 2 - 1.0
            capacity = int((lane.axis.length - TRUCK_LENGTH_M) // spacing) + 1
            queued = int(self._rng.integers(1, max(2, min(capacity, self.settings.initial_queue_max) + 1)))
            lane.trucks = [self._new_truck(head - k * spacing, self.settings.truck_loaded_share) for k in range(queued)]
            lane.next_arrival = self._exp(60.0 / self.settings.truck_arrivals_per_min)
        for igv_lane in self._igv_lanes:
            s = igv_lane.axis.s_max - IGV_LENGTH_M
            while s >= igv_lane.axis.s_min + IGV_LENGTH_M / 2:   # IGVs already on their way
                igv_lane.igvs.append(self._new_igv(s))
                s -= IGV_SPACING_M + self._uniform(self.settings.igv_interval_s) * IGV_SPEED_M_S
            igv_lane.next_spawn = self._uniform((0.0, self.settings.igv_interval_s[0]))

    # --- truck queues -------------------------------------------------------------------------------------------

    def _advance_queue(self, lane: _QueueLane, dt: float) -> None:
        spacing = TRUCK_LENGTH_M + QUEUE_GAP_M
        head_stop = lane.axis.s_max - TRUCK_LENGTH_M / 2 - 1.0
        ahead: float | None = None
        for truck in lane.trucks:
            if truck.leaving:
                truck.s += QUEUE_SPEED_M_S * dt
            else:
                target = head_stop if ahead is None else min(head_stop, ahead - spacing)
                truck.s = min(target, truck.s + QUEUE_SPEED_M_S * dt) if truck.s < target else truck.s
            ahead = truck.s
        lane.trucks = [t for t in lane.trucks if t.s < lane.axis.s_max + TRUCK_LENGTH_M]
        waiting = [t for t in lane.trucks if not t.leaving]
        if waiting and waiting[0].s >= head_stop - 1e-6:
            if lane.head_ready is None:
                lane.head_ready = self.t + self._uniform(self.settings.service_s)
            elif self.t >= lane.head_ready:
                waiting[0].leaving = True
                lane.head_ready = None
        if self.t >= lane.next_arrival:
            entry = lane.axis.s_min - TRUCK_LENGTH_M / 2
            last = lane.trucks[-1].s if lane.trucks else None
            if last is None or last - entry >= spacing:
                lane.trucks.append(self._new_truck(entry, self.settings.truck_loaded_share))
                lane.next_arrival = self.t + self._exp(60.0 / self.settings.truck_arrivals_per_min)

    # --- transfer-bay stands ------------------------------------------------------------------------------------

    def _advance_stand(self, stand: _Stand, dt: float) -> None:
        truck = stand.truck
        if stand.phase == "empty" and self.t >= stand.phase_end and self._row_free(stand):
            stand.truck = self._new_truck(stand.parked_s - BAY_APPROACH_M, 0.5)
            stand.phase, stand.handled = "arriving", False
        elif stand.phase == "arriving" and truck is not None:
            truck.s = min(stand.parked_s, truck.s + BAY_SPEED_M_S * dt)
            if truck.s >= stand.parked_s:
                stand.phase, stand.phase_end = "parked", self.t + self._uniform(self.settings.bay_park_s)
        elif stand.phase == "parked" and truck is not None:
            if not stand.handled and self.t >= stand.phase_end - 6.0:
                stand.handled = True
                truck.cargo = None if truck.cargo is not None else self._cargo()  # the crane unloads or loads it
            if self.t >= stand.phase_end:
                stand.phase = "leaving"
        elif stand.phase == "leaving" and truck is not None:
            truck.s += BAY_SPEED_M_S * dt
            if truck.s >= stand.parked_s + BAY_APPROACH_M:
                stand.truck, stand.phase = None, "empty"
                stand.phase_end = self.t + self._uniform(self.settings.bay_idle_s)

    def _row_free(self, stand: _Stand) -> bool:
        """A truck reaches its stand through the stands before it in the row and leaves through those after it,
        and a parked truck (18.6 m) is longer than a stand's pitch: one truck at a time per row of stands."""
        return not any(other is not stand and other.truck is not None and other.slot.zone_id == stand.slot.zone_id
                       and abs(other.axis.offset - stand.axis.offset) <= 1.0 for other in self._stands)

    # --- buffer stacks ------------------------------------------------------------------------------------------

    def _move_container(self, zone_id: str) -> None:
        stacks = [s for s in self._stacks if s.slot.zone_id == zone_id]
        stack = stacks[int(self._rng.integers(len(stacks)))]
        full = len(stack.cargo) >= stack.slot.tiers
        self.stack_version += 1
        if stack.cargo and (full or self._rng.random() < 0.5):
            stack.cargo.pop()
        elif not full:
            stack.cargo.append(self._cargo())

    # --- IGV lanes ----------------------------------------------------------------------------------------------

    def _advance_igvs(self, lane: _IgvLane, dt: float) -> None:
        for igv in lane.igvs:
            igv.s += IGV_SPEED_M_S * dt
        # IGVs join and leave at the ends of their lane (handed over to the next lane, not drawn there), so that
        # they never cut across a junction into a vehicle of the crossing lane
        lane.igvs = [v for v in lane.igvs if v.s <= lane.axis.s_max - IGV_LENGTH_M / 2]
        if self.t >= lane.next_spawn:
            entry = lane.axis.s_min + IGV_LENGTH_M / 2
            if not lane.igvs or lane.igvs[-1].s - entry >= IGV_SPACING_M:
                lane.igvs.append(self._new_igv(entry))
            lane.next_spawn = self.t + self._uniform(self.settings.igv_interval_s)

    # --- random draws -------------------------------------------------------------------------------------------

    def _new_truck(self, s: float, loaded_share: float) -> _Truck:
        self._counter += 1
        color = TRACTOR_COLORS[int(self._rng.integers(len(TRACTOR_COLORS)))]
        cargo = self._cargo() if self._rng.random() < loaded_share else None
        return _Truck(f"truck-{self._counter:05d}", s, color, cargo)

    def _new_igv(self, s: float) -> _Truck:
        self._counter += 1
        cargo = self._cargo() if self._rng.random() < self.settings.igv_loaded_share else None
        return _Truck(f"igv-{self._counter:05d}", s, CONTAINER_COLORS[0], cargo)

    def _cargo(self) -> _Cargo:
        number = random_container_number(self._rng)
        while number in self._numbers:
            number = random_container_number(self._rng)
        self._numbers.add(number)
        return _Cargo(number, CONTAINER_COLORS[int(self._rng.integers(len(CONTAINER_COLORS)))])

    def _exp(self, mean: float) -> float:
        return float(self._rng.exponential(mean))

    def _uniform(self, bounds: tuple[float, float]) -> float:
        return float(self._rng.uniform(*bounds))


def _stand(slot: Slot) -> _Stand:
    """A transfer-bay stand: the truck parks with its trailer over the stand (or centred on a short stand)."""
    axis = axis_of(slot.polygon)
    centre_s = float(np.asarray(slot.centre) @ axis.direction)
    trailer_offset = TRUCK_LENGTH_M / 2 - TRAILER_LENGTH_M / 2
    parked = centre_s + trailer_offset if axis.length >= 10.0 else centre_s
    return _Stand(slot, axis, parked)


def _stack(slot: Slot) -> _Stack:
    axis = axis_of(slot.polygon)
    return _Stack(slot, axis.heading, 40 if axis.length >= 10.0 else 20)


def _truck(truck: _Truck, xy: tuple[float, float], heading: float) -> YardObject:
    cargo = truck.cargo
    return truck_object(truck.id, xy, heading, truck.cab_color, cargo.number if cargo else None,
                        cargo.color if cargo else CONTAINER_COLORS[0])

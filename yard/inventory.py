"""Which container is in which slot and tier: crane moves, gate reads and what the yard cameras see, joined.

Crane moves are the authority for stacks: a PLACE puts a container on top of a slot's stack, a PICK lifts the top
one. Gate reads say what is coming: each truck that passes the gate inwards is an expected arrival with its
container numbers, and the first truck seen standing in a transfer bay claims the oldest of them (trucks reach
the bays in gate order). The cameras close the loop: a slot that turns occupied by a container nobody moved there
is an alert for the operator (unknown container), and so is a stack the cameras see empty.

Refused moves (a place onto a full stack, a pick of a container that is not there) raise `InventoryError` with a
``reason`` and are counted; the state stays as it was. ``rebuild`` replays the journal in order to get back here.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, OrderedDict, deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal, NoReturn

from bus.journal import Journal
from bus.messages import CraneCommand, OccupancyUpdate, VehiclePassage
from yard.occupancy_journal import YardEvent, replay_yard_events
from yard.slot_changes import SlotChange, SlotKind

__all__ = ["ExpectedArrival", "Inventory", "InventoryAlert", "InventoryError", "InventorySnapshot", "Location"]

log = logging.getLogger(__name__)

MAX_TIERS: Final = 10
MAX_ALERTS: Final = 1000
_CONTAINER: Final = re.compile(r"^[A-Z0-9]{1,16}$")

RefusalReason = Literal["unknown_slot", "stack_full", "already_placed", "not_there", "not_on_top",
                        "bad_container", "incomplete_command"]
AlertKind = Literal["unknown_container", "missing_container"]


class InventoryError(ValueError):
    """A move the inventory refused; ``reason`` is a stable code, the message says which container and slot."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Location:
    slot_id: str
    tier: int            # 1 = on the ground; 0 = on the truck standing in a transfer-bay slot


@dataclass(frozen=True)
class InventoryAlert:
    kind: AlertKind
    slot_id: str
    t_utc: float
    detail: str


@dataclass(frozen=True)
class ExpectedArrival:
    """A truck read at the gate on its way in, with the container numbers it carries (maybe none)."""

    passage_id: str
    lane_id: str
    t_utc: float
    containers: tuple[str, ...]


@dataclass(frozen=True)
class InventorySnapshot:
    """Everything the inventory knows, comparable with ``==`` (used to check a rebuild)."""

    stacks: dict[str, tuple[str, ...]]
    trucks: dict[str, ExpectedArrival]
    lifted: tuple[str, ...]
    expected: tuple[ExpectedArrival, ...]
    alerts: tuple[InventoryAlert, ...]


class Inventory:
    """Stacks per slot (bottom first), truck loads standing in transfer-bay slots, containers on crane spreaders."""

    def __init__(self, slot_tiers: Mapping[str, int], transfer_slots: Collection[str] = (),
                 max_expected: int = 1000) -> None:
        for slot, tiers in slot_tiers.items():
            if isinstance(tiers, bool) or not isinstance(tiers, int) or not 1 <= tiers <= MAX_TIERS:
                raise ValueError(f"slot {slot!r}: tiers must be an integer within [1, {MAX_TIERS}], got {tiers!r}")
        unknown = set(transfer_slots) - set(slot_tiers)
        if unknown:
            raise ValueError(f"transfer slots not among the slots: {sorted(unknown)[:5]}")
        self._tiers = dict(slot_tiers)
        self._transfer = frozenset(transfer_slots)
        self._stacks: dict[str, list[str]] = {}
        self._where: dict[str, str] = {}
        self._trucks: dict[str, ExpectedArrival] = {}
        self._lifted: dict[str, float] = {}
        self._expected: OrderedDict[str, ExpectedArrival] = OrderedDict()
        self._max_expected = max_expected
        self._alerts: deque[InventoryAlert] = deque(maxlen=MAX_ALERTS)
        self.counters: Counter[str] = Counter()

    # -- queries ---------------------------------------------------------------------------------------------

    def where(self, container: str) -> Location | None:
        """The slot and tier of a stacked container, or None."""
        slot = self._where.get(container.strip().upper())
        return None if slot is None else Location(slot, self._stacks[slot].index(container.strip().upper()) + 1)

    def stack(self, slot_id: str) -> tuple[str, ...]:
        """The containers in a slot, bottom first."""
        return tuple(self._stacks.get(slot_id, ()))

    def alerts(self) -> list[InventoryAlert]:
        return list(self._alerts)

    def snapshot(self) -> InventorySnapshot:
        return InventorySnapshot(stacks={slot: tuple(stack) for slot, stack in self._stacks.items() if stack},
                                 trucks=dict(self._trucks), lifted=tuple(self._lifted),
                                 expected=tuple(self._expected.values()), alerts=tuple(self._alerts))

    # -- crane moves -----------------------------------------------------------------------------------------

    def place(self, container: str, slot_id: str, t_utc: float) -> Location:
        """A crane set ``container`` down in ``slot_id``: on a truck standing there, else on top of the stack."""
        number = self._number(container)
        self._known_slot(slot_id, number)
        if number in self._where:
            self._refuse("already_placed",
                         f"cannot place {number} in {slot_id}: it is already in {self._where[number]}")
        self._unload(number)
        truck = self._trucks.get(slot_id)
        if truck is not None:
            self._trucks[slot_id] = replace(truck, containers=(*truck.containers, number))
            self._lifted.pop(number, None)
            self.counters["placed.on_truck"] += 1
            return Location(slot_id, 0)
        stack = self._stacks.setdefault(slot_id, [])
        if len(stack) >= self._tiers[slot_id]:
            self._refuse("stack_full", f"cannot place {number} in {slot_id}: its {self._tiers[slot_id]} tier(s) "
                                       f"are full ({', '.join(stack)})")
        stack.append(number)
        self._where[number] = slot_id
        self._lifted.pop(number, None)
        self.counters["placed"] += 1
        return Location(slot_id, len(stack))

    def pick(self, container: str, slot_id: str, t_utc: float) -> None:
        """A crane lifted ``container`` from ``slot_id``: the top of its stack, or off the truck standing there."""
        number = self._number(container)
        self._known_slot(slot_id, number)
        stack = self._stacks.get(slot_id, [])
        truck = self._trucks.get(slot_id)
        if stack and stack[-1] == number:
            stack.pop()
            del self._where[number]
        elif number in stack:
            above = ", ".join(stack[stack.index(number) + 1:])
            self._refuse("not_on_top", f"cannot pick {number} from {slot_id}: it is under {above}")
        elif truck is not None and number in truck.containers:
            self._trucks[slot_id] = replace(truck, containers=tuple(c for c in truck.containers if c != number))
            self.counters["picked.from_truck"] += 1
        else:
            self._refuse("not_there", f"cannot pick {number} from {slot_id}: it is not there "
                                      f"(stack: {', '.join(stack) or 'empty'})")
        self._lifted[number] = t_utc
        self.counters["picked"] += 1

    def on_crane_command(self, command: CraneCommand) -> Location | None:
        """Apply a PICK or PLACE; without a slot it is a hand-over to or from a vehicle. Other actions are ignored."""
        if command.action not in ("PICK", "PLACE"):
            return None
        if not command.container_number:
            self._refuse("incomplete_command", f"crane command {command.command_id} ({command.action}) "
                                               "names no container")
        number = self._number(command.container_number)
        if command.slot_id is None:
            self._hand_over(command.action, number, command.ts_utc)
            return None
        if command.action == "PLACE":
            return self.place(number, command.slot_id, command.ts_utc)
        self.pick(number, command.slot_id, command.ts_utc)
        return None

    # -- gate reads and cameras ------------------------------------------------------------------------------

    def on_passage(self, passage: VehiclePassage) -> ExpectedArrival | None:
        """Record an inbound truck's containers as an expected arrival (outbound passages are ignored)."""
        if passage.direction != "in":
            return None
        if passage.passage_id in self._expected or any(t.passage_id == passage.passage_id
                                                       for t in self._trucks.values()):
            self.counters["passages.duplicate"] += 1
            return None
        numbers = tuple(dict.fromkeys(n for read in passage.containers
                                      if _CONTAINER.match(n := read.number.strip().upper())))
        arrival = ExpectedArrival(passage.passage_id, passage.lane_id, passage.last_seen_utc, numbers)
        self._expected[passage.passage_id] = arrival
        if len(self._expected) > self._max_expected:
            self._expected.popitem(last=False)
            self.counters["expected.dropped"] += 1
        self.counters["passages.in"] += 1
        return arrival

    def on_changes(self, changes: Sequence[SlotChange]) -> list[SlotChange]:
        """Join the cameras' slot changes with the moves: returns the changes with container numbers filled in."""
        return [replace(change, container_number=self._observe(change.slot_id, change.new_kind, change.t_utc))
                for change in changes]

    def on_update(self, update: OccupancyUpdate) -> None:
        """Apply a journalled update as if its changes had just been seen (the replay path). Alerts take the
        update's ``ts_utc``, which is the frame time of the changes when ``to_updates`` follows each ``update``."""
        for state in update.slots:
            self._observe(state.slot_id, state.kind, update.ts_utc)

    def apply(self, event: YardEvent) -> None:
        """Apply any journalled yard event; a refused move is already counted and logged, so replay goes on."""
        try:
            if isinstance(event, CraneCommand):
                self.on_crane_command(event)
            elif isinstance(event, VehiclePassage):
                self.on_passage(event)
            else:
                self.on_update(event)
        except InventoryError:
            pass

    @classmethod
    def rebuild(cls, journal: Journal, slot_tiers: Mapping[str, int], transfer_slots: Collection[str] = (),
                *, after_seq: int = 0, max_expected: int = 1000) -> Inventory:
        """The inventory after every journalled yard event after ``after_seq``, applied in journal order."""
        inventory = cls(slot_tiers, transfer_slots, max_expected)
        for event in replay_yard_events(journal, after_seq):
            inventory.apply(event)
        return inventory

    # -- internals -------------------------------------------------------------------------------------------

    def _observe(self, slot_id: str, kind: SlotKind, t_utc: float) -> str | None:
        """What a camera-confirmed state of a slot means for the inventory; returns the container number shown."""
        if slot_id not in self._tiers:
            return None
        stack = self._stacks.get(slot_id)
        if kind == "empty":
            self._truck_left(slot_id)
            if stack:
                self._alert("missing_container", slot_id, t_utc, f"cameras see {slot_id} empty; "
                                                                 f"inventory holds {', '.join(stack)}")
            return None
        if kind == "truck":
            truck = self._truck_arrived(slot_id)
            return truck.containers[0] if truck is not None and truck.containers else None
        if kind != "container":
            return None
        if stack:
            return stack[-1]
        truck = self._truck_arrived(slot_id)
        if truck is not None and truck.containers:
            return truck.containers[0]
        self._alert("unknown_container", slot_id, t_utc, f"a container appeared in {slot_id} with no known move")
        return None

    def _truck_arrived(self, slot_id: str) -> ExpectedArrival | None:
        """The load of the truck in a transfer-bay slot: the oldest expected arrival, claimed on first sight."""
        if slot_id not in self._transfer:
            return None
        if slot_id not in self._trucks and self._expected:
            self._trucks[slot_id] = self._expected.popitem(last=False)[1]
            self.counters["arrivals.matched"] += 1
        return self._trucks.get(slot_id)

    def _unload(self, number: str) -> None:
        """Forget ``number`` on any truck: a crane has it now, even if its pick was never recorded."""
        for slot_id, truck in self._trucks.items():
            if number in truck.containers:
                self._trucks[slot_id] = replace(truck, containers=tuple(c for c in truck.containers if c != number))
                self.counters["unloaded.unrecorded"] += 1

    def _truck_left(self, slot_id: str) -> None:
        truck = self._trucks.pop(slot_id, None)
        if truck is not None:
            self.counters["trucks.left"] += 1
            self.counters["trucks.left_loaded"] += bool(truck.containers)

    def _hand_over(self, action: str, number: str, t_utc: float) -> None:
        if action == "PICK":
            self._lifted[number] = t_utc
        elif self._lifted.pop(number, None) is None:
            self.counters["handover.unseen"] += 1
        self.counters[f"handover.{action.lower()}"] += 1

    def _alert(self, kind: AlertKind, slot_id: str, t_utc: float, detail: str) -> None:
        self._alerts.append(InventoryAlert(kind, slot_id, t_utc, detail))
        self.counters[f"alerts.{kind}"] += 1
        log.warning("inventory alert %s: %s", kind, detail)

    def _number(self, container: str | None) -> str:
        number = container.strip().upper() if isinstance(container, str) else ""
        if not _CONTAINER.match(number):
            self._refuse("bad_container", f"container number must be 1-16 letters or digits, got {container!r}")
        return number

    def _known_slot(self, slot_id: str, number: str) -> None:
        if slot_id not in self._tiers:
            self._refuse("unknown_slot", f"cannot move {number}: unknown slot {slot_id!r}")

    def _refuse(self, reason: RefusalReason, message: str) -> NoReturn:
        self.counters[f"refused.{reason}"] += 1
        log.warning("inventory refused a move: %s", message)
        raise InventoryError(reason, message)

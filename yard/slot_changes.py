"""A slot's change of state, and how changes become `OccupancyUpdate` messages (one zone each, bounded size)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from bus.messages import OccupancyUpdate, SlotState
from yard.ground_detections import KIND_NAMES
from yard.hysteresis import STATE_EMPTY, STATE_UNKNOWN

SlotKind = Literal["truck", "container", "igv", "empty", "unknown"]
STATE_NAMES: Final[dict[int, SlotKind]] = {0: "truck", 1: "container", 2: "igv", STATE_EMPTY: "empty",
                                          STATE_UNKNOWN: "unknown"}
STATE_CODES: Final[dict[str, int]] = {name: code for code, name in STATE_NAMES.items()}
if tuple(STATE_NAMES[code] for code in range(len(KIND_NAMES))) != KIND_NAMES:  # pragma: no cover - import guard
    raise ImportError("slot state names out of step with the detection kind codes")


@dataclass(frozen=True)
class SlotChange:
    """One slot's confirmed change: ``t_utc`` when it was decided, ``since_utc`` when it really began."""

    slot_id: str
    zone_id: str
    old_kind: SlotKind
    new_kind: SlotKind
    t_utc: float
    since_utc: float
    container_number: str | None = None

    @property
    def occupied(self) -> bool:
        return self.new_kind not in ("empty", "unknown")

    def to_slot_state(self) -> SlotState:
        return SlotState(slot_id=self.slot_id, occupied=self.occupied, kind=self.new_kind,
                         container_number=self.container_number if self.occupied else None,
                         since_utc=self.since_utc)


def build_updates(states_by_zone: Mapping[str, Sequence[SlotState]], queue_lengths: Mapping[str, int],
                  next_seq: dict[str, int], max_slots: int, ts_utc: float) -> list[OccupancyUpdate]:
    """One update per zone (more when a zone has over ``max_slots`` changed slots), seq counted per zone.

    A queue lane is a zone of its own: its length rides on the first update of that zone. ``next_seq`` is advanced
    in place, so seqs keep increasing across calls.
    """
    zones = list(states_by_zone) + [lane for lane in queue_lengths if lane not in states_by_zone]
    updates: list[OccupancyUpdate] = []
    for zone in zones:
        states = tuple(states_by_zone.get(zone, ()))
        chunks = [states[start:start + max_slots] for start in range(0, len(states), max_slots)] or [()]
        for position, chunk in enumerate(chunks):
            seq = next_seq.get(zone, 1)
            next_seq[zone] = seq + 1
            lengths = {zone: queue_lengths[zone]} if position == 0 and zone in queue_lengths else {}
            updates.append(OccupancyUpdate(zone_id=zone, seq=seq, slots=chunk, queue_lengths=lengths,
                                           ts_utc=ts_utc))
    return updates

"""Slot occupancy and queue lengths from ground detections: the live map of the transfer yard.

One ``update`` per frame: the detections are assigned to slots in one numba pass (each slot takes the most
confident detection whose centre lies in it), the per-slot hysteresis steps all slots at once, and trucks are
counted per queue lane. Confirmed changes come back as `SlotChange` records; ``to_updates`` turns them into
`OccupancyUpdate` messages for the bus and the journal, and ``rebuild`` restores the published state from the
journal after a restart. The tracker takes plain polygons, so it does not depend on how a layout is stored.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import shapely

from bus.journal import Journal
from bus.messages import OccupancyUpdate, SlotState, now_utc
from yard.ground_detections import KIND_TRUCK, GroundDetections
from yard.hysteresis import STATE_EMPTY, SlotHysteresis
from yard.occupancy_journal import replay_updates
from yard.occupancy_settings import OccupancySettings
from yard.queues import QueueSmoother
from yard.slot_changes import STATE_CODES, STATE_NAMES, SlotChange, build_updates
from yard.slot_index import PolygonIndex

__all__ = ["OccupancySettings", "OccupancyTracker", "SlotChange"]

log = logging.getLogger(__name__)

MAX_TIME_UTC: Final = 4.0e9
_ID: Final = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")  # the bus's Id pattern: ids must survive the journal
_CONTAINER: Final = re.compile(r"^[A-Z0-9]{1,16}$")


class OccupancyTracker:
    """Occupancy of a fixed set of slots and queue lanes; ``counters`` says what was dropped or refused."""

    def __init__(self, slot_ids: Sequence[str], slot_polygons: Sequence[shapely.Polygon],
                 slot_zone_ids: Sequence[str], queue_lanes: Mapping[str, shapely.Polygon],
                 settings: OccupancySettings = OccupancySettings()) -> None:  # noqa: B008  # frozen, shared safely
        if not len(slot_ids) == len(slot_polygons) == len(slot_zone_ids):
            raise ValueError(f"slot_ids, slot_polygons and slot_zone_ids differ in length: "
                             f"{len(slot_ids)}, {len(slot_polygons)}, {len(slot_zone_ids)}")
        self.settings = settings
        self.slot_ids = _checked_ids("slot id", slot_ids)
        self.zone_ids = tuple(_check_id("zone id", zone) for zone in slot_zone_ids)
        self.lane_ids = _checked_ids("queue lane id", list(queue_lanes))
        self._slot_of = {slot: index for index, slot in enumerate(self.slot_ids)}
        self._lane_of = {lane: index for index, lane in enumerate(self.lane_ids)}
        self._slots = PolygonIndex(slot_polygons, "slot")
        self._lanes = PolygonIndex(list(queue_lanes.values()), "queue lane")
        self._hysteresis = SlotHysteresis(len(self.slot_ids), enter_s=settings.enter_s, exit_s=settings.exit_s,
                                          kind_change_s=settings.kind_change_s, gap_s=settings.gap_s)
        self._queues = QueueSmoother(len(self.lane_ids), settings.queue_window_s, settings.queue_samples)
        self._containers: list[str | None] = [None] * len(self.slot_ids)
        self._published_queues: dict[str, int] = {}
        self._next_seq: dict[str, int] = {}
        self._last_t: float | None = None
        self.counters: Counter[str] = Counter()

    # -- per frame -------------------------------------------------------------------------------------------

    def update(self, t_utc: float, detections: GroundDetections) -> list[SlotChange]:
        """Apply one frame's detections at ``t_utc`` (non-decreasing); returns the slots whose state changed.

        Rows with a NaN or infinite position or confidence are dropped and counted; a bad time or a wrong type
        raises ValueError or TypeError, counted, and leaves the state as it was.
        """
        t = self._checked_time(t_utc, detections)
        finite = detections.finite_mask()
        usable = finite & (detections.confidence >= self.settings.min_confidence)
        if not usable.all():
            self.counters["detections.nonfinite"] += int((~finite).sum())
            self.counters["detections.low_confidence"] += int((finite & ~usable).sum())
            detections = detections[usable]
        best = self._slots.best_per_polygon(detections.xy_m, detections.confidence)
        observed = np.where(best >= 0, detections.kind[np.maximum(best, 0)] if len(detections) else 0,
                            STATE_EMPTY).astype(np.int8)
        self._queues.add(t, self._lanes.count_per_polygon(detections.xy_m[detections.kind == KIND_TRUCK]))
        changed, old = self._hysteresis.step(t, observed)
        self._last_t = t
        self.counters["frames"] += 1
        self.counters["detections"] += len(detections)
        return [self._change(int(index), int(before), t) for index, before in zip(changed, old, strict=True)]

    def queue_lengths(self) -> dict[str, int]:
        """Smoothed number of trucks in each queue lane."""
        return {lane: int(n) for lane, n in zip(self.lane_ids, self._queues.current, strict=True)}

    def slot_states(self) -> list[SlotState]:
        """Every slot's current state, with the container number last published for it."""
        states = self._hysteresis.state.tolist()
        since = self._hysteresis.since.tolist()
        return [SlotState(slot_id=slot, occupied=code >= 0, kind=STATE_NAMES[code],
                          container_number=self._containers[index] if code >= 0 else None, since_utc=since[index])
                for index, (slot, code) in enumerate(zip(self.slot_ids, states, strict=True))]

    # -- publishing ------------------------------------------------------------------------------------------

    def to_updates(self, changes: Sequence[SlotChange]) -> list[OccupancyUpdate]:
        """The messages that publish ``changes`` and any queue length changed since the last call.

        One update per zone (split beyond ``settings.max_slots_per_update`` slots), seq increasing per zone. The
        container numbers in ``changes`` (filled in by the inventory) become the tracker's published state.
        """
        by_zone: dict[str, list[SlotState]] = {}
        for change in changes:
            index = self._slot_of.get(change.slot_id)
            if index is None or self.zone_ids[index] != change.zone_id:
                raise ValueError(f"change for unknown slot {change.slot_id!r} in zone {change.zone_id!r}")
            if change.container_number is not None and not _CONTAINER.match(change.container_number):
                raise ValueError(f"slot {change.slot_id}: container number must be 1-16 capital letters or digits, "
                                 f"got {change.container_number!r}")
            by_zone.setdefault(change.zone_id, []).append(change.to_slot_state())
            self._containers[index] = change.container_number if change.occupied else None
        lengths = {lane: n for lane, n in self.queue_lengths().items() if self._published_queues.get(lane) != n}
        self._published_queues.update(lengths)
        return build_updates(by_zone, lengths, self._next_seq, self.settings.max_slots_per_update,
                             self._last_t if self._last_t is not None else now_utc())

    # -- restart ---------------------------------------------------------------------------------------------

    @classmethod
    def rebuild(cls, journal: Journal, slot_ids: Sequence[str], slot_polygons: Sequence[shapely.Polygon],
                slot_zone_ids: Sequence[str], queue_lanes: Mapping[str, shapely.Polygon],
                settings: OccupancySettings = OccupancySettings(),  # noqa: B008
                *, after_seq: int = 0) -> OccupancyTracker:
        """A tracker holding the state published to ``journal`` (every `OccupancyUpdate` after ``after_seq``)."""
        tracker = cls(slot_ids, slot_polygons, slot_zone_ids, queue_lanes, settings)
        for update in replay_updates(journal, after_seq):
            tracker.apply_update(update)
        return tracker

    def apply_update(self, update: OccupancyUpdate) -> None:
        """Take one published update as the current state (slots and lanes this tracker does not know are counted
        and skipped: the layout may have changed since it was journalled)."""
        self._next_seq[update.zone_id] = max(self._next_seq.get(update.zone_id, 1), update.seq + 1)
        for state in update.slots:
            index = self._slot_of.get(state.slot_id)
            if index is None:
                self.counters["rebuild.unknown_slot"] += 1
                continue
            self._hysteresis.restore(index, STATE_CODES[state.kind], state.since_utc)
            self._containers[index] = state.container_number
        for lane, length in update.queue_lengths.items():
            if lane not in self._lane_of:
                self.counters["rebuild.unknown_lane"] += 1
                continue
            self._queues.restore(self._lane_of[lane], length)
            self._published_queues[lane] = length
        self.counters["rebuild.updates"] += 1

    # -- internals -------------------------------------------------------------------------------------------

    def _checked_time(self, t_utc: float, detections: GroundDetections) -> float:
        if not isinstance(detections, GroundDetections):
            self.counters["frames.rejected"] += 1
            raise TypeError(f"detections must be GroundDetections, got {type(detections).__name__}")
        if isinstance(t_utc, bool) or not isinstance(t_utc, int | float) or not math.isfinite(t_utc) \
                or not 0.0 <= t_utc <= MAX_TIME_UTC:
            self.counters["frames.rejected"] += 1
            raise ValueError(f"t_utc must be a finite UTC time within [0, {MAX_TIME_UTC:.0e}], got {t_utc!r}")
        if self._last_t is not None and t_utc < self._last_t:
            self.counters["frames.rejected"] += 1
            raise ValueError(f"t_utc went backwards: {t_utc!r} after {self._last_t!r}")
        return float(t_utc)

    def _change(self, index: int, old: int, t: float) -> SlotChange:
        new = int(self._hysteresis.state[index])
        return SlotChange(slot_id=self.slot_ids[index], zone_id=self.zone_ids[index], old_kind=STATE_NAMES[old],
                          new_kind=STATE_NAMES[new], t_utc=t, since_utc=float(self._hysteresis.since[index]))


def _check_id(label: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"{label} must be 1-64 characters of A-Z a-z 0-9 _ . : -, got {value!r}")
    return value


def _checked_ids(label: str, values: Sequence[str]) -> tuple[str, ...]:
    ids = tuple(_check_id(label, value) for value in values)
    duplicates = [value for value, n in Counter(ids).items() if n > 1]
    if duplicates:
        raise ValueError(f"duplicate {label} {duplicates[0]!r}")
    return ids

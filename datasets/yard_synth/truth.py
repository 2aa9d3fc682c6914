"""Ground truth of one time step: the state of every slot, the queue length of every lane, every object.

Slot states and queue lengths are derived from the objects with the same rule a perfect observer would use: an
object occupies the slot that contains the centre of its footprint (the highest object wins, so a stack reports
its top container), and a truck is queued in the truck-queue lane that contains its centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec
import numpy as np
import shapely
from msgspec import Meta

from datasets.yard_synth.scene import YardObject
from yard.layout import YardLayout

SlotKind = Literal["truck", "container", "igv", "empty"]
MAX_ITEMS = 100_000


class SlotTruth(msgspec.Struct, frozen=True, kw_only=True):
    kind: SlotKind
    container: Annotated[str, Meta(max_length=16)] | None = None


class ObjectTruth(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, Meta(max_length=64)]
    kind: Literal["truck", "container", "igv"]
    xy: tuple[float, float]
    size: tuple[float, float]          # footprint length, width (m)
    heading: float                     # radians from +x, along the length
    height: float                      # the object's own height (m)
    base: float = 0.0                  # elevation of its bottom (m): > 0 for a container stacked on another
    container: Annotated[str, Meta(max_length=16)] | None = None


class YardTruth(msgspec.Struct, frozen=True, kw_only=True):
    frame: Annotated[int, Meta(ge=0)]
    t: Annotated[float, Meta(ge=0)]
    slots: Annotated[dict[str, SlotTruth], Meta(max_length=MAX_ITEMS)]
    queue_lengths: Annotated[dict[str, Annotated[int, Meta(ge=0)]], Meta(max_length=MAX_ITEMS)]
    objects: Annotated[list[ObjectTruth], Meta(max_length=MAX_ITEMS)]


class TruthIndex:
    """Slot and lane geometry of a layout, indexed once, turning objects into a `YardTruth`."""

    def __init__(self, layout: YardLayout) -> None:
        self.slot_ids = [slot.id for slot in layout.slots]
        self._tree = shapely.STRtree([slot.polygon for slot in layout.slots])
        self._lanes = [(zone.id, zone.polygon) for zone in layout.zones_of("truck_queue")]

    def truth(self, frame: int, t: float, objects: Sequence[YardObject]) -> YardTruth:
        return YardTruth(frame=frame, t=round(t, 4), slots=self.slot_states(objects),
                         queue_lengths=self.queue_lengths(objects), objects=[_object_truth(obj) for obj in objects])

    def slot_states(self, objects: Sequence[YardObject]) -> dict[str, SlotTruth]:
        states = dict.fromkeys(self.slot_ids, SlotTruth(kind="empty"))
        if not objects:
            return states
        points = shapely.points(np.array([obj.xy for obj in objects]))
        obj_idx, slot_idx = self._tree.query(points, predicate="within")
        top: dict[int, YardObject] = {}
        for o, s in zip(obj_idx.tolist(), slot_idx.tolist(), strict=True):
            current = top.get(s)
            if current is None or objects[o].top_m > current.top_m:
                top[s] = objects[o]
        for s, obj in top.items():
            states[self.slot_ids[s]] = SlotTruth(kind=obj.kind, container=obj.container)
        return states

    def queue_lengths(self, objects: Sequence[YardObject]) -> dict[str, int]:
        trucks = np.array([obj.xy for obj in objects if obj.kind == "truck"]).reshape(-1, 2)
        return {lane: int(np.count_nonzero(shapely.contains_xy(polygon, trucks[:, 0], trucks[:, 1])))
                for lane, polygon in self._lanes}


def _object_truth(obj: YardObject) -> ObjectTruth:
    return ObjectTruth(id=obj.id, kind=obj.kind, xy=(round(obj.xy[0], 3), round(obj.xy[1], 3)),
                       size=(obj.length_m, obj.width_m), heading=round(obj.heading, 5), height=round(obj.height_m, 3),
                       base=round(obj.base_m, 3), container=obj.container)

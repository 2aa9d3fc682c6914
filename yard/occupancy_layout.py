"""The occupancy tracker and inventory of a yard layout: its slots, its queue lanes, its stack heights.

The tracker and the inventory take plain polygons and ids so that they do not depend on the layout file; this is
the one place that reads a `YardLayout` into them.
"""

from __future__ import annotations

from collections.abc import Mapping

import shapely

from bus.journal import Journal
from yard.inventory import Inventory
from yard.layout import YardLayout
from yard.occupancy import OccupancyTracker
from yard.occupancy_settings import OccupancySettings


def tracker_for(layout: YardLayout, settings: OccupancySettings | None = None,
                queue_lanes: Mapping[str, shapely.Polygon] | None = None) -> OccupancyTracker:
    """A tracker over every slot of the layout, counting trucks in its truck-queue lanes (or in `queue_lanes`,
    such as the parts of them the cameras watch)."""
    lanes = _queue_lanes(layout) if queue_lanes is None else queue_lanes
    return OccupancyTracker(*_slot_arrays(layout), lanes, settings or OccupancySettings())


def rebuilt_tracker(layout: YardLayout, journal: Journal, settings: OccupancySettings | None = None,
                    queue_lanes: Mapping[str, shapely.Polygon] | None = None) -> OccupancyTracker:
    """The tracker as the journal last recorded it (after a restart)."""
    lanes = _queue_lanes(layout) if queue_lanes is None else queue_lanes
    return OccupancyTracker.rebuild(journal, *_slot_arrays(layout), lanes, settings or OccupancySettings())


def inventory_for(layout: YardLayout) -> Inventory:
    """An empty inventory: stack slots hold `tiers` containers; transfer-bay stands take trucks' containers."""
    return Inventory(*_inventory_arguments(layout))


def rebuilt_inventory(layout: YardLayout, journal: Journal) -> Inventory:
    """The inventory as the journalled crane moves, passages and occupancy updates leave it."""
    return Inventory.rebuild(journal, *_inventory_arguments(layout))


def _slot_arrays(layout: YardLayout) -> tuple[list[str], list[shapely.Polygon], list[str]]:
    slots = layout.slots
    return [s.id for s in slots], [s.polygon for s in slots], [s.zone_id for s in slots]


def _queue_lanes(layout: YardLayout) -> dict[str, shapely.Polygon]:
    return {zone.id: zone.polygon for zone in layout.zones_of("truck_queue")}


def _inventory_arguments(layout: YardLayout) -> tuple[dict[str, int], list[str]]:
    bays = {zone.id for zone in layout.zones_of("transfer_bay")}
    return {s.id: s.tiers for s in layout.slots}, [s.id for s in layout.slots if s.zone_id in bays]

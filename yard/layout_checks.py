"""The geometric rules a yard layout must satisfy, checked with vectorised shapely predicates.

Rules (each failure is a `LayoutError` naming the zone's field):
- every polygon is valid (no self-intersection), has area, and is one connected piece; a zone drawn as several
  ``polygons`` must join along edges (a gap, or pieces meeting only at a corner, is an error);
- every zone lies inside the yard, ``(0, 0)``–``size_m``;
- zones do not overlap, with one exception: a ``border_corridor`` may overlap ``igv_lane`` zones, where the loop
  lanes join the corridor; there the lane's one-way rule applies (see `yard.grid`). Touching edges is not overlap;
- every slot lies inside its zone, and no two slots overlap;
- transfer points and IGV spots lie inside their zones;
- every border corridor reaches the border line ``x = border_x_m``;
- every IGV-drivable zone (lanes, parking, charging, transfer bays, corridor) is joined to a border corridor through
  IGV-drivable zones sharing edges, so every transfer point, parking and charging spot can reach the border.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import shapely

from yard.layout_fields import Fields

if TYPE_CHECKING:
    from yard.layout import YardLayout

AREA_EPS_M2 = 1e-6
EDGE_EPS_M = 1e-6
IGV_DRIVABLE = frozenset({"igv_lane", "igv_parking", "igv_charging", "border_corridor", "transfer_bay"})
MAY_OVERLAP = frozenset({frozenset({"border_corridor", "igv_lane"})})


def polygon_from_rings(fields: Fields, rings: Sequence[Sequence[tuple[float, float]]], field: str) -> shapely.Polygon:
    """One valid polygon from one ring, or from several rings that join into one connected area."""
    pieces = []
    for i, ring in enumerate(rings):
        where = field if len(rings) == 1 else f"{field}[{i}]"
        piece = shapely.Polygon(ring)
        reason = shapely.is_valid_reason(piece)
        if reason != "Valid Geometry":
            raise fields.fail(where, f"invalid polygon ({reason})")
        if piece.area <= AREA_EPS_M2:
            raise fields.fail(where, "polygon has no area")
        pieces.append(piece)
    if len(pieces) == 1:
        return pieces[0]
    union = shapely.union_all(pieces)
    if isinstance(union, shapely.Polygon):
        return union
    parts = shapely.get_parts(union)
    gap = shapely.shortest_line(parts[0], shapely.union_all(parts[1:]))
    (x0, y0), (x1, y1) = gap.coords
    if gap.length <= EDGE_EPS_M:
        raise fields.fail(field, f"the pieces meet only at a corner ({x0:g}, {y0:g}), not along an edge")
    raise fields.fail(field, f"the pieces do not join: a gap of {gap.length:.3g} m between ({x0:g}, {y0:g}) and "
                             f"({x1:g}, {y1:g})")


def check_layout(fields: Fields, layout: YardLayout, *, slot_fields: Sequence[str]) -> None:
    """Apply every rule above; ``slot_fields`` names the field each slot came from (parallel to layout.slots)."""
    polygons = np.array([zone.polygon for zone in layout.zones], dtype=object)
    shapely.prepare(polygons)
    _check_bounds(fields, layout, polygons)
    _check_zone_overlaps(fields, layout, polygons)
    if layout.slots:
        _check_slots_inside(fields, layout, slot_fields)
        _check_slot_overlaps(fields, layout, slot_fields)
    _check_points_inside(fields, layout)
    _check_corridors_reach_border(fields, layout)
    _check_igv_network(fields, layout, polygons)


def _zone_field(layout: YardLayout, zone_id: str, name: str = "polygon") -> str:
    index = next(i for i, zone in enumerate(layout.zones) if zone.id == zone_id)
    return f"zones[{index}].{name}"


def _check_bounds(fields: Fields, layout: YardLayout, polygons: np.ndarray) -> None:
    width, height = layout.size_m
    inside = shapely.covered_by(polygons, shapely.box(0.0, 0.0, width, height))
    for i in np.flatnonzero(~inside)[:1]:
        zone = layout.zones[i]
        x0, y0, x1, y1 = zone.polygon.bounds
        raise fields.fail(f"zones[{i}].polygon", f"zone {zone.id!r} spans ({x0:g}, {y0:g})–({x1:g}, {y1:g}), "
                                                 f"outside the yard (0, 0)–({width:g}, {height:g})")


def _check_zone_overlaps(fields: Fields, layout: YardLayout, polygons: np.ndarray) -> None:
    left, right = shapely.STRtree(polygons).query(polygons, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    areas = shapely.area(shapely.intersection(polygons[left], polygons[right]))
    for i, j, area in zip(left, right, areas, strict=True):
        a, b = layout.zones[i], layout.zones[j]
        if area > AREA_EPS_M2 and frozenset({a.kind, b.kind}) not in MAY_OVERLAP:
            raise fields.fail(f"zones[{j}].polygon", f"zone {b.id!r} ({b.kind}) overlaps zone {a.id!r} ({a.kind}) "
                                                     f"by {area:.3g} m²")


def _check_slots_inside(fields: Fields, layout: YardLayout, slot_fields: Sequence[str]) -> None:
    index = {zone.id: i for i, zone in enumerate(layout.zones)}
    grown = shapely.buffer(np.array([zone.polygon for zone in layout.zones], dtype=object), EDGE_EPS_M,
                           join_style="mitre")
    slot_polygons = np.array([slot.polygon for slot in layout.slots], dtype=object)
    owners = grown[[index[slot.zone_id] for slot in layout.slots]]
    inside = shapely.covered_by(slot_polygons, owners)
    for k in np.flatnonzero(~inside)[:1]:
        slot = layout.slots[k]
        x0, y0, x1, y1 = slot.polygon.bounds
        raise fields.fail(slot_fields[k], f"slot {slot.id!r} ({x0:g}, {y0:g})–({x1:g}, {y1:g}) is not inside its "
                                          f"zone {slot.zone_id!r}")


def _check_slot_overlaps(fields: Fields, layout: YardLayout, slot_fields: Sequence[str]) -> None:
    polygons = np.array([slot.polygon for slot in layout.slots], dtype=object)
    left, right = shapely.STRtree(polygons).query(polygons, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    areas = shapely.area(shapely.intersection(polygons[left], polygons[right]))
    for k in np.flatnonzero(areas > AREA_EPS_M2)[:1]:
        a, b = layout.slots[left[k]], layout.slots[right[k]]
        raise fields.fail(slot_fields[right[k]], f"slot {b.id!r} overlaps slot {a.id!r} by {areas[k]:.3g} m²")


def _check_points_inside(fields: Fields, layout: YardLayout) -> None:
    named = [(zone_id, "transfer_point", xy) for zone_id, xy in layout.transfer_points.items()]
    named += [(key.split(":", 1)[0], f"spots.{key.split(':', 1)[1]}", xy) for key, xy in layout.spots.items()]
    if not named:
        return
    owners = np.array([layout.zone(zone_id).polygon for zone_id, _, _ in named], dtype=object)
    inside = shapely.covers(owners, shapely.points([xy for _, _, xy in named]))
    for k in np.flatnonzero(~inside)[:1]:
        zone_id, name, (x, y) = named[k]
        raise fields.fail(_zone_field(layout, zone_id, name), f"({x:g}, {y:g}) is not inside zone {zone_id!r}")


def _check_corridors_reach_border(fields: Fields, layout: YardLayout) -> None:
    for zone in layout.zones_of("border_corridor"):
        x0, _, x1, _ = zone.polygon.bounds
        if not x0 <= layout.border_x_m <= x1:
            raise fields.fail(_zone_field(layout, zone.id), f"border corridor {zone.id!r} spans x = {x0:g}–{x1:g} "
                                                            f"and does not reach the border at x = "
                                                            f"{layout.border_x_m:g}")


def _check_igv_network(fields: Fields, layout: YardLayout, polygons: np.ndarray) -> None:
    """Every IGV-drivable zone must be joined, edge to edge, to a border corridor."""
    drivable = [i for i, zone in enumerate(layout.zones) if zone.kind in IGV_DRIVABLE]
    if not drivable:
        return
    corridors = [i for i in drivable if layout.zones[i].kind == "border_corridor"]
    if not corridors:
        first = drivable[0]
        raise fields.fail("zones", f"no border_corridor zone: IGV zone {layout.zones[first].id!r} has no way to "
                                   f"the border")
    parts = shapely.get_parts(shapely.union_all(polygons[drivable]))
    anchors = shapely.point_on_surface(polygons[corridors])
    reaching = [part for part in parts if shapely.covers(part, anchors).any()]
    joined = shapely.covers(shapely.union_all(reaching), shapely.point_on_surface(polygons[drivable]))
    for k in np.flatnonzero(~joined)[:1]:
        zone = layout.zones[drivable[k]]
        raise fields.fail(f"zones[{drivable[k]}].polygon", f"{zone.kind} {zone.id!r} is not joined to the border "
                                                           f"corridor by IGV zones (a gap in the lanes?)")

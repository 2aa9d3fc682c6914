"""The yard layout as the control-room map draws it: zones, slots and points in site metres, as plain JSON.

Loaded once from the site's layout file (`yard.layout.load_layout` validates it); a missing or broken file leaves
the map empty and says why in the log, it never stops the API.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import shapely

from yard.layout import LayoutError, YardLayout, load_layout

log = logging.getLogger(__name__)

Json = dict[str, Any]


def load_map(path: Path | None) -> Json | None:
    """The map of the layout at ``path``, or None (no layout configured, or one that does not load)."""
    if path is None:
        return None
    try:
        layout = load_layout(path)
    except (LayoutError, OSError, ValueError) as exc:
        log.error("yard layout %s not loaded, the map stays empty: %s", path, exc)
        return None
    return layout_json(layout)


def layout_json(layout: YardLayout) -> Json:
    return {
        "site": layout.site, "size_m": list(layout.size_m), "border_x_m": layout.border_x_m,
        "zones": [{"id": z.id, "kind": z.kind, "polygon": _rings(z.polygon), "direction": _pair(z.direction),
                   "crane": z.crane} for z in layout.zones],
        "slots": [slot_geometry(s.id, s.zone_id, s.polygon) for s in layout.slots],
        "transfer_points": {k: list(v) for k, v in layout.transfer_points.items()},
        "spots": {k: list(v) for k, v in layout.spots.items()},
    }


def slot_geometry(slot_id: str, zone_id: str, polygon: shapely.Polygon) -> Json:
    """A slot as an axis-aligned box (x, y lower-left corner, w, h), which is what slots are in every layout."""
    minx, miny, maxx, maxy = polygon.bounds
    return {"slot_id": slot_id, "zone": zone_id, "x": round(minx, 3), "y": round(miny, 3),
            "w": round(maxx - minx, 3), "h": round(maxy - miny, 3)}


def _rings(polygon: shapely.Polygon) -> list[list[float]]:
    return [[round(x, 3), round(y, 3)] for x, y in polygon.exterior.coords]


def _pair(value: tuple[float, float] | None) -> list[float] | None:
    return None if value is None else [value[0], value[1]]

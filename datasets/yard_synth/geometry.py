"""Axes of lanes and slots from their ground polygons: where along a lane a vehicle is, which way a slot points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely


@dataclass(frozen=True)
class Axis:
    """A straight centreline: position `s` metres along `direction` maps to a ground point."""

    direction: np.ndarray   # (2,) unit vector of travel
    lateral: np.ndarray     # (2,) unit vector to the left of travel
    offset: float           # lateral coordinate of the centreline
    s_min: float
    s_max: float
    width: float

    @property
    def heading(self) -> float:
        return float(np.arctan2(self.direction[1], self.direction[0]))

    @property
    def length(self) -> float:
        return self.s_max - self.s_min

    def point(self, s: float) -> tuple[float, float]:
        p = s * self.direction + self.offset * self.lateral
        return float(p[0]), float(p[1])


def long_direction(polygon: shapely.Geometry) -> np.ndarray:
    """Unit vector along the longer side of the polygon's minimum rotated rectangle, pointing to +x (or +y)."""
    rect = np.asarray(shapely.minimum_rotated_rectangle(polygon).exterior.coords)[:4]
    edges = np.diff(np.vstack([rect, rect[:1]]), axis=0)
    longest = edges[int(np.argmax(np.hypot(edges[:, 0], edges[:, 1])))]
    unit = longest / np.linalg.norm(longest)
    if unit[0] < -1e-9 or (abs(unit[0]) <= 1e-9 and unit[1] < 0):
        unit = -unit
    return np.asarray(unit, dtype=np.float64)


def axis_of(polygon: shapely.Geometry, direction: tuple[float, float] | None = None) -> Axis:
    """The centreline of a lane or slot polygon (or of the hull of several), along `direction` (its long side
    when None)."""
    d = long_direction(polygon) if direction is None else np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    n = np.array([-d[1], d[0]])
    coords = np.asarray(shapely.convex_hull(polygon).exterior.coords)
    s = coords @ d
    lat = coords @ n
    return Axis(d, n, float((lat.min() + lat.max()) / 2), float(s.min()), float(s.max()),
                float(lat.max() - lat.min()))

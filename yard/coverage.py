"""Where on the ground a calibrated camera can count things: its view, cut at a useful range.

A queue can only be counted where a camera sees it, so queue lengths are measured over each lane's watched part
(the lane cut to its camera's coverage), and the operator is told which part that is. Far along an oblique view a
metre of ground is a pixel or less: past `max_range_m` a camera's counts are not trusted.
"""

from __future__ import annotations

import numpy as np
import shapely

from calibration.files import CameraCalibration
from calibration.projection import pixels_to_ground

_SAMPLES_PER_SIDE = 64


def ground_coverage(calibration: CameraCalibration, max_range_m: float | None = None,
                    margin_m: float = 0.0) -> shapely.Polygon:
    """The ground the image shows (its border mapped to z = 0), within `max_range_m` of the camera's foot, shrunk
    by `margin_m` so that an object whose centre lies inside is seen whole, not cut by the image edge."""
    width, height = calibration.image_size
    u = np.linspace(0.0, width - 1.0, _SAMPLES_PER_SIDE)
    v = np.linspace(0.0, height - 1.0, _SAMPLES_PER_SIDE)
    border = np.concatenate([
        np.stack([u, np.zeros_like(u)], 1), np.stack([np.full_like(v, width - 1.0), v], 1),
        np.stack([u[::-1], np.full_like(u, height - 1.0)], 1), np.stack([np.zeros_like(v), v[::-1]], 1),
    ])
    ground = pixels_to_ground(calibration, border)
    finite = np.isfinite(ground).all(axis=1)
    if finite.all():  # the whole border lies on the ground: its outline, curved by the lens, is the view
        view = shapely.make_valid(shapely.Polygon(ground))
    else:  # part of the image is sky: the hull of what is ground, cut by the range below
        inner = pixels_to_ground(calibration, _grid(width, height))
        points = np.concatenate([ground[finite], inner[np.isfinite(inner).all(axis=1)]])
        if len(points) < 3:
            return shapely.Polygon()
        view = shapely.convex_hull(shapely.multipoints(points))
    if max_range_m is not None and calibration.pose is not None:
        foot = calibration.pose.centre[:2]
        view = shapely.intersection(view, shapely.Point(foot).buffer(max_range_m, quad_segs=32))
    if margin_m > 0.0:
        view = shapely.buffer(view, -margin_m)
    return _polygon(view)


def watched_lanes(lanes: dict[str, shapely.Polygon], coverage: shapely.Geometry) -> dict[str, shapely.Polygon]:
    """Each lane cut to the covered ground (its largest piece); lanes no camera sees are left out."""
    watched: dict[str, shapely.Polygon] = {}
    for lane_id, polygon in lanes.items():
        part = _polygon(shapely.intersection(polygon, coverage))
        if not part.is_empty and part.area > 0.0:
            watched[lane_id] = part
    return watched


def _grid(width: int, height: int) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0.0, width - 1.0, 16), np.linspace(0.0, height - 1.0, 16))
    return np.stack([u.ravel(), v.ravel()], 1)


def _polygon(geometry: shapely.Geometry) -> shapely.Polygon:
    if isinstance(geometry, shapely.Polygon):
        return geometry
    pieces = [g for g in getattr(geometry, "geoms", ()) if isinstance(g, shapely.Polygon)]
    return max(pieces, key=lambda g: g.area) if pieces else shapely.Polygon()

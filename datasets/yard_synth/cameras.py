"""The recording's true cameras: pinhole with mild lens distortion, placed from the layout.

These are the *true* cameras that render the footage. The replay never sees them: it reads the calibration
fitted from noisy surveyed markers (`datasets.yard_synth.survey`), as a real site would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import shapely

from datasets.synth.cameras import look_at
from datasets.yard_synth.geometry import axis_of, long_direction
from yard.layout import YardLayout

YardView = Literal["top", "oblique"]
IMAGE_SIZE = (1280, 720)


@dataclass(frozen=True)
class YardCamera:
    """A true camera: K, distortion (k1 k2 p1 p2 k3), world->camera rotation R and centre C (site metres)."""

    name: str
    view: YardView
    size: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    C: np.ndarray

    @property
    def rvec(self) -> np.ndarray:
        return np.asarray(cv2.Rodrigues(self.R)[0]).reshape(3)

    @property
    def tvec(self) -> np.ndarray:
        return np.asarray(-self.R @ self.C)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distorted pixels (N, 2) and depths (N,) of world points (N, 3)."""
        points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3)
        if len(points) == 0:
            return np.zeros((0, 2)), np.zeros(0)
        pixels, _ = cv2.projectPoints(points, self.rvec, self.tvec, self.K, self.dist)
        depth = (points - self.C) @ self.R[2]
        return pixels.reshape(-1, 2), depth

    def pixel_rays(self, pixels: np.ndarray) -> np.ndarray:
        """World directions (N, 3) of the rays through distorted pixels (N, 2)."""
        normal = cv2.undistortPoints(pixels.reshape(-1, 1, 2).astype(np.float64), self.K, self.dist).reshape(-1, 2)
        rays = np.column_stack([normal, np.ones(len(normal))])
        return np.asarray(rays @ self.R)


def _intrinsics(size: tuple[int, int], hfov_deg: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    width, height = size
    f = width / 2 / np.tan(np.radians(hfov_deg) / 2)
    cx = width / 2 + rng.normal(0, 4)
    cy = height / 2 + rng.normal(0, 4)
    k = np.array([[f, 0, cx], [0, f * (1 + rng.normal(0, 0.002)), cy], [0, 0, 1]])
    dist = np.array([rng.uniform(-0.08, -0.03), rng.uniform(0.0, 0.03), 0.0, 0.0, 0.0])
    return k, dist


def top_camera(layout: YardLayout, rng: np.random.Generator, size: tuple[int, int] = IMAGE_SIZE,
               hfov_deg: float = 40.0) -> YardCamera:
    """A camera high (a tethered drone or a tall mast with a long lens) almost straight above the buffer stacks,
    transfer bays and the truck queues beside them; the narrow field keeps tall stacks from leaning far over their
    neighbours in the image."""
    zones = [z.polygon for z in layout.zones if z.kind in ("buffer_stack", "transfer_bay")]
    if not zones:
        zones = [z.polygon for z in layout.zones]
    handling = shapely.unary_union(zones)
    # the truck queues beside the cranes too, so that queued trucks are counted from above
    x0, _, x1, _ = handling.bounds
    reach = shapely.box(x0, -1e6, x1, 1e6)
    queues = [shapely.intersection(z.polygon, reach) for z in layout.zones_of("truck_queue")]
    region = shapely.unary_union([handling, *queues])
    along = long_direction(shapely.minimum_rotated_rectangle(region))
    across = np.array([-along[1], along[0]])
    coords = np.asarray(shapely.minimum_rotated_rectangle(region).exterior.coords)
    extent_u = float(np.ptp(coords @ along))
    extent_v = float(np.ptp(coords @ across))
    centre = np.asarray(region.centroid.coords[0])
    width, height = size
    tan_h = np.tan(np.radians(hfov_deg) / 2)
    altitude = 1.06 * max(extent_u / 2 / tan_h, extent_v / 2 / (tan_h * height / width))
    position = np.array([*(centre + rng.normal(0, 1.0, 2)), altitude])
    target = np.array([*(centre + rng.normal(0, 0.01 * altitude, 2)), 0.0])
    k, dist = _intrinsics(size, hfov_deg, rng)
    # image rows run against `across`, so the region's long side lies along the image's width
    return YardCamera("top", "top", size, k, dist, look_at(position, target, np.array([*-across, 0.0])), position)


def oblique_camera(layout: YardLayout, rng: np.random.Generator, size: tuple[int, int] = IMAGE_SIZE,
                   hfov_deg: float = 58.0) -> YardCamera:
    """A 20 m mast beside the head of the truck-queue lanes, looking back along them at the queued trucks."""
    lanes = layout.zones_of("truck_queue")
    zones = [z.polygon for z in lanes] or [z.polygon for z in layout.zones]
    direction = lanes[0].direction if lanes else None
    axis = axis_of(shapely.unary_union(zones), direction)
    ahead = [z.polygon for z in lanes if z.direction == direction] or zones
    head_s = axis_of(shapely.unary_union(ahead), direction).s_max
    coords = np.asarray(shapely.convex_hull(shapely.unary_union(zones)).exterior.coords)
    side = float((coords @ axis.lateral).min()) - 6.0
    head = np.asarray(head_s * axis.direction + side * axis.lateral)
    position = np.array([*(head + 4.0 * axis.direction + rng.normal(0, 0.5, 2)), 20.0 + rng.normal(0, 0.5)])
    far = head_s - 0.4 * min(axis.length, 200.0)
    target = np.array([*(far * axis.direction + axis.offset * axis.lateral), 0.0])
    k, dist = _intrinsics(size, hfov_deg, rng)
    return YardCamera("oblique", "oblique", size, k, dist, look_at(position, target, np.array([0.0, 0.0, 1.0])),
                      position)


def yard_cameras(layout: YardLayout, seed: int, size: tuple[int, int] = IMAGE_SIZE) -> list[YardCamera]:
    """The recording's two cameras, their mounting jittered per seed."""
    return [top_camera(layout, np.random.default_rng([seed, 21]), size),
            oblique_camera(layout, np.random.default_rng([seed, 22]), size)]

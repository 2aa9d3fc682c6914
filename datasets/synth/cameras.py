"""Pinhole cameras of one gate lane and the projection of planar sprites into them.

World frame: x along the lane in the direction of travel (the stop line at x = 0), y to the driver's left, z up,
metres. A sprite lies on a rectangle in the world: its pixel (u, v) (edge convention, pixel i spans [i, i+1]) maps
to `origin + u * e_u + v * e_v`. The same 3x3 homography warps the sprite and transforms truth corners, so boxes
match the drawing exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.recording import View

NEAR_M = 0.3
#: Views the generator knows, in a fixed order (seeds and file order depend on it).
VIEWS: tuple[View, ...] = ("front", "rear", "side_left", "side_right", "top")


@dataclass(frozen=True)
class Camera:
    """A calibrated camera: intrinsics K, world-to-camera rotation R (rows: right, down, forward), centre C."""

    name: str
    view: View
    width: int
    height: int
    K: np.ndarray
    R: np.ndarray
    C: np.ndarray

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image coordinates (edge convention) and depths of world points of shape (N, 3)."""
        cam = (points - self.C) @ self.R.T
        depth = cam[:, 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        pix = (cam @ self.K.T)[:, :2] / safe[:, None]
        return pix, depth

    def plane_homography(self, origin: np.ndarray, e_u: np.ndarray, e_v: np.ndarray) -> np.ndarray:
        """3x3 map from sprite coordinates (u, v, 1) to homogeneous image coordinates, both edge convention."""
        basis = np.stack([e_u, e_v, origin - self.C], axis=1)
        return np.asarray(self.K @ self.R @ basis)

    def depth_along(self, origin: np.ndarray, e_u: np.ndarray, e_v: np.ndarray) -> np.ndarray:
        """Coefficients (a, b, c) with depth(u, v) = a*u + b*v + c on the sprite's plane."""
        forward = self.R[2]
        return np.array([forward @ e_u, forward @ e_v, forward @ (origin - self.C)])

    def ground_horizon(self) -> np.ndarray:
        """Line (a, b, c) in the image: a*x + b*y + c > 0 below the horizon (rays that reach the ground)."""
        # a pixel's ray direction in the world is R^T K^-1 p; it reaches the ground ahead where its z < 0
        return np.asarray(-(np.linalg.inv(self.K).T @ self.R)[:, 2])


def look_at(position: np.ndarray, target: np.ndarray, up_hint: np.ndarray) -> np.ndarray:
    """Rotation whose rows are the camera's right, down and forward axes in the world."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up_hint)
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """Square pixels, principal point at the centre (edge convention: width/2, height/2)."""
    f = width / 2 / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=np.float64)


#: Nominal placement per view: (position, target, up hint, horizontal field of view in degrees).
_RIG: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float], float]] = {
    "front": ((10.0, -1.1, 4.6), (-1.0, 0.0, 1.5), (0, 0, 1), 31.0),
    "rear": ((-24.5, 0.9, 5.6), (-15.2, 0.0, 2.4), (0, 0, 1), 40.0),
    "side_left": ((-9.5, 8.2, 2.3), (-9.5, 0.0, 2.1), (0, 0, 1), 60.0),
    "side_right": ((-9.5, -8.2, 2.3), (-9.5, 0.0, 2.1), (0, 0, 1), 60.0),
    "top": ((-9.0, 0.0, 10.5), (-9.4, 0.0, 0.0), (0, 1, 0), 52.0),
}


def lane_camera(name: str, view: View, size: tuple[int, int], rng: np.random.Generator) -> Camera:
    """The camera of a view, its mounting jittered a little per lane so that recordings differ."""
    position, target, up, hfov = _RIG[view]
    pos = np.asarray(position) + rng.normal(0, 0.15, 3)
    tgt = np.asarray(target) + rng.normal(0, 0.2, 3)
    fov = hfov * float(rng.uniform(0.94, 1.06))
    width, height = size
    return Camera(name=name, view=view, width=width, height=height, K=intrinsics(width, height, fov),
                  R=look_at(pos, tgt, np.asarray(up, dtype=np.float64)), C=pos)


def clip_polygon_depth(polygon: np.ndarray, depth_coeffs: np.ndarray, near: float = NEAR_M) -> np.ndarray:
    """The part of a sprite-space polygon (N, 2) in front of the camera (depth >= near), Sutherland-Hodgman."""
    a, b, c = depth_coeffs
    depth = polygon @ np.array([a, b]) + c
    if np.all(depth >= near):
        return polygon
    out: list[np.ndarray] = []
    n = len(polygon)
    for i in range(n):
        p, q = polygon[i], polygon[(i + 1) % n]
        dp, dq = depth[i], depth[(i + 1) % n]
        if dp >= near:
            out.append(p)
        if (dp >= near) != (dq >= near):
            t = (near - dp) / (dq - dp)
            out.append(p + t * (q - p))
    return np.array(out) if out else np.zeros((0, 2))


def apply_homography(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a homography."""
    out = points @ matrix[:, :2].T + matrix[:, 2]
    return np.asarray(out[:, :2] / out[:, 2:3])

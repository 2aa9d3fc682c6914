"""Where a camera is: its pose in the site frame, from the same surveyed ground points as the homography.

A homography only knows the ground plane. To place the top of a 2.6 m container, or any point at a known height,
the camera's ray through the pixel is cut with the plane z = height, which needs the camera's position and
orientation. ``solvePnP`` with IPPE (made for planar targets) gives both solutions of the planar ambiguity; the one
with the camera above the ground is kept and refined with Levenberg–Marquardt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

from calibration.checks import arrays_equal, vector3
from calibration.errors import CalibrationError
from calibration.intrinsics import Intrinsics
from calibration.points import check_point_pairs

MIN_CAMERA_HEIGHT_M: Final = 0.05


@dataclass(frozen=True, eq=False)
class CameraPose:
    """Rodrigues rotation and translation mapping site coordinates to camera coordinates (OpenCV convention)."""

    rvec: np.ndarray
    tvec: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "rvec", vector3(self.rvec, "rvec"))
        object.__setattr__(self, "tvec", vector3(self.tvec, "tvec"))

    def __eq__(self, other: object) -> bool:
        return arrays_equal(self, other, ("rvec", "tvec"))

    __hash__ = None  # type: ignore[assignment]

    @property
    def rotation(self) -> np.ndarray:
        """The (3, 3) rotation matrix, site → camera."""
        matrix, _ = cv2.Rodrigues(self.rvec)
        return np.asarray(matrix, dtype=np.float64)

    @property
    def centre(self) -> np.ndarray:
        """The camera's position in the site frame, in metres."""
        return np.asarray(-self.rotation.T @ self.tvec)


def look_at(position_m: tuple[float, float, float], target_m: tuple[float, float, float], *,
            roll_rad: float = 0.0) -> CameraPose:
    """The pose of a camera at ``position_m`` whose optical axis passes through ``target_m``, image up = site up.

    A camera looking straight down has no "up" in the site; its image top then points along +x.
    """
    position = np.asarray(position_m, dtype=np.float64)
    forward = np.asarray(target_m, dtype=np.float64) - position
    if not np.isfinite(forward).all() or np.linalg.norm(forward) < 1e-9:
        raise CalibrationError("look_at needs distinct, finite position and target")
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:
        right = np.cross(forward, [1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    cos, sin = np.cos(roll_rad), np.sin(roll_rad)
    rotation = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]]) @ rotation
    rvec, _ = cv2.Rodrigues(rotation)
    return CameraPose(rvec.reshape(3), -rotation @ position)


def estimate_pose(intrinsics: Intrinsics, image_points: np.ndarray, ground_points: np.ndarray) -> CameraPose:
    """The camera pose from ≥ 4 surveyed ground points (z = 0) and where they appear in the raw image."""
    image, ground = check_point_pairs(image_points, ground_points)
    world = np.hstack([ground, np.zeros((len(ground), 1))])
    try:
        count, rvecs, tvecs, _ = cv2.solvePnPGeneric(world, image, intrinsics.camera_matrix, intrinsics.distortion,
                                                     flags=cv2.SOLVEPNP_IPPE)
    except cv2.error as exc:
        raise CalibrationError(f"solvePnP failed: {str(exc).strip().splitlines()[-1]}") from None
    candidates = [CameraPose(r.reshape(3), t.reshape(3)) for r, t in zip(rvecs[:count], tvecs[:count], strict=True)]
    usable = [pose for pose in candidates if _sees_points_from_above(pose, world)]
    if not usable:
        raise CalibrationError("no camera pose above the ground sees all the surveyed points; check the survey")
    errors = [pose_error_px(intrinsics, pose, image, ground).mean() for pose in usable]
    best = usable[int(np.argmin(errors))]
    rvec, tvec = cv2.solvePnPRefineLM(world, image, intrinsics.camera_matrix, intrinsics.distortion,
                                      best.rvec.copy().reshape(3, 1), best.tvec.copy().reshape(3, 1))
    refined = CameraPose(rvec.reshape(3), tvec.reshape(3))
    return refined if _sees_points_from_above(refined, world) else best


def pose_error_px(intrinsics: Intrinsics, pose: CameraPose, image_points: np.ndarray,
                  ground_points: np.ndarray) -> np.ndarray:
    """Per point, the distance in pixels between where the pose projects a ground point and where it was seen."""
    ground = np.asarray(ground_points, dtype=np.float64)
    world = np.hstack([ground, np.zeros((len(ground), 1))])
    projected, _ = cv2.projectPoints(world, pose.rvec, pose.tvec, intrinsics.camera_matrix, intrinsics.distortion)
    return np.asarray(np.linalg.norm(projected.reshape(-1, 2) - np.asarray(image_points), axis=1))


def homography_from_pose(intrinsics: Intrinsics, pose: CameraPose) -> np.ndarray:
    """The exact image → ground homography (undistorted pixels → metres on z = 0) of a known camera."""
    rotation = pose.rotation
    ground_to_image = intrinsics.camera_matrix @ np.column_stack([rotation[:, 0], rotation[:, 1], pose.tvec])
    image_to_ground = np.linalg.inv(ground_to_image)
    return np.asarray(image_to_ground / np.linalg.norm(image_to_ground))


def _sees_points_from_above(pose: CameraPose, world: np.ndarray) -> bool:
    depth = (world @ pose.rotation.T + pose.tvec)[:, 2]
    return bool((depth > 0).all() and pose.centre[2] > MIN_CAMERA_HEIGHT_M)

"""Pixels ↔ site metres through a camera's calibration, for N points at once.

``pixels_to_ground`` is the per-frame path of the yard (detection foot points → ground): undistort, then one matrix
product. ``pixels_to_plane`` places points at a known height (the top face of a container) by cutting each pixel's
ray with the plane z = h, which needs the camera pose. Points that cannot be placed (above the horizon, behind the
camera) come back as NaN rows rather than raising, so one odd detection never stops a frame.
"""

from __future__ import annotations

import numpy as np

from calibration.errors import CalibrationError
from calibration.files import CameraCalibration
from calibration.homography import apply_homography
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose
from calibration.undistort import as_pixels, distort_normalised, distort_points, normalised_points, undistort_points


def pixels_to_ground(calibration: CameraCalibration, pixels: np.ndarray) -> np.ndarray:
    """(N, 2) raw pixels → (N, 2) metres on the ground plane z = 0."""
    points = as_pixels(pixels)
    if calibration.fit is not None:
        ideal = points if calibration.intrinsics is None else undistort_points(calibration.intrinsics, points)
        return apply_homography(calibration.fit.image_to_ground, ideal)
    if calibration.intrinsics is not None and calibration.pose is not None:
        return pixels_to_plane(calibration, points, 0.0)
    raise CalibrationError(f"camera {calibration.camera_id!r} has neither a homography nor a pose")


def pixels_to_plane(calibration: CameraCalibration, pixels: np.ndarray, height_m: np.ndarray | float) -> np.ndarray:
    """(N, 2) raw pixels → (N, 2) site x, y where each pixel's ray meets the plane z = ``height_m``.

    ``height_m`` is one height or one per point. Rays that meet the plane behind the camera give NaN.
    """
    intrinsics, pose = _camera(calibration)
    points = as_pixels(pixels)
    heights = _heights(height_m, len(points))
    rays = np.hstack([normalised_points(intrinsics, points), np.ones((len(points), 1))]) @ pose.rotation
    centre = pose.centre
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = (heights - centre[2]) / rays[:, 2]
    ahead = distance > 0
    out = np.full((len(points), 2), np.nan)
    out[ahead] = centre[:2] + distance[ahead, None] * rays[ahead, :2]
    return out


def ground_to_pixels(calibration: CameraCalibration, ground: np.ndarray,
                     height_m: np.ndarray | float = 0.0) -> np.ndarray:
    """(N, 2) site x, y at height ``height_m`` → (N, 2) raw pixels; NaN for points behind the camera.

    Uses the pose when there is one (any height); otherwise the inverse homography (height 0 only).
    """
    points = as_pixels(ground, "ground")
    heights = _heights(height_m, len(points))
    if calibration.intrinsics is not None and calibration.pose is not None:
        return project_points(calibration.intrinsics, calibration.pose, np.hstack([points, heights[:, None]]))
    if calibration.fit is None:
        raise CalibrationError(f"camera {calibration.camera_id!r} has neither a homography nor a pose")
    if np.any(heights != 0):
        raise CalibrationError(f"camera {calibration.camera_id!r} has no pose; only ground points (z = 0) project")
    ideal = apply_homography(calibration.fit.ground_to_image, points)
    return ideal if calibration.intrinsics is None else distort_points(calibration.intrinsics, ideal)


def project_points(intrinsics: Intrinsics, pose: CameraPose, world: np.ndarray) -> np.ndarray:
    """(N, 3) site points → (N, 2) raw pixels; NaN behind the camera or beyond the lens model's valid field."""
    array = np.asarray(world, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise CalibrationError(f"world points must have shape (N, 3), got {array.shape}")
    camera = array @ pose.rotation.T + pose.tvec
    depth = camera[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = camera[:, :2] / depth[:, None]
    normalised[~(depth > 0)] = np.nan
    return distort_normalised(intrinsics, normalised)


def _camera(calibration: CameraCalibration) -> tuple[Intrinsics, CameraPose]:
    if calibration.intrinsics is None or calibration.pose is None:
        raise CalibrationError(f"camera {calibration.camera_id!r} needs intrinsics and a pose to place points "
                               "above the ground")
    return calibration.intrinsics, calibration.pose


def _heights(height_m: np.ndarray | float, count: int) -> np.ndarray:
    heights = np.asarray(height_m, dtype=np.float64)
    if heights.ndim == 0:
        return np.full(count, float(heights))
    if heights.shape != (count,):
        raise CalibrationError(f"height_m must be one number or shape ({count},), got {heights.shape}")
    return heights


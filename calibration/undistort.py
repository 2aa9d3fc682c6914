"""Removing (and re-applying) lens distortion, for points and for whole images.

A homography is a projective map and holds only for an ideal pinhole camera, so image points are undistorted
before they meet one. Points use OpenCV's iterative inverse with a tight stopping rule (its default five iterations
leave tenths of a pixel near the corners of a wide lens); images use a remap, with the maps built once per camera.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np

from calibration.errors import CalibrationError
from calibration.intrinsics import Intrinsics

_UNDISTORT_CRITERIA: Final = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-9)


def as_pixels(pixels: np.ndarray, name: str = "pixels") -> np.ndarray:
    """``pixels`` as a float64 (N, 2) array; non-finite rows are allowed and come out as NaN downstream."""
    array = np.asarray(pixels, dtype=np.float64)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise CalibrationError(f"{name} must have shape (N, 2), got {array.shape}")
    return array


def normalised_points(intrinsics: Intrinsics, pixels: np.ndarray) -> np.ndarray:
    """Raw pixels → ideal normalised image coordinates (x/z, y/z): the direction of each pixel's ray."""
    points = as_pixels(pixels)
    if len(points) == 0:
        return np.zeros((0, 2))
    out = cv2.undistortPoints(points.reshape(-1, 1, 2), intrinsics.camera_matrix, intrinsics.distortion,
                              criteria=_UNDISTORT_CRITERIA)
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def undistort_points(intrinsics: Intrinsics, pixels: np.ndarray) -> np.ndarray:
    """Raw pixels → the pixels an ideal pinhole camera with the same camera matrix would have seen."""
    normalised = normalised_points(intrinsics, pixels)
    matrix = intrinsics.camera_matrix
    ideal: np.ndarray = normalised @ matrix[:2, :2].T + matrix[:2, 2]
    return ideal


def distort_normalised(intrinsics: Intrinsics, normalised: np.ndarray) -> np.ndarray:
    """Ideal normalised coordinates → raw pixels; NaN beyond the radius where the lens model folds back."""
    points = as_pixels(normalised, "normalised")
    k1, k2, p1, p2, k3 = intrinsics.distortion
    x, y = points[:, 0], points[:, 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    matrix = intrinsics.camera_matrix
    out = np.stack([matrix[0, 0] * xd + matrix[0, 1] * yd + matrix[0, 2], matrix[1, 1] * yd + matrix[1, 2]], axis=1)
    out[r2 > max_valid_radius(intrinsics) ** 2] = np.nan
    return out


def distort_points(intrinsics: Intrinsics, undistorted: np.ndarray) -> np.ndarray:
    """The inverse of ``undistort_points``: ideal pixels → raw pixels (NaN where the lens model is not valid)."""
    points = as_pixels(undistorted, "undistorted")
    matrix = intrinsics.camera_matrix
    y = (points[:, 1] - matrix[1, 2]) / matrix[1, 1]
    x = (points[:, 0] - matrix[0, 2] - matrix[0, 1] * y) / matrix[0, 0]
    return distort_normalised(intrinsics, np.stack([x, y], axis=1))


def max_valid_radius(intrinsics: Intrinsics) -> float:
    """The normalised radius up to which the radial distortion keeps growing with the radius.

    Beyond it the polynomial folds back, so a point far outside the view would land inside the image; callers
    projecting into the image treat such points as not visible. Searched up to three image half-diagonals.
    """
    k1, k2, _, _, k3 = intrinsics.distortion
    width, height = intrinsics.image_size
    limit = 3.0 * float(np.hypot(width, height)) / 2 / min(intrinsics.focal_px)
    r = np.linspace(0.0, limit, 2048)
    r2 = r * r
    slope = 1 + 3 * k1 * r2 + 5 * k2 * r2 * r2 + 7 * k3 * r2 * r2 * r2
    folding = np.flatnonzero(slope <= 0)
    return float(r[folding[0]]) if folding.size else float("inf")


def undistortion_maps(intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """Remap tables (fixed point) for ``cv2.remap``: build once per camera, apply to every frame."""
    map1, map2 = cv2.initUndistortRectifyMap(intrinsics.camera_matrix, intrinsics.distortion, None,
                                             intrinsics.camera_matrix, intrinsics.image_size, cv2.CV_16SC2)
    return map1, map2


def undistort_image(intrinsics: Intrinsics, image: np.ndarray) -> np.ndarray:
    """One image as an ideal pinhole camera with the same camera matrix would have taken it."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise CalibrationError(f"image must be an (H, W) or (H, W, C) array, got {getattr(image, 'shape', image)}")
    height, width = image.shape[:2]
    if (width, height) != intrinsics.image_size:
        raise CalibrationError(f"image is {width}x{height}, the calibration is for "
                               f"{intrinsics.image_size[0]}x{intrinsics.image_size[1]}")
    map1, map2 = undistortion_maps(intrinsics)
    return np.asarray(cv2.remap(image, map1, map2, cv2.INTER_LINEAR))

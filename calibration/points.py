"""Checks on surveyed point pairs (image pixel ↔ ground metres) before anything is fitted to them.

A homography has eight degrees of freedom, so it needs four pairs with no three of them on one line. OpenCV will
happily return a matrix for collinear or repeated points; it is just meaningless. These checks turn such a survey
into a ``CalibrationError`` that says which points are wrong.

Degeneracy is judged on the linear (DLT) system of the Hartley-normalised points: a usable set leaves exactly one
solution, so the second-smallest singular value of that system must stay clear of zero. That one test covers three
collinear points out of four, four collinear points out of five, and every other configuration that leaves the
homography undetermined.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from calibration.checks import points2d
from calibration.errors import CalibrationError

MIN_PAIRS: Final = 4
MAX_PAIRS: Final = 1000
DUPLICATE_PX: Final = 0.1
DUPLICATE_M: Final = 0.001
COLLINEAR_RATIO: Final = 1e-3
"""Smallest / largest singular value of the centred points below which the points lie on a line."""
DEGENERATE_RATIO: Final = 1e-4
"""Second-smallest / largest singular value of the normalised DLT system below which the fit is undetermined."""


def check_point_pairs(image_points: np.ndarray, ground_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated (N, 2) image and ground arrays, or ``CalibrationError`` naming the problem."""
    image = points2d(image_points, "image_points", max_points=MAX_PAIRS)
    ground = points2d(ground_points, "ground_points", max_points=MAX_PAIRS)
    if len(image) != len(ground):
        raise CalibrationError(f"{len(image)} image points but {len(ground)} ground points; they must pair up")
    if len(image) < MIN_PAIRS:
        raise CalibrationError(f"need at least {MIN_PAIRS} point pairs, got {len(image)}")
    _check_duplicates(image, "image", DUPLICATE_PX, "px")
    _check_duplicates(ground, "ground", DUPLICATE_M, "m")
    check_spread(image, ground)
    return image, ground


def check_spread(image: np.ndarray, ground: np.ndarray) -> None:
    """Refuse collinear points and any other configuration that leaves the homography undetermined."""
    for points, name in ((image, "image"), (ground, "ground")):
        singular = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
        if singular[-1] <= COLLINEAR_RATIO * singular[0]:
            raise CalibrationError(f"the {len(points)} {name} points are collinear (spread across the line "
                                   f"{singular[-1] / singular[0]:.2g} of the spread along it); survey points off "
                                   "the line")
    singular = np.linalg.svd(_dlt_system(image, ground), compute_uv=False)
    if singular[7] <= DEGENERATE_RATIO * singular[0]:
        raise CalibrationError(f"the {len(image)} point pairs do not determine a homography (three or more of "
                               "them on one line); survey points spread over the area")


def _check_duplicates(points: np.ndarray, name: str, tolerance: float, unit: str) -> None:
    distance = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    distance[np.tril_indices(len(points))] = np.inf
    first, second = np.unravel_index(int(np.argmin(distance)), distance.shape)
    if distance[first, second] <= tolerance:
        raise CalibrationError(f"{name} points #{first} and #{second} are duplicates "
                               f"({distance[first, second]:.3g} {unit} apart)")


def hartley_transform(points: np.ndarray) -> np.ndarray:
    """The 3×3 similarity moving ``points`` to their centroid and scaling them to a mean distance of √2.

    Fits and condition numbers are judged in these coordinates so that pixels (hundreds) and metres (tens) weigh
    alike.
    """
    centroid = points.mean(axis=0)
    scale = np.sqrt(2.0) / max(float(np.linalg.norm(points - centroid, axis=1).mean()), 1e-300)
    return np.array([[scale, 0.0, -scale * centroid[0]], [0.0, scale, -scale * centroid[1]], [0.0, 0.0, 1.0]])


def _hartley(points: np.ndarray) -> np.ndarray:
    transform = hartley_transform(points)
    moved: np.ndarray = points * transform[0, 0] + transform[:2, 2]
    return moved


def _dlt_system(image: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """The 2N × 9 matrix A with A · vec(H) = 0 for ground ~ H · image, on normalised points."""
    src, dst = _hartley(image), _hartley(ground)
    n = len(src)
    ones, zeros = np.ones((n, 1)), np.zeros((n, 3))
    src_h = np.hstack([src, ones])
    rows_x = np.hstack([src_h, zeros, -dst[:, :1] * src_h])
    rows_y = np.hstack([zeros, src_h, -dst[:, 1:] * src_h])
    system: np.ndarray = np.vstack([rows_x, rows_y])
    return system

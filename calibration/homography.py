"""The image → ground homography of a camera, fitted to surveyed point pairs.

RANSAC (OpenCV's, deterministic) finds the pairs that agree within ``ransac_threshold_m`` on the ground, so one
mistyped survey point cannot bend the whole map. The final model is then refitted on the inliers in the other
direction, ground → image, minimising the error in pixels: the survey is accurate to millimetres, the clicks in the
image are not, so the pixel error is the one to minimise. The error reported is in metres on the ground.

The matrix is scaled to unit norm and signed so that points in front of the camera have a positive homogeneous w;
pixels above the horizon then get w ≤ 0 and map to NaN instead of to a mirror image behind the camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

from calibration.checks import arrays_equal, finite_number, frozen_array, invertible_3x3
from calibration.errors import CalibrationError
from calibration.points import MIN_PAIRS, check_point_pairs, check_spread, hartley_transform

MAX_NORMALISED_CONDITION: Final = 1e6
"""Condition number, in Hartley-normalised coordinates, above which a fitted homography counts as not invertible."""
_RANSAC_ITERATIONS: Final = 2000
_REFIT_ROUNDS: Final = 3


@dataclass(frozen=True, eq=False)
class HomographyFit:
    """A fitted image → ground homography: which pairs it agrees with and how well, in metres on the ground."""

    image_to_ground: np.ndarray
    inliers: np.ndarray
    rmse_m: float
    max_error_m: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_to_ground", invertible_3x3(self.image_to_ground, "image_to_ground"))
        inliers = np.asarray(self.inliers)
        if inliers.ndim != 1 or (inliers.size and inliers.dtype != np.bool_):
            raise CalibrationError(f"inliers must be a (N,) bool array, got {inliers.dtype} {inliers.shape}")
        inliers = inliers.astype(np.bool_, copy=True)
        inliers.flags.writeable = False
        object.__setattr__(self, "inliers", inliers)
        object.__setattr__(self, "rmse_m", finite_number(self.rmse_m, "rmse_m", minimum=0.0))
        object.__setattr__(self, "max_error_m", finite_number(self.max_error_m, "max_error_m", minimum=0.0))

    def __eq__(self, other: object) -> bool:
        return arrays_equal(self, other, ("image_to_ground", "inliers", "rmse_m", "max_error_m"))

    __hash__ = None  # type: ignore[assignment]

    @property
    def ground_to_image(self) -> np.ndarray:
        """The inverse map: ground metres → undistorted pixels."""
        inverse = np.linalg.inv(self.image_to_ground)
        return np.asarray(inverse / np.linalg.norm(inverse))


def fit_homography(image_points: np.ndarray, ground_points: np.ndarray, *,
                   ransac_threshold_m: float = 0.25) -> HomographyFit:
    """Fit undistorted image points (N, 2) to ground points (N, 2) in metres; N ≥ 4, no three on one line."""
    image, ground = check_point_pairs(image_points, ground_points)
    threshold = finite_number(ransac_threshold_m, "ransac_threshold_m")
    if threshold <= 0:
        raise CalibrationError(f"ransac_threshold_m must be positive, got {threshold}")
    needed = required_inliers(len(image))
    inliers = _ransac_inliers(image, ground, threshold)
    matrix, errors = _fit_inliers(image, ground, inliers, needed, threshold)
    for _ in range(_REFIT_ROUNDS):  # the refit may confirm a point RANSAC doubted, or doubt one it took
        agreeing = np.nan_to_num(errors, nan=np.inf) <= threshold
        if np.array_equal(agreeing, inliers) or int(agreeing.sum()) < needed:
            break
        inliers = agreeing
        matrix, errors = _fit_inliers(image, ground, inliers, needed, threshold)
    kept = errors[inliers]
    return HomographyFit(matrix, inliers, float(np.sqrt(np.mean(kept ** 2))), float(kept.max()))


def required_inliers(pairs: int) -> int:
    """How many of ``pairs`` must agree with a fit for it to be trusted.

    Any four pairs fit some homography exactly, so with more than four points a fit is only evidence when at least
    one more point confirms it, and when it explains at least half of the survey.
    """
    return MIN_PAIRS if pairs <= MIN_PAIRS else max(MIN_PAIRS + 1, math.ceil(pairs / 2))


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 3×3 homography; rows with w ≤ 0 (beyond the horizon) or NaN input give NaN."""
    matrix = np.asarray(h, dtype=np.float64)
    if matrix.shape != (3, 3):
        raise CalibrationError(f"homography must have shape (3, 3), got {matrix.shape}")
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise CalibrationError(f"points must have shape (N, 2), got {array.shape}")
    mapped = array @ matrix[:, :2].T + matrix[:, 2]
    w = mapped[:, 2:]
    out = np.full((len(array), 2), np.nan)
    np.divide(mapped[:, :2], w, out=out, where=w > 0)
    return out


def _fit_inliers(image: np.ndarray, ground: np.ndarray, inliers: np.ndarray, needed: int,
                 threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The homography refitted on ``inliers`` and the ground error of every pair under it."""
    if int(inliers.sum()) < needed:
        raise CalibrationError(f"only {int(inliers.sum())} of {len(image)} point pairs agree within "
                               f"{threshold:g} m, need {needed}; check the survey for mistakes")
    check_spread(image[inliers], ground[inliers])
    matrix = _refit(image[inliers], ground[inliers])
    return matrix, np.linalg.norm(apply_homography(matrix, image) - ground, axis=1)


def _ransac_inliers(image: np.ndarray, ground: np.ndarray, threshold: float) -> np.ndarray:
    if len(image) == MIN_PAIRS:
        return np.ones(len(image), dtype=bool)
    matrix, mask = cv2.findHomography(image, ground, cv2.RANSAC, threshold, maxIters=_RANSAC_ITERATIONS,
                                      confidence=0.999)
    if matrix is None or mask is None:
        raise CalibrationError(f"no homography agrees with four or more of the {len(image)} point pairs within "
                               f"{threshold:g} m")
    return np.asarray(mask, dtype=bool).reshape(-1)


def _refit(image: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """Least squares in pixels (ground → image, Levenberg–Marquardt refined), inverted and normalised."""
    ground_to_image, _ = cv2.findHomography(ground, image, 0)
    if ground_to_image is None or not np.isfinite(ground_to_image).all() or np.linalg.det(ground_to_image) == 0:
        raise CalibrationError("the point pairs do not determine a homography")
    image_to_ground = np.linalg.inv(ground_to_image)
    normalised = hartley_transform(ground) @ image_to_ground @ np.linalg.inv(hartley_transform(image))
    condition = float(np.linalg.cond(normalised)) if np.isfinite(normalised).all() else math.inf
    if not math.isfinite(condition) or condition > MAX_NORMALISED_CONDITION:
        raise CalibrationError(f"the fitted homography is not invertible (condition number {condition:.3g}); "
                               "the points are nearly degenerate")
    matrix = image_to_ground / np.linalg.norm(image_to_ground)
    w = image @ matrix[2, :2] + matrix[2, 2]
    if (w > 0).all():
        return frozen_array(matrix, "image_to_ground", (3, 3))
    if (w < 0).all():
        return frozen_array(-matrix, "image_to_ground", (3, 3))
    raise CalibrationError("the surveyed points lie on both sides of the horizon of the fitted homography")

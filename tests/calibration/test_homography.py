"""Image → ground homographies: accuracy on a mast camera, RANSAC, and every way a survey can be unusable."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.errors import CalibrationError
from calibration.files import CameraCalibration
from calibration.homography import HomographyFit, apply_homography, fit_homography
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose
from calibration.projection import ground_to_pixels, pixels_to_ground
from calibration.synthetic import survey_points
from calibration.undistort import undistort_points


def _ring(radius_m: float, count: int = 11) -> np.ndarray:
    """Ground points ``radius_m`` from the mast foot, across the camera's view (±25°)."""
    angle = np.radians(np.linspace(-25.0, 25.0, count))
    return np.stack([radius_m * np.cos(angle), radius_m * np.sin(angle)], axis=1)


@pytest.mark.parametrize("points", [6, 8, 10])
def test_ground_positions_within_5_cm_at_30_m(camera: Intrinsics, mast_pose: CameraPose,
                                               truth: CameraCalibration, points: int) -> None:
    rng = np.random.default_rng(1)
    image, ground = survey_points(camera, mast_pose, points, rng, pixel_noise_px=0.5, max_range_m=45.0)
    fit = fit_homography(undistort_points(camera, image), ground)
    assert fit.inliers.all()
    assert fit.rmse_m < 0.05
    surveyed = CameraCalibration("mast-1", camera.image_size, camera, fit, None, image, ground)
    targets = _ring(30.0)
    seen = ground_to_pixels(truth, targets)  # where the targets appear in the raw image
    error = np.linalg.norm(pixels_to_ground(surveyed, seen) - targets, axis=1)
    assert error.max() < 0.05


def test_ransac_drops_one_gross_outlier(camera: Intrinsics, mast_pose: CameraPose) -> None:
    rng = np.random.default_rng(2)
    image, ground = survey_points(camera, mast_pose, 8, rng, pixel_noise_px=0.5, max_range_m=45.0)
    wrong = ground.copy()
    wrong[5] += [2.0, -1.5]  # a mistyped survey coordinate
    fit = fit_homography(undistort_points(camera, image), wrong)
    assert fit.inliers.tolist() == [True] * 5 + [False] + [True] * 2
    assert fit.rmse_m < 0.05
    assert fit.max_error_m < 0.1
    clean = fit_homography(undistort_points(camera, image)[fit.inliers], ground[fit.inliers])
    np.testing.assert_allclose(fit.image_to_ground, clean.image_to_ground, atol=1e-9)


def test_too_many_outliers_is_an_error(camera: Intrinsics, mast_pose: CameraPose) -> None:
    rng = np.random.default_rng(3)
    image, ground = survey_points(camera, mast_pose, 6, rng, pixel_noise_px=0.5, max_range_m=45.0)
    scrambled = ground[[1, 0, 3, 2, 5, 4]]
    with pytest.raises(CalibrationError, match=r"only \d of 6 point pairs agree within 0.25 m, need 5"):
        fit_homography(undistort_points(camera, image), scrambled)


def test_four_exact_points_are_reproduced_exactly(truth: CameraCalibration) -> None:
    ground = np.array([[15.0, -6.0], [40.0, -10.0], [40.0, 10.0], [15.0, 6.0]])
    ideal = apply_homography(truth.fit.ground_to_image, ground)  # type: ignore[union-attr]
    fit = fit_homography(ideal, ground)
    assert fit.inliers.all()
    assert fit.rmse_m < 1e-6
    np.testing.assert_allclose(apply_homography(fit.image_to_ground, ideal), ground, atol=1e-6)


def test_apply_is_vectorised_and_nan_beyond_the_horizon(truth: CameraCalibration) -> None:
    matrix = truth.fit.image_to_ground  # type: ignore[union-attr]
    rng = np.random.default_rng(4)
    pixels = rng.uniform([0, 400], [1280, 720], size=(10_000, 2))
    together = apply_homography(matrix, pixels)
    one_by_one = np.array([apply_homography(matrix, p[None])[0] for p in pixels[:50]])
    np.testing.assert_allclose(together[:50], one_by_one)
    assert np.isfinite(together).all()
    sky = apply_homography(matrix, np.array([[640.0, -300.0], [np.nan, 500.0]]))
    assert np.isnan(sky).all()  # above the horizon (w < 0) and NaN input
    assert apply_homography(matrix, np.zeros((0, 2))).shape == (0, 2)


SQUARE = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0], [50.0, 30.0]])
GROUND = SQUARE / 10.0


def _with(points: np.ndarray, index: int, value: list[float]) -> np.ndarray:
    changed = points.copy()
    changed[index] = value
    return changed


@pytest.mark.parametrize(("image", "ground", "match"), [
    (SQUARE[:3], GROUND[:3], "need at least 4 point pairs, got 3"),
    (np.zeros((0, 2)), np.zeros((0, 2)), "need at least 4 point pairs, got 0"),
    (SQUARE, GROUND[:4], "5 image points but 4 ground points"),
    (SQUARE[:, :1], GROUND, r"image_points must have shape \(N, 2\)"),
    (SQUARE, np.hstack([GROUND, GROUND]), r"ground_points must have shape \(N, 2\)"),
    (_with(SQUARE, 2, [np.nan, 1.0]), GROUND, "non-finite"),
    (SQUARE, _with(GROUND, 1, [np.inf, 0.0]), "non-finite"),
    ([["a", "b"]] * 4, GROUND[:4], "must be numbers"),
    (_with(SQUARE, 4, [100.0, 100.0]), GROUND, "image points #2 and #4 are duplicates"),
    (SQUARE, _with(GROUND, 3, [0.0, 0.0]), "ground points #0 and #3 are duplicates"),
    (np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 20.0], [30.0, 30.0], [45.0, 45.0]]), GROUND, "image points are "
                                                                                               "collinear"),
    (SQUARE, np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]]), "ground points are collinear"),
    (np.array([[0.0, 0.0], [50.0, 0.0], [100.0, 0.0], [50.0, 80.0]]), np.array([[0.0, 0.0], [5.0, 0.0], [10.0, 0.0],
                                                                                [5.0, 8.0]]),
     "do not determine a homography"),
    (np.array([[0.0, 0.0], [30.0, 0.0], [60.0, 0.0], [90.0, 0.0], [40.0, 70.0]]),
     np.array([[0.0, 0.0], [3.0, 0.0], [6.0, 0.0], [9.0, 0.0], [4.0, 7.0]]), "do not determine a homography"),
])
def test_unusable_surveys_are_refused(image: object, ground: object, match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        fit_homography(image, ground)  # type: ignore[arg-type]


def test_a_point_pair_folding_the_plane_is_refused() -> None:
    # the fourth image point sits inside the triangle of the others while its ground point lies outside: no
    # homography maps all four without putting some of them beyond the horizon
    image = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [25.0, 25.0]])
    ground = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    with pytest.raises(CalibrationError, match="horizon"):
        fit_homography(image, ground)


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan")])
def test_ransac_threshold_must_be_positive(threshold: float) -> None:
    with pytest.raises(CalibrationError, match="ransac_threshold_m"):
        fit_homography(SQUARE, GROUND, ransac_threshold_m=threshold)


@pytest.mark.parametrize(("matrix", "inliers", "rmse", "match"), [
    (np.ones((3, 3)), [True], 0.0, "not invertible"),
    (np.diag([1.0, 1.0, 1e-14]), [True], 0.0, "not invertible"),
    (np.diag([1.0, np.nan, 1.0]), [True], 0.0, "non-finite"),
    (np.eye(2), [True], 0.0, r"shape \(3, 3\)"),
    (np.eye(3), [1, 0], 0.0, "bool"),
    (np.eye(3), [[True]], 0.0, "bool"),
    (np.eye(3), [True], -1.0, "at least 0"),
    (np.eye(3), [True], float("inf"), "finite"),
])
def test_homography_fit_validates_every_field(matrix: np.ndarray, inliers: object, rmse: float, match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        HomographyFit(matrix, inliers, rmse, 0.0)  # type: ignore[arg-type]

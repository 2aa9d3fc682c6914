"""The synthetic cameras are what they claim to be: reproducible, visible, and exact where they say so."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.errors import CalibrationError
from calibration.files import CameraCalibration
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose
from calibration.projection import ground_to_pixels, pixels_to_ground, pixels_to_plane
from calibration.synthetic import (
    INK,
    PAPER,
    chessboard_images,
    chessboard_poses,
    exact_calibration,
    render_chessboard,
    survey_points,
)
from tests.calibration.conftest import BOARD, SQUARE_M


def test_chessboard_images_are_reproducible_and_show_the_board(camera: Intrinsics) -> None:
    first = chessboard_images(camera, BOARD, SQUARE_M, 2, seed=5)
    again = chessboard_images(camera, BOARD, SQUARE_M, 2, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert first[0].shape == (720, 1280)
    assert first[0].dtype == np.uint8
    assert not np.array_equal(first[0], chessboard_images(camera, BOARD, SQUARE_M, 1, seed=6)[0])
    values = np.bincount(first[0].ravel(), minlength=256)
    assert values[INK - 10:INK + 10].sum() > 10_000
    assert values[PAPER - 10:PAPER + 10].sum() > 10_000


def test_poses_keep_the_whole_board_in_view(camera: Intrinsics) -> None:
    poses = chessboard_poses(camera, BOARD, SQUARE_M, 6, np.random.default_rng(11))
    assert len(poses) == 6
    tilts = [np.degrees(np.arccos(abs(p.rotation[2, 2]))) for p in poses]
    assert max(tilts) > 15.0  # the views are tilted, which is what pins down the focal length
    clean = render_chessboard(camera, poses[0], BOARD, SQUARE_M)
    border = np.concatenate([clean[0], clean[-1], clean[:, 0], clean[:, -1]])
    assert (border == border[0]).all()  # nothing of the board touches the image edge


def test_survey_points_are_spread_visible_and_exact_on_the_ground(camera: Intrinsics, mast_pose: CameraPose,
                                                                  truth: CameraCalibration) -> None:
    image, ground = survey_points(camera, mast_pose, 10, np.random.default_rng(12), pixel_noise_px=0.0,
                                  max_range_m=45.0)
    assert image.shape == ground.shape == (10, 2)
    np.testing.assert_allclose(ground_to_pixels(truth, ground), image, atol=1e-6)
    assert (np.linalg.norm(ground, axis=1) <= 45.0).all()
    assert np.ptp(image[:, 0]) > 800
    assert np.ptp(image[:, 1]) > 150
    noisy, same_ground = survey_points(camera, mast_pose, 10, np.random.default_rng(12), pixel_noise_px=0.5,
                                       max_range_m=45.0)
    np.testing.assert_array_equal(same_ground, ground)
    assert 0.1 < np.abs(noisy - image).mean() < 1.0


def test_survey_needs_ground_in_view(camera: Intrinsics) -> None:
    from calibration.pose import look_at
    skyward = look_at((0.0, 0.0, 12.0), (100.0, 0.0, 40.0))
    with pytest.raises(CalibrationError, match="too little ground"):
        survey_points(camera, skyward, 8, np.random.default_rng(0), max_range_m=20.0)


def test_exact_calibration_is_exact(camera: Intrinsics, mast_pose: CameraPose) -> None:
    ground = np.array([[15.0, -5.0], [30.0, 5.0], [45.0, 0.0], [20.0, 8.0]])
    exact = exact_calibration("mast-1", camera, mast_pose, ground)
    assert exact.fit is not None
    assert exact.fit.inliers.all()
    assert exact.fit.rmse_m == 0.0
    np.testing.assert_allclose(pixels_to_ground(exact, exact.image_points), ground, atol=1e-9)
    np.testing.assert_allclose(pixels_to_plane(exact, exact.image_points, 0.0), ground, atol=1e-9)
    with pytest.raises(CalibrationError, match="not visible"):
        exact_calibration("mast-1", camera, mast_pose, np.array([[-10.0, 0.0]]))

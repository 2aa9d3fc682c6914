"""Undistortion of points and images against the lens model they invert."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.errors import CalibrationError
from calibration.intrinsics import Intrinsics, _board_points, _find_corners
from calibration.projection import project_points
from calibration.synthetic import chessboard_poses, pinhole, render_chessboard
from calibration.undistort import (
    distort_points,
    max_valid_radius,
    undistort_image,
    undistort_points,
    undistortion_maps,
)
from tests.calibration.conftest import BOARD, SQUARE_M


def test_points_round_trip_to_a_micro_pixel_across_the_image(camera: Intrinsics) -> None:
    u, v = np.meshgrid(np.linspace(0, 1279, 33), np.linspace(0, 719, 19))
    raw = np.stack([u.ravel(), v.ravel()], axis=1)
    ideal = undistort_points(camera, raw)
    np.testing.assert_allclose(distort_points(camera, ideal), raw, atol=1e-6)
    corner_shift = np.linalg.norm(ideal[0] - raw[0])
    assert corner_shift > 20.0  # barrel distortion pulls the corners in by tens of pixels: the test is not vacuous
    np.testing.assert_allclose(undistort_points(camera, np.array([camera.principal_point])),
                               [camera.principal_point], atol=1e-9)


def test_undistorted_image_shows_a_pinhole_camera(camera: Intrinsics) -> None:
    pose = chessboard_poses(camera, BOARD, SQUARE_M, 1, np.random.default_rng(9))[0]
    photo = render_chessboard(camera, pose, BOARD, SQUARE_M, noise_std=1.0, rng=np.random.default_rng(10))
    straight = undistort_image(camera, photo)
    assert straight.shape == photo.shape
    assert straight.dtype == np.uint8
    corners = _find_corners(straight, BOARD)
    assert corners is not None
    ideal_camera = Intrinsics(camera.camera_matrix, np.zeros(5), camera.image_size)
    expected = project_points(ideal_camera, pose, _board_points(BOARD, SQUARE_M).astype(np.float64))
    found = corners.reshape(-1, 2)
    if np.abs(found - expected).max() > 20:  # the detector may number a symmetric board from the other end
        found = found[::-1]
    assert np.sqrt(np.mean(np.sum((found - expected) ** 2, axis=1))) < 0.3
    map1, _ = undistortion_maps(camera)
    assert map1.shape[:2] == (720, 1280)


def test_undistort_image_refuses_another_size(camera: Intrinsics) -> None:
    with pytest.raises(CalibrationError, match="image is 640x480, the calibration is for 1280x720"):
        undistort_image(camera, np.zeros((480, 640), dtype=np.uint8))
    with pytest.raises(CalibrationError, match="image must be"):
        undistort_image(camera, np.zeros(10, dtype=np.uint8))


@pytest.mark.parametrize(("k1", "expected"), [(-0.1, np.sqrt(1 / 0.3)), (0.0, np.inf), (0.05, np.inf)])
def test_lens_model_valid_radius(k1: float, expected: float) -> None:
    radius = max_valid_radius(pinhole(distortion=(k1, 0.0, 0.0, 0.0, 0.0)))
    if np.isinf(expected):
        assert np.isinf(radius)
    else:
        assert radius == pytest.approx(expected, rel=2e-3)


def test_points_must_be_n_by_2(camera: Intrinsics) -> None:
    with pytest.raises(CalibrationError, match=r"pixels must have shape \(N, 2\)"):
        undistort_points(camera, np.zeros((4, 3)))
    assert undistort_points(camera, np.zeros((0, 2))).shape == (0, 2)

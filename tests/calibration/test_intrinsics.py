"""Chessboard calibration recovers a known camera, and says which images it could not use."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.errors import CalibrationError
from calibration.intrinsics import Intrinsics, calibrate_chessboard
from calibration.synthetic import chessboard_images, pinhole
from tests.calibration.conftest import BOARD, SQUARE_M


def test_recovers_focal_length_principal_point_and_distortion(camera: Intrinsics,
                                                               board_images: list[np.ndarray]) -> None:
    result = calibrate_chessboard(board_images, BOARD, SQUARE_M)
    fx, fy = result.intrinsics.focal_px
    assert abs(fx - 1000.0) / 1000.0 < 0.01
    assert abs(fy - 1000.0) / 1000.0 < 0.01
    np.testing.assert_allclose(result.intrinsics.principal_point, camera.principal_point, atol=3.0)
    assert result.intrinsics.distortion[0] == pytest.approx(-0.1, abs=0.01)
    assert result.used == len(board_images)
    assert result.rejected == ()
    assert 0 < result.rms_px < 0.3
    assert result.intrinsics.rms_px == result.rms_px
    assert result.intrinsics.image_size == (1280, 720)


def test_reports_every_rejected_image_with_its_reason(board_images: list[np.ndarray]) -> None:
    blank = np.full((720, 1280), 128, dtype=np.uint8)
    small = board_images[0][:360, :640].copy()
    floats = board_images[1].astype(np.float32)
    images = [*board_images[:4], blank, small, floats, np.zeros((5, 5), dtype=np.uint8)]
    result = calibrate_chessboard(images, BOARD, SQUARE_M)
    assert result.used == 4
    reasons = dict(result.rejected)
    assert set(reasons) == {4, 5, 6, 7}
    assert "no 9x6 chessboard found" in reasons[4]
    assert "640x360" in reasons[5]
    assert "8-bit" in reasons[6]
    assert "too small" in reasons[7]


def test_colour_images_are_accepted(board_images: list[np.ndarray]) -> None:
    colour = [np.repeat(image[:, :, None], 3, axis=2) for image in board_images[:4]]
    result = calibrate_chessboard(colour, BOARD, SQUARE_M)
    assert result.used == 4
    assert abs(result.intrinsics.focal_px[0] - 1000.0) < 20.0


def test_too_few_usable_images_is_an_error(board_images: list[np.ndarray]) -> None:
    blank = np.full((720, 1280), 200, dtype=np.uint8)
    with pytest.raises(CalibrationError, match=r"only 2 of 4 images show the 9x6 chessboard, need at least 3"):
        calibrate_chessboard([board_images[0], blank, board_images[1], blank], BOARD, SQUARE_M)


@pytest.mark.parametrize(("board", "square", "match"), [
    ((9,), 0.05, "board must be"),
    ((9, 1), 0.05, "board must be"),
    ((9.0, 6), 0.05, "board must be"),
    ((9, 6), 0.0, "square_m must be positive"),
    ((9, 6), float("nan"), "finite"),
    ((9, 6), "5cm", "must be a number"),
])
def test_bad_board_description(board_images: list[np.ndarray], board: object, square: object, match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        calibrate_chessboard(board_images[:3], board, square)  # type: ignore[arg-type]


@pytest.mark.parametrize(("matrix", "distortion", "size", "match"), [
    (np.eye(3) * [1000, 1000, 1], np.zeros(4), (640, 480), r"distortion must have shape \(5,\)"),
    (np.diag([1000.0, 1000.0, 1.0])[:2], np.zeros(5), (640, 480), r"camera_matrix must have shape \(3, 3\)"),
    (np.diag([-1000.0, 1000.0, 1.0]), np.zeros(5), (640, 480), "focal lengths"),
    (np.diag([1000.0, 1000.0, 0.0]), np.zeros(5), (640, 480), "not invertible"),
    (np.diag([1000.0, np.nan, 1.0]), np.zeros(5), (640, 480), "non-finite"),
    (np.diag([1000.0, 1000.0, 1.0]), [np.inf, 0, 0, 0, 0], (640, 480), "non-finite"),
    (np.diag([1000.0, 1000.0, 1.0]), np.zeros(5), (640, 0), "image_size"),
    (np.diag([1000.0, 1000.0, 1.0]), np.zeros(5), (640.0, 480), "image_size"),
    ([[1000.0, 0, 700], [0, 1000.0, 240], [0, 0, 1]], np.zeros(5), (640, 480), "principal point"),
])
def test_intrinsics_validate_every_field(matrix: object, distortion: object, size: object, match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        Intrinsics(matrix, distortion, size)  # type: ignore[arg-type]


def test_intrinsics_are_frozen_copies(camera: Intrinsics) -> None:
    source = camera.camera_matrix.copy()
    made = Intrinsics(source, camera.distortion, camera.image_size)
    source[0, 0] = 5.0
    assert made.focal_px == (1000.0, 1000.0)
    with pytest.raises(ValueError, match="read-only"):
        made.camera_matrix[0, 0] = 1.0
    assert made == Intrinsics(camera.camera_matrix, camera.distortion, camera.image_size)
    assert made != Intrinsics(camera.camera_matrix, camera.distortion, (640, 480))


def test_a_view_that_does_not_fit_the_others_is_dropped(board_images: list[np.ndarray]) -> None:
    # one photograph taken through another lens (a zoomed camera with strong pincushion): the corners are found,
    # but no single camera explains it together with the rest
    other_lens = pinhole((1280, 720), 1400.0, (0.4, 0.0, 0.0, 0.0, 0.0))
    odd = chessboard_images(other_lens, BOARD, SQUARE_M, 1, seed=21)[0]
    result = calibrate_chessboard([*board_images[:7], odd], BOARD, SQUARE_M)
    assert result.used == 7
    assert [index for index, _ in result.rejected] == [7]
    assert "is an outlier" in result.rejected[0][1]
    assert abs(result.intrinsics.focal_px[0] - 1000.0) < 10.0

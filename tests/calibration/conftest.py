"""Cameras with known answers, shared by the calibration tests."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.files import CameraCalibration
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose, look_at
from calibration.synthetic import chessboard_images, exact_calibration, pinhole

BOARD = (9, 6)
SQUARE_M = 0.05
MAST_HEIGHT_M = 12.0


@pytest.fixture(scope="session")
def camera() -> Intrinsics:
    """1280×720, f = 1000 px, barrel distortion k1 = -0.1."""
    return pinhole((1280, 720), 1000.0, (-0.1, 0.0, 0.0, 0.0, 0.0))


@pytest.fixture(scope="session")
def mast_pose() -> CameraPose:
    """A yard camera on a 12 m mast at the site origin, looking along +x at the ground 25 m away."""
    return look_at((0.0, 0.0, MAST_HEIGHT_M), (25.0, 0.0, 0.0))


@pytest.fixture(scope="session")
def truth(camera: Intrinsics, mast_pose: CameraPose) -> CameraCalibration:
    """The exact calibration of the mast camera (no survey noise)."""
    return exact_calibration("mast-1", camera, mast_pose)


@pytest.fixture(scope="session")
def board_images(camera: Intrinsics) -> list[np.ndarray]:
    """Ten rendered chessboard photographs of the test camera (noise σ 2 grey levels, blur σ 0.6 px)."""
    return chessboard_images(camera, BOARD, SQUARE_M, 10, seed=3)

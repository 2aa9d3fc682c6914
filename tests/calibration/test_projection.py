"""Camera pose from a survey, and points placed on the ground or at a height through a calibration."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from calibration.errors import CalibrationError
from calibration.files import CameraCalibration
from calibration.homography import fit_homography
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose, estimate_pose, look_at
from calibration.projection import ground_to_pixels, pixels_to_ground, pixels_to_plane, project_points
from calibration.synthetic import survey_points
from calibration.undistort import undistort_points
from tests.calibration.conftest import MAST_HEIGHT_M

BOX_HEIGHT_M = 2.6  # a high-cube container on the ground


@pytest.fixture(scope="module")
def surveyed(camera: Intrinsics, mast_pose: CameraPose) -> CameraCalibration:
    """The mast camera as a technician would calibrate it: 8 surveyed points, 0.5 px click noise."""
    rng = np.random.default_rng(1)
    image, ground = survey_points(camera, mast_pose, 8, rng, pixel_noise_px=0.5, max_range_m=45.0)
    fit = fit_homography(undistort_points(camera, image), ground)
    pose = estimate_pose(camera, image, ground)
    return CameraCalibration("mast-1", camera.image_size, camera, fit, pose, image, ground)


def test_pose_recovers_the_camera_position(surveyed: CameraCalibration, mast_pose: CameraPose) -> None:
    assert surveyed.pose is not None
    np.testing.assert_allclose(surveyed.pose.centre, [0.0, 0.0, MAST_HEIGHT_M], atol=0.05)
    rotation_error = cv2.Rodrigues(surveyed.pose.rotation @ mast_pose.rotation.T)[0]
    assert np.degrees(np.linalg.norm(rotation_error)) < 0.1


def test_pixels_to_plane_recovers_the_top_of_a_box(surveyed: CameraCalibration, truth: CameraCalibration) -> None:
    top = np.array([[24.0, -1.2], [30.1, -1.2], [30.1, 1.2], [24.0, 1.2]])  # a 20 ft container roof
    seen = ground_to_pixels(truth, top, BOX_HEIGHT_M)
    placed = pixels_to_plane(surveyed, seen, BOX_HEIGHT_M)
    assert np.linalg.norm(placed - top, axis=1).max() < 0.05
    # the same pixels read as ground points land far behind the box: the reason heights matter
    assert (pixels_to_ground(surveyed, seen)[:, 0] - top[:, 0]).min() > 5.0


def test_pixels_to_plane_takes_one_height_per_point(truth: CameraCalibration) -> None:
    ground = np.array([[20.0, 0.0], [30.0, 5.0], [40.0, -5.0]])
    heights = np.array([0.0, 2.6, 5.2])
    placed = pixels_to_plane(truth, ground_to_pixels(truth, ground, heights), heights)
    np.testing.assert_allclose(placed, ground, atol=1e-6)
    with pytest.raises(CalibrationError, match=r"height_m must be one number or shape \(3,\)"):
        pixels_to_plane(truth, ground_to_pixels(truth, ground), np.array([1.0, 2.0]))


def test_rays_that_miss_the_plane_give_nan(truth: CameraCalibration) -> None:
    pixels = np.array([[640.0, -300.0], [640.0, 600.0]])  # above the horizon, and on the ground
    on_ground = pixels_to_plane(truth, pixels, 0.0)
    assert np.isnan(on_ground[0]).all()
    assert np.isfinite(on_ground[1]).all()
    above_camera = pixels_to_plane(truth, pixels[1:], MAST_HEIGHT_M + 1.0)  # the ray points down, plane is above
    assert np.isnan(above_camera).all()


def test_homography_and_pose_agree_on_the_ground(surveyed: CameraCalibration) -> None:
    rng = np.random.default_rng(5)
    pixels = rng.uniform([100, 450], [1180, 700], size=(200, 2))
    by_homography = pixels_to_ground(surveyed, pixels)
    pose_only = CameraCalibration("mast-1", surveyed.image_size, surveyed.intrinsics, None, surveyed.pose,
                                  surveyed.image_points, surveyed.ground_points)
    by_pose = pixels_to_ground(pose_only, pixels)
    assert np.linalg.norm(by_homography - by_pose, axis=1).max() < 0.05


def test_ground_to_pixels_inverts_pixels_to_ground(surveyed: CameraCalibration) -> None:
    ground = np.array([[15.0, -5.0], [25.0, 0.0], [35.0, 8.0]])
    homography_only = CameraCalibration("mast-1", surveyed.image_size, surveyed.intrinsics, surveyed.fit, None,
                                        surveyed.image_points, surveyed.ground_points)
    # homography both ways: exact inverses
    np.testing.assert_allclose(pixels_to_ground(homography_only, ground_to_pixels(homography_only, ground)),
                               ground, atol=1e-6)
    # the pose projects, the homography reads back: two fits of the same survey, about a centimetre apart
    round_trip = pixels_to_ground(surveyed, ground_to_pixels(surveyed, ground))
    assert np.linalg.norm(round_trip - ground, axis=1).max() < 0.03
    with pytest.raises(CalibrationError, match="no pose"):
        ground_to_pixels(homography_only, ground, 2.6)


def test_points_behind_the_camera_or_outside_the_lens_model_are_nan(truth: CameraCalibration) -> None:
    pixels = ground_to_pixels(truth, np.array([[-20.0, 0.0], [0.5, 60.0], [30.0, 0.0]]))
    assert np.isnan(pixels[0]).all()  # behind the mast
    assert np.isnan(pixels[1]).all()  # 89° off axis: the k1 = -0.1 polynomial has folded back
    assert np.isfinite(pixels[2]).all()


def test_projection_matches_opencv(camera: Intrinsics, mast_pose: CameraPose) -> None:
    rng = np.random.default_rng(6)
    world = np.column_stack([rng.uniform(15, 60, 500), rng.uniform(-15, 15, 500), rng.uniform(0, 5, 500)])
    ours = project_points(camera, mast_pose, world)
    opencv, _ = cv2.projectPoints(world, mast_pose.rvec, mast_pose.tvec, camera.camera_matrix, camera.distortion)
    np.testing.assert_allclose(ours, opencv.reshape(-1, 2), atol=1e-9)


def test_missing_parts_give_clear_errors(camera: Intrinsics) -> None:
    empty = np.zeros((0, 2))
    lens_only = CameraCalibration("cam", camera.image_size, camera, None, None, empty, empty)
    with pytest.raises(CalibrationError, match="neither a homography nor a pose"):
        pixels_to_ground(lens_only, np.array([[1.0, 2.0]]))
    with pytest.raises(CalibrationError, match="needs intrinsics and a pose"):
        pixels_to_plane(lens_only, np.array([[1.0, 2.0]]), 2.6)
    with pytest.raises(CalibrationError, match=r"shape \(N, 2\)"):
        pixels_to_ground(lens_only, np.array([1.0, 2.0, 3.0]))


def test_look_at_straight_down_keeps_site_x_up_in_the_image(camera: Intrinsics) -> None:
    pose = look_at((50.0, 20.0, 30.0), (50.0, 20.0, 0.0))
    np.testing.assert_allclose(pose.centre, [50.0, 20.0, 30.0], atol=1e-9)
    pixels = project_points(camera, pose, np.array([[50.0, 20.0, 0.0], [55.0, 20.0, 0.0], [50.0, 25.0, 0.0]]))
    np.testing.assert_allclose(pixels[0], camera.principal_point, atol=1e-9)
    assert pixels[1, 1] < pixels[0, 1]  # +x is up in the image
    assert pixels[2, 0] < pixels[0, 0]  # +y is to the left (right-handed site frame seen from above)


def test_estimate_pose_refuses_bad_input(camera: Intrinsics) -> None:
    with pytest.raises(CalibrationError, match="need at least 4"):
        estimate_pose(camera, np.zeros((3, 2)), np.zeros((3, 2)))


def test_ten_thousand_pixels_to_ground_is_fast(surveyed: CameraCalibration) -> None:
    pixels = np.random.default_rng(7).uniform([0, 400], [1280, 720], size=(10_000, 2))
    pixels_to_ground(surveyed, pixels)
    start = time.perf_counter()
    ground = pixels_to_ground(surveyed, pixels)
    assert time.perf_counter() - start < 0.05
    assert ground.shape == (10_000, 2)
    assert np.isfinite(ground).all()

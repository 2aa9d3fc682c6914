"""Synthetic cameras with known answers: chessboard photographs and ground surveys.

The tests measure the calibration against a camera whose truth is known, and the yard footage generator uses the
same cameras to render its scenes. Chessboards are drawn by projecting every dark square (each edge subdivided, so
lens distortion bends it as a real lens would) through the camera and filling the polygons with anti-aliasing;
noise and blur make the corner detector work for its answer. Drawing happens at four times the resolution and is
averaged down, which keeps the drawn corners within about 0.1 px of their true projection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import cv2
import numpy as np

from calibration.errors import CalibrationError
from calibration.files import CameraCalibration
from calibration.homography import HomographyFit
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose, homography_from_pose
from calibration.projection import ground_to_pixels, pixels_to_plane, project_points

BACKGROUND: Final = 110
PAPER: Final = 225
INK: Final = 25
_EDGE_STEPS: Final = 6
_SHIFT: Final = 4
_SUPERSAMPLE: Final = 4
"""Polygons are filled at 4× the resolution and averaged down: corners land within ~0.1 px of the truth."""
_MAX_ATTEMPTS: Final = 200


def pinhole(image_size: tuple[int, int] = (1280, 720), focal_px: float = 1000.0,
            distortion: Sequence[float] = (-0.1, 0.0, 0.0, 0.0, 0.0)) -> Intrinsics:
    """A camera with square pixels and the principal point in the image centre."""
    width, height = image_size
    matrix = np.array([[focal_px, 0.0, (width - 1) / 2], [0.0, focal_px, (height - 1) / 2], [0.0, 0.0, 1.0]])
    return Intrinsics(matrix, np.asarray(distortion, dtype=np.float64), (width, height))


def chessboard_poses(intrinsics: Intrinsics, board: tuple[int, int], square_m: float, count: int,
                     rng: np.random.Generator, *, max_tilt_deg: float = 40.0) -> list[CameraPose]:
    """``count`` board poses, tilted up to ``max_tilt_deg`` in varied directions, each showing the whole board."""
    corners = _board_outline(board, square_m)
    centre = corners.mean(axis=0)
    width = float(np.ptp(corners[:, 0]))
    poses: list[CameraPose] = []
    for _ in range(_MAX_ATTEMPTS * count):
        if len(poses) == count:
            return poses
        pose = _random_board_pose(intrinsics, centre, width, rng, max_tilt_deg)
        if _fully_visible(intrinsics, pose, corners):
            poses.append(pose)
    raise CalibrationError(f"could not place {count} chessboard views in a {intrinsics.image_size} image")


def render_chessboard(intrinsics: Intrinsics, pose: CameraPose, board: tuple[int, int], square_m: float, *,
                      noise_std: float = 0.0, blur_sigma: float = 0.0,
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """A gray (H, W) uint8 photograph of a chessboard with ``board`` inner corners, seen from ``pose``.

    The board lies in its own z = 0 plane with inner corner (i, j) at (i, j) × ``square_m``; a one-square white
    margin surrounds it, as on a printed target.
    """
    cols, rows = board
    width, height = intrinsics.image_size
    image = np.full((height * _SUPERSAMPLE, width * _SUPERSAMPLE), BACKGROUND, dtype=np.uint8)
    margin = _square_polygons(np.array([[-2.0, -2.0]]), square_m, (cols + 3, rows + 3))
    _fill(image, intrinsics, pose, margin, PAPER)
    a, b = np.meshgrid(np.arange(cols + 1), np.arange(rows + 1), indexing="ij")
    dark = ((a + b) % 2 == 0).ravel()
    origins = np.stack([a.ravel()[dark] - 1.0, b.ravel()[dark] - 1.0], axis=1)
    _fill(image, intrinsics, pose, _square_polygons(origins, square_m, (1, 1)), INK)
    return _degrade(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), noise_std, blur_sigma, rng)


def chessboard_images(intrinsics: Intrinsics, board: tuple[int, int] = (9, 6), square_m: float = 0.05,
                      count: int = 10, *, seed: int = 0, noise_std: float = 2.0,
                      blur_sigma: float = 0.6) -> list[np.ndarray]:
    """``count`` rendered chessboard photographs from varied poses, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    poses = chessboard_poses(intrinsics, board, square_m, count, rng)
    return [render_chessboard(intrinsics, pose, board, square_m, noise_std=noise_std, blur_sigma=blur_sigma,
                              rng=rng) for pose in poses]


def survey_points(intrinsics: Intrinsics, pose: CameraPose, count: int, rng: np.random.Generator, *,
                  pixel_noise_px: float = 0.5, margin_px: float = 40.0,
                  max_range_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` surveyed ground points spread over the camera's view: (raw pixels with noise, exact ground m).

    Points are drawn where the image shows ground (below the horizon, at most ``max_range_m`` from the foot of the
    camera) and picked farthest-first in the image, as a surveyor spreads markers over the view.
    """
    camera = CameraCalibration("synthetic", intrinsics.image_size, intrinsics, None, pose, np.zeros((0, 2)),
                               np.zeros((0, 2)))
    width, height = intrinsics.image_size
    candidates = rng.uniform([margin_px, margin_px], [width - margin_px, height - margin_px], size=(4000, 2))
    ground = pixels_to_plane(camera, candidates, 0.0)
    usable = np.isfinite(ground).all(axis=1)
    if max_range_m is not None:
        usable &= np.linalg.norm(ground - pose.centre[:2], axis=1) <= max_range_m
    candidates, ground = candidates[usable], ground[usable]
    if len(candidates) < count:
        raise CalibrationError(f"the camera sees too little ground for {count} survey points")
    chosen = _farthest_first(candidates, count, rng)
    pixels = ground_to_pixels(camera, ground[chosen]) + rng.normal(0.0, pixel_noise_px, size=(count, 2))
    return pixels, ground[chosen]


def exact_calibration(camera_id: str, intrinsics: Intrinsics, pose: CameraPose,
                      ground_points: np.ndarray | None = None) -> CameraCalibration:
    """The calibration a perfect survey would give for a known camera (homography from the pose, zero error)."""
    ground = np.zeros((0, 2)) if ground_points is None else np.asarray(ground_points, dtype=np.float64)
    partial = CameraCalibration(camera_id, intrinsics.image_size, intrinsics, None, pose, np.zeros((0, 2)),
                                np.zeros((0, 2)))
    image = ground_to_pixels(partial, ground)
    if not np.isfinite(image).all():
        raise CalibrationError("some ground points are not visible from the camera")
    fit = HomographyFit(homography_from_pose(intrinsics, pose), np.ones(len(ground), dtype=bool), 0.0, 0.0)
    return CameraCalibration(camera_id, intrinsics.image_size, intrinsics, fit, pose, image, ground)


def _board_outline(board: tuple[int, int], square_m: float) -> np.ndarray:
    """The four outer corners of the printed target (board plus margin), z = 0."""
    cols, rows = board
    low, high_x, high_y = -2 * square_m, (cols + 1) * square_m, (rows + 1) * square_m
    return np.array([[low, low, 0.0], [high_x, low, 0.0], [high_x, high_y, 0.0], [low, high_y, 0.0]])


def _random_board_pose(intrinsics: Intrinsics, centre: np.ndarray, width_m: float, rng: np.random.Generator,
                       max_tilt_deg: float) -> CameraPose:
    tilt = np.radians(rng.uniform(-max_tilt_deg, max_tilt_deg, size=2))
    roll = np.radians(rng.uniform(-25.0, 25.0))
    rotation = _rotation_z(roll) @ _rotation_x(tilt[0]) @ _rotation_y(tilt[1])
    image_width = intrinsics.image_size[0]
    fx, fy = intrinsics.focal_px
    cx, cy = intrinsics.principal_point
    distance = fx * width_m / (rng.uniform(0.45, 0.75) * image_width)
    u, v = rng.uniform(0.35, 0.65, size=2) * np.asarray(intrinsics.image_size)
    target = np.array([(u - cx) / fx * distance, (v - cy) / fy * distance, distance])
    rvec, _ = cv2.Rodrigues(rotation)
    return CameraPose(rvec.reshape(3), target - rotation @ centre)


def _fully_visible(intrinsics: Intrinsics, pose: CameraPose, corners: np.ndarray) -> bool:
    pixels = project_points(intrinsics, pose, corners)
    width, height = intrinsics.image_size
    inside = (pixels >= 10).all(axis=1) & (pixels[:, 0] < width - 10) & (pixels[:, 1] < height - 10)
    return bool(np.isfinite(pixels).all() and inside.all())


def _square_polygons(origins: np.ndarray, square_m: float, size: tuple[int, int]) -> np.ndarray:
    """(K, P, 3) outlines of rectangles of ``size`` squares with lower corners at ``origins`` (in squares)."""
    t = np.linspace(0.0, 1.0, _EDGE_STEPS, endpoint=False)
    sx, sy = size
    outline = np.concatenate([
        np.stack([t * sx, np.zeros_like(t)], axis=1), np.stack([np.full_like(t, sx), t * sy], axis=1),
        np.stack([sx - t * sx, np.full_like(t, sy)], axis=1), np.stack([np.zeros_like(t), sy - t * sy], axis=1)])
    flat = (origins[:, None, :] + outline[None, :, :]) * square_m
    return np.concatenate([flat, np.zeros((*flat.shape[:2], 1))], axis=2)


def _fill(image: np.ndarray, intrinsics: Intrinsics, pose: CameraPose, polygons: np.ndarray, value: int) -> None:
    count, corners = polygons.shape[:2]
    pixels = project_points(intrinsics, pose, polygons.reshape(-1, 3)).reshape(count, corners, 2)
    pixels = (pixels + 0.5) * _SUPERSAMPLE - 0.5  # pixel centres of the fine grid
    visible = np.isfinite(pixels).all(axis=(1, 2))
    fixed = np.round(pixels[visible] * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(image, list(fixed), int(value), lineType=cv2.LINE_AA, shift=_SHIFT)


def _degrade(image: np.ndarray, noise_std: float, blur_sigma: float, rng: np.random.Generator | None) -> np.ndarray:
    out = np.asarray(image, dtype=np.float32)
    if blur_sigma > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), blur_sigma), dtype=np.float32)
    if noise_std > 0:
        out += (rng or np.random.default_rng()).normal(0.0, noise_std, size=out.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _farthest_first(points: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [int(rng.integers(len(points)))]
    distance = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return np.asarray(chosen)


def _rotation_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rotation_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

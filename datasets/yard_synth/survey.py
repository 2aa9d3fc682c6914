"""Calibrating the recording's cameras the way a site would: surveyed ground markers, measured in the image.

Markers are painted ground points with known site coordinates; where they appear in the image is measured with
0.5 px of noise. The intrinsics are the camera's own, as a chessboard calibration would give them. The homography
and the pose are then fitted with `calibration`'s real functions and stored with `CalibrationStore`, so that a
replay works from a fitted calibration and never from the true camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.files import CalibrationStore, CameraCalibration
from calibration.homography import fit_homography
from calibration.intrinsics import Intrinsics
from calibration.pose import estimate_pose
from calibration.undistort import undistort_points
from datasets.yard_synth.cameras import YardCamera
from yard.layout import YardLayout

MARKER_NOISE_PX = 0.5
MARKER_SPACING_M = 4.0
MARKERS_PER_CAMERA = 100
MARGIN_PX = 24.0
#: Markers further than this from an oblique camera are too small in its image to be surveyed usefully.
MAX_MARKER_RANGE_M = 90.0


@dataclass(frozen=True)
class Survey:
    """The markers of one camera: true ground positions and their measured (noisy, raw) pixels."""

    ground: np.ndarray   # (N, 2) metres
    image: np.ndarray    # (N, 2) raw pixels


def survey_markers(camera: YardCamera, layout: YardLayout, rng: np.random.Generator,
                   count: int = MARKERS_PER_CAMERA) -> Survey:
    """Up to `count` markers on a regular grid over the yard, inside the image, spread by farthest-point picking."""
    xs = np.arange(MARKER_SPACING_M / 2, layout.size_m[0], MARKER_SPACING_M)
    ys = np.arange(MARKER_SPACING_M / 2, layout.size_m[1], MARKER_SPACING_M)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    pixels, depth = camera.project(np.column_stack([grid, np.zeros(len(grid))]))
    width, height = camera.size
    inside = ((depth > 1.0) & (pixels[:, 0] >= MARGIN_PX) & (pixels[:, 0] < width - MARGIN_PX)
              & (pixels[:, 1] >= MARGIN_PX) & (pixels[:, 1] < height - MARGIN_PX)
              & (np.linalg.norm(grid - camera.C[:2], axis=1) <= max(MAX_MARKER_RANGE_M, 1.5 * camera.C[2])))
    candidates = np.flatnonzero(inside)
    chosen = _spread(pixels[candidates], min(count, len(candidates)), rng)
    picked = candidates[chosen]
    noisy = pixels[picked] + rng.normal(0.0, MARKER_NOISE_PX, (len(picked), 2))
    return Survey(grid[picked], noisy)


def _spread(points: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of `count` points picked far from each other (farthest-point sampling from a random start)."""
    if count <= 0:
        return np.zeros(0, np.int64)
    chosen = [int(rng.integers(len(points)))]
    distance = np.linalg.norm(points - points[chosen[0]], axis=1)
    while len(chosen) < count:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(points - points[nxt], axis=1))
    return np.array(chosen)


def fit_camera(camera: YardCamera, survey: Survey, created_utc: float) -> CameraCalibration:
    """Intrinsics as from a chessboard, homography and pose fitted from the surveyed markers."""
    intrinsics = Intrinsics(camera_matrix=camera.K, distortion=camera.dist, image_size=camera.size, rms_px=0.3)
    fit = fit_homography(undistort_points(intrinsics, survey.image), survey.ground)
    pose = estimate_pose(intrinsics, survey.image, survey.ground)
    return CameraCalibration(camera_id=camera.name, image_size=camera.size, intrinsics=intrinsics, fit=fit, pose=pose,
                             image_points=survey.image, ground_points=survey.ground, created_utc=created_utc)


def calibrate_cameras(cameras: list[YardCamera], layout: YardLayout, root: Path, seed: int,
                      created_utc: float) -> dict[str, CameraCalibration]:
    """Survey, fit and store every camera under `root` (`<root>/<camera>/r0001.json` in a fresh recording)."""
    store = CalibrationStore(root)
    out: dict[str, CameraCalibration] = {}
    for i, camera in enumerate(cameras):
        survey = survey_markers(camera, layout, np.random.default_rng([seed, 51, i]))
        out[camera.name] = store.save(fit_camera(camera, survey, created_utc))
    return out

"""The bodies of ``smartgate calibrate intrinsics|homography|show``.

Each takes plain paths and values, prints one JSON object to stdout on success and returns the exit code:
0 success, 1 a calibration problem (one line on stderr, nothing written to the store). The CLI only parses
arguments and calls these.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import cv2
import numpy as np

from calibration.errors import CalibrationError
from calibration.files import CalibrationStore, CameraCalibration, check_camera_id
from calibration.homography import HomographyFit, fit_homography
from calibration.intrinsics import MIN_VIEWS, Intrinsics, calibrate_chessboard
from calibration.pose import CameraPose, estimate_pose, pose_error_px
from calibration.survey import read_survey
from calibration.undistort import undistort_points

log = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
MAX_IMAGE_BYTES: Final = 64 * 1024 * 1024
IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_PROG: Final = "smartgate calibrate"


def run_intrinsics(images: list[Path], board: tuple[int, int], square_m: float, camera_id: str,
                   store: Path) -> int:
    """Calibrate a camera's lens from chessboard photographs (files or folders of them) and store a new revision.

    Surveyed points already stored for the camera are refitted through the new lens model, so the homography and
    pose stay consistent with the intrinsics.
    """
    try:
        check_camera_id(camera_id)
        paths = _image_paths(images)
        loaded, unreadable = _read_images(paths)
        if len(loaded) < MIN_VIEWS:
            reasons = "; ".join(f"{paths[index]}: {reason}" for index, reason in unreadable[:3])
            raise CalibrationError(f"only {len(loaded)} of {len(paths)} image files could be read, need at least "
                                   f"{MIN_VIEWS}" + (f" ({reasons})" if reasons else ""))
        result = calibrate_chessboard([image for _, image in loaded], board, square_m)
        calibration_store = CalibrationStore(store)
        previous = _latest_or_none(calibration_store, camera_id)
        calibration, warnings = _with_intrinsics(camera_id, result.intrinsics, previous)
        saved = calibration_store.save(calibration)
    except (CalibrationError, OSError) as exc:
        return _fail(exc)
    rejected = unreadable + [(loaded[index][0], reason) for index, reason in result.rejected]
    _emit({
        **summary(saved), "path": str(calibration_store.path(camera_id, saved.revision)),
        "images": len(paths), "used": result.used,
        "rejected": [{"image": str(paths[index]), "reason": reason} for index, reason in sorted(rejected)],
        "warnings": warnings,
    })
    return EXIT_OK


def run_homography(points_file: Path, camera_id: str, store: Path, image_size: tuple[int, int] | None,
                   ransac_threshold_m: float = 0.25) -> int:
    """Fit the image → ground homography (and the pose, when the lens is calibrated) to a survey file."""
    try:
        check_camera_id(camera_id)
        image, ground = read_survey(points_file)
        calibration_store = CalibrationStore(store)
        previous = _latest_or_none(calibration_store, camera_id)
        size = _image_size(image_size, previous)
        _check_inside(image, size)
        intrinsics = previous.intrinsics if previous is not None else None
        fit, pose = _fit_survey(image, ground, intrinsics, ransac_threshold_m)
        saved = calibration_store.save(CameraCalibration(camera_id, size, intrinsics, fit, pose, image, ground))
    except (CalibrationError, OSError) as exc:
        return _fail(exc)
    _emit({**summary(saved), "path": str(calibration_store.path(camera_id, saved.revision)),
           "outliers": np.flatnonzero(~fit.inliers).tolist()})
    return EXIT_OK


def run_show(store: Path, camera_id: str, revision: int | None) -> int:
    """Print one stored calibration (the newest unless ``revision`` is given) and the revisions on disk."""
    try:
        calibration_store = CalibrationStore(store)
        calibration = (calibration_store.latest(camera_id) if revision is None
                       else calibration_store.load(camera_id, revision))
        revisions = calibration_store.revisions(camera_id)
    except (CalibrationError, OSError) as exc:
        return _fail(exc)
    _emit({**summary(calibration), "revisions": revisions,
           "path": str(calibration_store.path(camera_id, calibration.revision))})
    return EXIT_OK


def summary(calibration: CameraCalibration) -> dict[str, Any]:
    """What an operator wants to see of a calibration, as JSON-ready values."""
    intrinsics, fit, pose = calibration.intrinsics, calibration.fit, calibration.pose
    out: dict[str, Any] = {
        "camera_id": calibration.camera_id, "revision": calibration.revision,
        "created_utc": datetime.fromtimestamp(calibration.created_utc, UTC).isoformat(),
        "image_size": list(calibration.image_size), "points": len(calibration.image_points),
        "intrinsics": None, "homography": None, "pose": None,
    }
    if intrinsics is not None:
        out["intrinsics"] = {"focal_px": _rounded(intrinsics.focal_px, 3),
                             "principal_point": _rounded(intrinsics.principal_point, 3),
                             "distortion": _rounded(intrinsics.distortion.tolist(), 6), "rms_px": intrinsics.rms_px}
    if fit is not None:
        out["homography"] = {"rmse_m": round(fit.rmse_m, 4), "max_error_m": round(fit.max_error_m, 4),
                             "inliers": int(fit.inliers.sum())}
    if pose is not None:
        out["pose"] = {"camera_position_m": _rounded(pose.centre.tolist(), 3)}
        if intrinsics is not None and fit is not None and fit.inliers.any():
            errors = pose_error_px(intrinsics, pose, calibration.image_points[fit.inliers],
                                   calibration.ground_points[fit.inliers])
            out["pose"]["rmse_px"] = round(float(np.sqrt(np.mean(errors ** 2))), 3)
    return out


def _with_intrinsics(camera_id: str, intrinsics: Intrinsics,
                     previous: CameraCalibration | None) -> tuple[CameraCalibration, list[str]]:
    """A calibration with new intrinsics, keeping (and refitting) a previous survey of the same image size.

    A survey that no longer fits through the new lens is kept without a homography, with a warning, so the lens
    calibration is not lost; ``calibrate homography`` can then be run again.
    """
    empty = np.zeros((0, 2))
    if previous is None or previous.image_size != intrinsics.image_size or len(previous.image_points) == 0:
        return CameraCalibration(camera_id, intrinsics.image_size, intrinsics, None, None, empty, empty), []
    image, ground = previous.image_points, previous.ground_points
    try:
        fit, pose = _fit_survey(image, ground, intrinsics, 0.25)
    except CalibrationError as exc:
        warning = f"the stored survey no longer fits through the new lens, homography dropped: {exc}"
        return CameraCalibration(camera_id, intrinsics.image_size, intrinsics, None, None, image, ground), [warning]
    return CameraCalibration(camera_id, intrinsics.image_size, intrinsics, fit, pose, image, ground), []


def _fit_survey(image: np.ndarray, ground: np.ndarray, intrinsics: Intrinsics | None,
                ransac_threshold_m: float) -> tuple[HomographyFit, CameraPose | None]:
    ideal = image if intrinsics is None else undistort_points(intrinsics, image)
    fit = fit_homography(ideal, ground, ransac_threshold_m=ransac_threshold_m)
    pose = None if intrinsics is None else estimate_pose(intrinsics, image[fit.inliers], ground[fit.inliers])
    return fit, pose


def _latest_or_none(store: CalibrationStore, camera_id: str) -> CameraCalibration | None:
    return store.latest(camera_id) if store.revisions(camera_id) else None


def _image_size(given: tuple[int, int] | None, previous: CameraCalibration | None) -> tuple[int, int]:
    if given is not None:
        if previous is not None and previous.intrinsics is not None and previous.image_size != tuple(given):
            raise CalibrationError(f"image size {given[0]}x{given[1]} differs from the calibrated lens's "
                                   f"{previous.image_size[0]}x{previous.image_size[1]}")
        return given[0], given[1]
    if previous is None:
        raise CalibrationError("image size unknown: give it, or calibrate the intrinsics first")
    return previous.image_size


def _check_inside(image: np.ndarray, size: tuple[int, int]) -> None:
    outside = np.flatnonzero((image < 0).any(axis=1) | (image[:, 0] > size[0]) | (image[:, 1] > size[1]))
    if outside.size:
        raise CalibrationError(f"survey points {outside[:10].tolist()} lie outside the {size[0]}x{size[1]} image")


def _image_paths(items: Sequence[Path]) -> list[Path]:
    paths: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            paths += sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        else:
            paths.append(item)
    if not paths:
        raise CalibrationError("no chessboard images given")
    return paths


def _read_images(paths: list[Path]) -> tuple[list[tuple[int, np.ndarray]], list[tuple[int, str]]]:
    """The readable images with their index in ``paths``, and why the others could not be read."""
    loaded: list[tuple[int, np.ndarray]] = []
    unreadable: list[tuple[int, str]] = []
    for index, path in enumerate(paths):
        try:
            data = path.read_bytes() if path.stat().st_size <= MAX_IMAGE_BYTES else None
        except OSError as exc:
            unreadable.append((index, f"cannot read: {exc.strerror or exc}"))
            continue
        if data is None:
            unreadable.append((index, f"larger than {MAX_IMAGE_BYTES} bytes"))
            continue
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        if image is None:
            unreadable.append((index, "not a readable image"))
        else:
            loaded.append((index, image))
    return loaded, unreadable


def _rounded(values: Sequence[float], digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]


def _emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload, ensure_ascii=False), flush=True)


def _fail(exc: Exception) -> int:
    log.debug("calibration failed", exc_info=exc)
    print(f"{_PROG}: error: {exc}", file=sys.stderr)
    return EXIT_FAILURE

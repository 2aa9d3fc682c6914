"""Calibration files: one JSON document per camera and revision, written atomically, read with suspicion.

Layout of a store::

    <root>/<camera_id>/r0001.json
    <root>/<camera_id>/r0002.json      # a recalibration never overwrites the old one

A file is read through a size limit, decoded strictly (msgspec: exact types, no NaN, no unknown fields), and every
field is checked again when the dataclasses are built (shapes, finite numbers, invertible matrices), so a bad file
ends in one ``CalibrationError`` naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np

from calibration.checks import arrays_equal, finite_number, image_size, points2d, read_bounded
from calibration.errors import CalibrationError
from calibration.homography import HomographyFit, apply_homography
from calibration.intrinsics import Intrinsics
from calibration.pose import CameraPose
from calibration.undistort import undistort_points

FORMAT: Final = "smartgate-calibration"
VERSION: Final = 1
MAX_FILE_BYTES: Final = 1024 * 1024
CAMERA_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_REVISION_FILE: Final = re.compile(r"r(\d{4,9})\.json")
_MAX_REVISION: Final = 999_999_999


@dataclass(frozen=True, eq=False)
class CameraCalibration:
    """Everything known about one camera at one revision; any part may be missing except the image size."""

    camera_id: str
    image_size: tuple[int, int]
    intrinsics: Intrinsics | None
    fit: HomographyFit | None
    pose: CameraPose | None
    image_points: np.ndarray
    ground_points: np.ndarray
    revision: int = 1
    created_utc: float = 0.0

    def __post_init__(self) -> None:
        check_camera_id(self.camera_id)
        size = image_size(self.image_size)
        object.__setattr__(self, "image_size", size)
        if self.intrinsics is not None and self.intrinsics.image_size != size:
            raise CalibrationError(f"intrinsics are for {self.intrinsics.image_size}, the camera image is {size}")
        image = points2d(self.image_points, "image_points")
        ground = points2d(self.ground_points, "ground_points")
        if len(image) != len(ground):
            raise CalibrationError(f"{len(image)} image points but {len(ground)} ground points")
        if self.fit is not None and len(self.fit.inliers) != len(image):
            raise CalibrationError(f"homography inliers has {len(self.fit.inliers)} entries for {len(image)} points")
        object.__setattr__(self, "image_points", image)
        object.__setattr__(self, "ground_points", ground)
        self._check_fit_faces_the_survey()
        if isinstance(self.revision, bool) or not isinstance(self.revision, int) or not \
                1 <= self.revision <= _MAX_REVISION:
            raise CalibrationError(f"revision must be an integer in 1..{_MAX_REVISION}, got {self.revision!r}")
        object.__setattr__(self, "created_utc", finite_number(self.created_utc, "created_utc", minimum=0.0))

    def _check_fit_faces_the_survey(self) -> None:
        """A homography must map its own inlier points in front of the camera (w > 0), or every lookup is NaN."""
        if self.fit is None or not self.fit.inliers.any():
            return
        seen = self.image_points[self.fit.inliers]
        ideal = seen if self.intrinsics is None else undistort_points(self.intrinsics, seen)
        if np.isnan(apply_homography(self.fit.image_to_ground, ideal)).any():
            raise CalibrationError("the homography maps surveyed inlier points beyond the horizon (wrong sign or "
                                   "not fitted to these points)")

    def __eq__(self, other: object) -> bool:
        return arrays_equal(self, other, ("camera_id", "image_size", "intrinsics", "fit", "pose", "image_points",
                                          "ground_points", "revision", "created_utc"))

    __hash__ = None  # type: ignore[assignment]


def check_camera_id(camera_id: object) -> str:
    """A camera id that is also a safe directory name: letters, digits, ``_ . -``, at most 64, not ``.``/``..``."""
    if not isinstance(camera_id, str) or not CAMERA_ID.fullmatch(camera_id):
        raise CalibrationError(f"camera_id must match {CAMERA_ID.pattern}, got {camera_id!r}")
    return camera_id


# --- the JSON document -------------------------------------------------------------------------------------------

class _Header(msgspec.Struct):
    format: str = ""
    version: int = 0


class _IntrinsicsDoc(msgspec.Struct, forbid_unknown_fields=True):
    camera_matrix: list[list[float]]
    distortion: list[float]
    rms_px: float | None = None


class _HomographyDoc(msgspec.Struct, forbid_unknown_fields=True):
    image_to_ground: list[list[float]]
    rmse_m: float
    max_error_m: float
    inliers: list[bool]


class _PoseDoc(msgspec.Struct, forbid_unknown_fields=True):
    rvec: list[float]
    tvec: list[float]


class _PointDoc(msgspec.Struct, forbid_unknown_fields=True):
    image: list[float]
    ground: list[float]


class _CalibrationDoc(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    camera_id: str
    revision: int
    created_utc: float
    image_size: list[int]
    intrinsics: _IntrinsicsDoc | None
    homography: _HomographyDoc | None
    pose: _PoseDoc | None
    points: list[_PointDoc]


def to_document(calibration: CameraCalibration) -> dict[str, Any]:
    """The calibration as the JSON-ready dictionary of the file format."""
    intrinsics, fit, pose = calibration.intrinsics, calibration.fit, calibration.pose
    return {
        "format": FORMAT, "version": VERSION, "camera_id": calibration.camera_id, "revision": calibration.revision,
        "created_utc": calibration.created_utc, "image_size": list(calibration.image_size),
        "intrinsics": None if intrinsics is None else {
            "camera_matrix": intrinsics.camera_matrix.tolist(), "distortion": intrinsics.distortion.tolist(),
            "rms_px": intrinsics.rms_px},
        "homography": None if fit is None else {
            "image_to_ground": fit.image_to_ground.tolist(), "rmse_m": fit.rmse_m, "max_error_m": fit.max_error_m,
            "inliers": fit.inliers.tolist()},
        "pose": None if pose is None else {"rvec": pose.rvec.tolist(), "tvec": pose.tvec.tolist()},
        "points": [{"image": image, "ground": ground} for image, ground in
                   zip(calibration.image_points.tolist(), calibration.ground_points.tolist(), strict=True)],
    }


def from_document(data: bytes, source: str = "<calibration>") -> CameraCalibration:
    """Parse and validate the bytes of a calibration file."""
    try:
        header = msgspec.json.decode(data, type=_Header)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{source}: not a calibration file: {exc}") from None
    if header.format != FORMAT:
        raise CalibrationError(f"{source}: format must be {FORMAT!r}, got {header.format!r}")
    if header.version != VERSION:
        raise CalibrationError(f"{source}: unsupported version {header.version}, this build reads {VERSION}")
    try:
        doc = msgspec.json.decode(data, type=_CalibrationDoc)
        return _from_doc(doc)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, CalibrationError) as exc:
        raise CalibrationError(f"{source}: {exc}") from None


def _from_doc(doc: _CalibrationDoc) -> CameraCalibration:
    size = image_size(doc.image_size)
    if any(len(p.image) != 2 or len(p.ground) != 2 for p in doc.points):
        raise CalibrationError("every point must have image [u, v] and ground [x, y]")
    image = np.array([p.image for p in doc.points], dtype=np.float64).reshape(-1, 2)
    ground = np.array([p.ground for p in doc.points], dtype=np.float64).reshape(-1, 2)
    intrinsics = None if doc.intrinsics is None else Intrinsics(
        np.array(_rectangular(doc.intrinsics.camera_matrix, "camera_matrix")), np.array(doc.intrinsics.distortion),
        size, doc.intrinsics.rms_px)
    fit = None if doc.homography is None else HomographyFit(
        np.array(_rectangular(doc.homography.image_to_ground, "image_to_ground")),
        np.array(doc.homography.inliers, dtype=np.bool_), doc.homography.rmse_m, doc.homography.max_error_m)
    pose = None if doc.pose is None else CameraPose(np.array(doc.pose.rvec), np.array(doc.pose.tvec))
    return CameraCalibration(doc.camera_id, size, intrinsics, fit, pose, image, ground, doc.revision,
                             doc.created_utc)


def _rectangular(rows: list[list[float]], name: str) -> list[list[float]]:
    if len({len(row) for row in rows}) > 1:
        raise CalibrationError(f"{name} rows have different lengths")
    return rows


def save_calibration(path: Path, calibration: CameraCalibration) -> None:
    """Write the calibration as JSON; readers see the old file or the new one, never half of it."""
    path = Path(path)
    staging = _write_staging(path, _encode(calibration))
    try:
        os.replace(staging, path)
    except OSError:
        staging.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def load_calibration(path: Path) -> CameraCalibration:
    """Read and validate one calibration file; ``CalibrationError`` if it is missing, oversized or invalid."""
    path = Path(path)
    data = read_bounded(path, MAX_FILE_BYTES, "calibration file")
    if not data.strip():
        raise CalibrationError(f"{path}: empty file")
    return from_document(data, str(path))


def _encode(calibration: CameraCalibration) -> bytes:
    data = msgspec.json.format(msgspec.json.encode(to_document(calibration)), indent=1) + b"\n"
    if len(data) > MAX_FILE_BYTES:
        raise CalibrationError(f"calibration of {calibration.camera_id} would exceed {MAX_FILE_BYTES} bytes")
    return data


def _write_staging(path: Path, data: bytes) -> Path:
    """Write ``data`` durably to a hidden file next to ``path`` and return its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        with staging.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        staging.unlink(missing_ok=True)
        raise
    return staging


class CalibrationStore:
    """Versioned calibration files per camera. Saving never overwrites: each save is the next revision."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, camera_id: str, revision: int) -> Path:
        """Where revision ``revision`` of ``camera_id`` lives."""
        if isinstance(revision, bool) or not isinstance(revision, int) or not 1 <= revision <= _MAX_REVISION:
            raise CalibrationError(f"revision must be an integer in 1..{_MAX_REVISION}, got {revision!r}")
        return self.root / check_camera_id(camera_id) / f"r{revision:04d}.json"

    def revisions(self, camera_id: str) -> list[int]:
        """The revisions on disk for a camera, oldest first (empty when there are none)."""
        directory = self.root / check_camera_id(camera_id)
        try:
            names = [entry.name for entry in os.scandir(directory) if entry.is_file()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(m.group(1)) for name in names if (m := _REVISION_FILE.fullmatch(name)))

    def save(self, calibration: CameraCalibration) -> CameraCalibration:
        """Store ``calibration`` as the camera's next revision (stamped now if it has no time) and return it."""
        created = calibration.created_utc or time.time()
        for _ in range(100):
            revision = max(self.revisions(calibration.camera_id), default=0) + 1
            stored = replace(calibration, revision=revision, created_utc=created)
            target = self.path(stored.camera_id, revision)
            staging = _write_staging(target, _encode(stored))
            try:
                os.link(staging, target)  # fails if another writer took this revision first
            except FileExistsError:
                continue
            finally:
                staging.unlink(missing_ok=True)
            _fsync_directory(target.parent)
            return stored
        raise CalibrationError(f"could not claim a new revision for {calibration.camera_id} in {self.root}")

    def latest(self, camera_id: str) -> CameraCalibration:
        """The newest revision of a camera; ``CalibrationError`` if there is none or it is invalid."""
        revisions = self.revisions(camera_id)
        if not revisions:
            raise CalibrationError(f"no calibration for camera {camera_id!r} in {self.root}")
        return self.load(camera_id, revisions[-1])

    def load(self, camera_id: str, revision: int) -> CameraCalibration:
        """One revision of a camera, checked to be the file it claims to be."""
        path = self.path(camera_id, revision)
        calibration = load_calibration(path)
        if calibration.camera_id != camera_id or calibration.revision != revision:
            raise CalibrationError(f"{path}: holds camera {calibration.camera_id!r} revision {calibration.revision}")
        return calibration

    def cameras(self) -> list[str]:
        """The cameras with at least one revision, sorted."""
        try:
            entries = [entry.name for entry in os.scandir(self.root) if entry.is_dir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(name for name in entries if CAMERA_ID.fullmatch(name) and self.revisions(name))


def _fsync_directory(directory: Path) -> None:
    """Make the new directory entry itself durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

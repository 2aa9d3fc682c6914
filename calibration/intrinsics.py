"""Camera intrinsics and lens distortion, measured from photographs of a printed chessboard.

OpenCV does the geometry: ``findChessboardCorners`` + ``cornerSubPix`` locate the inner corners of each view and
``calibrateCamera`` fits the pinhole matrix and the five Brown–Conrady coefficients (k1 k2 p1 p2 k3). What this module
adds is the bookkeeping a technician needs in the field: every image that could not be used is reported with the
reason, a view whose fit is far worse than the others (a blurred or bent board) is dropped once, and too few usable
views is an error rather than a silently bad camera.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import cv2
import numpy as np

from calibration.checks import arrays_equal, finite_number, frozen_array, image_size, invertible_3x3
from calibration.errors import CalibrationError

log = logging.getLogger(__name__)

MIN_VIEWS: Final = 3
"""calibrateCamera needs at least three views of a planar board to separate focal length from board distance."""
OUTLIER_FACTOR: Final = 3.0
OUTLIER_FLOOR_PX: Final = 1.0
"""A view is an outlier when its RMS error exceeds both this floor and OUTLIER_FACTOR × the median view error."""
MAX_FOCAL_PX: Final = 1e6

_FIND_FLAGS: Final = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
_SUBPIX_CRITERIA: Final = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 40, 1e-3)
_CALIB_CRITERIA: Final = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 100, 1e-12)


@dataclass(frozen=True, eq=False)
class Intrinsics:
    """Pinhole camera matrix, distortion (k1 k2 p1 p2 k3) and the image size they were measured at.

    ``rms_px`` is the RMS reprojection error of the chessboard fit when known (it travels in the calibration file).
    """

    camera_matrix: np.ndarray
    distortion: np.ndarray
    image_size: tuple[int, int]
    rms_px: float | None = None

    def __post_init__(self) -> None:
        matrix = invertible_3x3(self.camera_matrix, "camera_matrix")
        if not (0 < matrix[0, 0] <= MAX_FOCAL_PX and 0 < matrix[1, 1] <= MAX_FOCAL_PX):
            raise CalibrationError(f"camera_matrix focal lengths must be in (0, {MAX_FOCAL_PX:g}] px, "
                                   f"got fx={matrix[0, 0]:g} fy={matrix[1, 1]:g}")
        if matrix[1, 0] != 0 or not np.array_equal(matrix[2], [0.0, 0.0, 1.0]):
            raise CalibrationError("camera_matrix must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]]")
        distortion = np.asarray(self.distortion)
        if distortion.shape == (1, 5):
            distortion = distortion.reshape(5)
        size = image_size(self.image_size)
        if not (0 <= matrix[0, 2] <= size[0] and 0 <= matrix[1, 2] <= size[1]):
            raise CalibrationError(f"principal point ({matrix[0, 2]:g}, {matrix[1, 2]:g}) lies outside the "
                                   f"{size[0]}x{size[1]} image")
        object.__setattr__(self, "camera_matrix", matrix)
        object.__setattr__(self, "distortion", frozen_array(distortion, "distortion", (5,)))
        object.__setattr__(self, "image_size", size)
        if self.rms_px is not None:
            object.__setattr__(self, "rms_px", finite_number(self.rms_px, "rms_px", minimum=0.0))

    def __eq__(self, other: object) -> bool:
        return arrays_equal(self, other, ("camera_matrix", "distortion", "image_size", "rms_px"))

    __hash__ = None  # type: ignore[assignment]

    @property
    def focal_px(self) -> tuple[float, float]:
        """(fx, fy) in pixels."""
        return float(self.camera_matrix[0, 0]), float(self.camera_matrix[1, 1])

    @property
    def principal_point(self) -> tuple[float, float]:
        """(cx, cy) in pixels."""
        return float(self.camera_matrix[0, 2]), float(self.camera_matrix[1, 2])


@dataclass(frozen=True)
class ChessboardResult:
    """The measured intrinsics, the overall RMS error, how many views were used and why the others were not."""

    intrinsics: Intrinsics
    rms_px: float
    used: int
    rejected: tuple[tuple[int, str], ...] = field(default=())


def calibrate_chessboard(images: Sequence[np.ndarray], board: tuple[int, int], square_m: float) -> ChessboardResult:
    """Fit intrinsics to views of a chessboard with ``board`` = (columns, rows) inner corners of ``square_m`` squares.

    Raises ``CalibrationError`` when fewer than ``MIN_VIEWS`` images show the whole board.
    """
    pattern = _board(board)
    square = finite_number(square_m, "square_m")
    if square <= 0:
        raise CalibrationError(f"square_m must be positive, got {square}")
    views, size, rejected = _detect_views(images, pattern)
    if size is None or len(views) < MIN_VIEWS:
        reasons = "; ".join(f"#{index}: {reason}" for index, reason in rejected[:5])
        raise CalibrationError(f"only {len(views)} of {len(images)} images show the {pattern[0]}x{pattern[1]} "
                               f"chessboard, need at least {MIN_VIEWS}" + (f" ({reasons})" if reasons else ""))
    board_points = _board_points(pattern, square)
    intrinsics, per_view = _fit(board_points, [c for _, c in views], size)
    outliers = _outlier_views(per_view)
    if outliers.any() and len(views) - int(outliers.sum()) >= MIN_VIEWS:
        median = float(np.median(per_view))
        rejected += [(index, f"reprojection error {error:.2f} px is an outlier (median {median:.2f} px)")
                     for (index, _), error, bad in zip(views, per_view, outliers, strict=True) if bad]
        views = [view for view, bad in zip(views, outliers, strict=True) if not bad]
        intrinsics, per_view = _fit(board_points, [c for _, c in views], size)
    log.info("chessboard calibration: %d views, RMS %.3f px, %d rejected", len(views), intrinsics.rms_px,
             len(rejected))
    return ChessboardResult(intrinsics, float(intrinsics.rms_px or 0.0), len(views),
                            tuple(sorted(rejected)))


def _board(board: Any) -> tuple[int, int]:
    if (not isinstance(board, tuple | list) or len(board) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and 2 <= n <= 100 for n in board)):
        raise CalibrationError(f"board must be (columns, rows) of inner corners, each 2..100, got {board!r}")
    return int(board[0]), int(board[1])


def _board_points(pattern: tuple[int, int], square: float) -> np.ndarray:
    """The inner corners on the board plane (z = 0), in the row-major order findChessboardCorners reports."""
    cols, rows = pattern
    grid = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square
    return np.hstack([grid, np.zeros((len(grid), 1))]).astype(np.float32)


def _detect_views(images: Sequence[np.ndarray], pattern: tuple[int, int]
                  ) -> tuple[list[tuple[int, np.ndarray]], tuple[int, int] | None, list[tuple[int, str]]]:
    views: list[tuple[int, np.ndarray]] = []
    rejected: list[tuple[int, str]] = []
    size: tuple[int, int] | None = None
    for index, image in enumerate(images):
        try:
            gray = _gray(image)
        except CalibrationError as exc:
            rejected.append((index, str(exc)))
            continue
        this_size = (gray.shape[1], gray.shape[0])
        if size is not None and this_size != size:
            rejected.append((index, f"image is {this_size[0]}x{this_size[1]}, the others {size[0]}x{size[1]}"))
            continue
        corners = _find_corners(gray, pattern)
        if corners is None:
            rejected.append((index, f"no {pattern[0]}x{pattern[1]} chessboard found"))
            continue
        size = this_size
        views.append((index, corners))
    return views, size, rejected


def _gray(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise CalibrationError(f"not an 8-bit image ({type(image).__name__} {getattr(image, 'dtype', '')})")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    elif image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        gray = image.reshape(image.shape[:2])
    else:
        raise CalibrationError(f"image must be (H, W) gray or (H, W, 3) colour, got shape {image.shape}")
    if min(gray.shape) < 16:
        raise CalibrationError(f"image of {gray.shape[1]}x{gray.shape[0]} pixels is too small")
    return gray


def _find_corners(gray: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    found, corners = cv2.findChessboardCorners(gray, pattern, flags=_FIND_FLAGS)
    if not found or corners is None:
        return None
    grid = corners.reshape(pattern[1], pattern[0], 2)
    spacing = float(np.linalg.norm(np.diff(grid, axis=1), axis=2).min())
    half = int(np.clip(spacing * 0.4, 2, 11))
    refined = cv2.cornerSubPix(gray, corners, (half, half), (-1, -1), _SUBPIX_CRITERIA)
    return np.asarray(refined, dtype=np.float32).reshape(-1, 1, 2)


def _fit(board_points: np.ndarray, corners: list[np.ndarray], size: tuple[int, int]) -> tuple[Intrinsics, np.ndarray]:
    objects = [board_points] * len(corners)
    try:
        rms, matrix, distortion, *_, per_view = cv2.calibrateCameraExtended(
            objects, corners, size, np.eye(3), np.zeros(5), flags=0, criteria=_CALIB_CRITERIA)
    except cv2.error as exc:
        raise CalibrationError(f"calibrateCamera failed: {str(exc).strip().splitlines()[-1]}") from None
    coefficients = np.asarray(distortion, dtype=np.float64).reshape(-1)[:5]
    intrinsics = Intrinsics(np.asarray(matrix, dtype=np.float64), coefficients, size, rms_px=float(rms))
    return intrinsics, np.asarray(per_view, dtype=np.float64).reshape(-1)


def _outlier_views(per_view: np.ndarray) -> np.ndarray:
    return np.asarray(per_view > max(OUTLIER_FLOOR_PX, OUTLIER_FACTOR * float(np.median(per_view))))

"""Validation of the arrays and numbers that make up a calibration.

Each check returns a clean float64 copy (read-only, so a frozen dataclass stays frozen) or raises
``CalibrationError`` naming the field, the expected shape and what came.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from calibration.errors import CalibrationError

MAX_IMAGE_SIDE = 32_768
MAX_POINTS = 100_000


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """A file's bytes, refused past ``limit`` without reading further; ``what`` names it in the errors."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise CalibrationError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise CalibrationError(f"{path}: larger than the limit of {limit} bytes")
    return data


def frozen_array(values: Any, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """``values`` as a read-only finite float64 array of ``shape`` (``None`` = any length)."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{name} must be numbers, got {type(values).__name__}: {exc}") from None
    if array.ndim != len(shape) or any(want is not None and got != want for got, want in zip(array.shape, shape,
                                                                                               strict=True)):
        wanted = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise CalibrationError(f"{name} must have shape {wanted}, got {array.shape}")
    if not np.isfinite(array).all():
        raise CalibrationError(f"{name} contains non-finite values (NaN or infinity)")
    array.flags.writeable = False
    return array


def vector3(values: Any, name: str) -> np.ndarray:
    """A 3-vector; OpenCV's (3, 1) column is accepted and flattened."""
    if isinstance(values, np.ndarray) and values.shape in ((3, 1), (1, 3)):
        values = values.reshape(3)
    return frozen_array(values, name, (3,))


def points2d(values: Any, name: str, *, max_points: int = MAX_POINTS) -> np.ndarray:
    """An (N, 2) array of finite points; an empty input gives shape (0, 2)."""
    if (isinstance(values, np.ndarray) and values.size == 0) or (isinstance(values, list | tuple) and not values):
        values = np.zeros((0, 2))
    array = frozen_array(values, name, (None, 2))
    if len(array) > max_points:
        raise CalibrationError(f"{name} has {len(array)} points, more than the limit of {max_points}")
    return array


def finite_number(value: Any, name: str, *, minimum: float | None = None) -> float:
    """A finite float (bool refused), optionally at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise CalibrationError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise CalibrationError(f"{name} must be finite, got {number}")
    if minimum is not None and number < minimum:
        raise CalibrationError(f"{name} must be at least {minimum}, got {number}")
    return number


def image_size(value: Any, name: str = "image_size") -> tuple[int, int]:
    """A (width, height) pair of positive integers no larger than ``MAX_IMAGE_SIDE``."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise CalibrationError(f"{name} must be (width, height), got {value!r}")
    width, height = value
    for side in (width, height):
        if isinstance(side, bool) or not isinstance(side, int | np.integer) or not 0 < side <= MAX_IMAGE_SIDE:
            raise CalibrationError(f"{name} sides must be integers in 1..{MAX_IMAGE_SIDE}, got {value!r}")
    return int(width), int(height)


def invertible_3x3(values: Any, name: str, *, max_condition: float = 1e10) -> np.ndarray:
    """A finite 3×3 matrix whose condition number shows it can be inverted without losing all precision."""
    matrix = frozen_array(values, name, (3, 3))
    condition = float(np.linalg.cond(matrix)) if np.linalg.det(matrix) != 0.0 else math.inf
    if not math.isfinite(condition) or condition > max_condition:
        raise CalibrationError(f"{name} is not invertible: condition number {condition:.3g} exceeds {max_condition:g}")
    return matrix


def arrays_equal(left: object, right: object, names: tuple[str, ...]) -> bool:
    """Exact equality of two objects field by field, comparing numpy arrays element-wise."""
    if type(left) is not type(right):
        return False
    for field in names:
        a, b = getattr(left, field), getattr(right, field)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                    and np.array_equal(a, b)):
                return False
        elif a != b:
            return False
    return True

"""Objects seen by the yard cameras, already projected onto the ground: one type for the occupancy stage.

Parallel arrays, as vision's ``Detections``: the tracker works on whole columns, never on per-object Python
objects. The constructor checks shapes, dtypes and kind codes so a bad frame is refused at the edge with a message
saying what was expected; rows with non-finite numbers are kept here and dropped (and counted) by the tracker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

KIND_TRUCK: Final = 0
KIND_CONTAINER: Final = 1
KIND_IGV: Final = 2
KIND_NAMES: Final = ("truck", "container", "igv")
MAX_DETECTIONS: Final = 20_000

FloatArray = npt.NDArray[np.float64]


def kind_code(name: str) -> int:
    """The int8 code of a kind name (``"container"`` → 1); ValueError for anything else."""
    try:
        return KIND_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown detection kind {name!r}, expected one of {', '.join(KIND_NAMES)}") from None


@dataclass(frozen=True)
class GroundDetections:
    """N objects on the ground: centre (metres, site frame), kind code, confidence and footprint.

    A container stacked in a buffer is seen from above as a container: its kind is ``KIND_CONTAINER``.
    """

    xy_m: FloatArray                       # (N, 2) ground position of each object's centre
    kind: npt.NDArray[np.int8]             # (N,) KIND_TRUCK, KIND_CONTAINER or KIND_IGV
    confidence: npt.NDArray[np.float32]    # (N,)
    size_m: FloatArray                     # (N, 2) footprint length, width (0 when unknown)
    camera: str = ""

    def __post_init__(self) -> None:
        xy = _float_matrix("xy_m", self.xy_m, 2)
        n = len(xy)
        if n > MAX_DETECTIONS:
            raise ValueError(f"too many detections: {n} exceeds the limit of {MAX_DETECTIONS}")
        object.__setattr__(self, "xy_m", xy)
        object.__setattr__(self, "kind", _kinds(self.kind, n))
        object.__setattr__(self, "confidence", _confidences(self.confidence, n))
        object.__setattr__(self, "size_m", _float_matrix("size_m", self.size_m, 2, n))
        if not isinstance(self.camera, str):
            raise ValueError(f"camera must be a string, got {type(self.camera).__name__}")

    @classmethod
    def from_arrays(cls, xy_m: npt.ArrayLike, kind: npt.ArrayLike | int | str,
                    confidence: npt.ArrayLike | float = 1.0, size_m: npt.ArrayLike | None = None,
                    camera: str = "") -> GroundDetections:
        """Build from array-likes, broadcasting a single kind (code or name) or confidence to every row."""
        xy = _float_matrix("xy_m", xy_m, 2)
        n = len(xy)
        codes = kind_code(kind) if isinstance(kind, str) else kind
        kinds = np.broadcast_to(np.asarray(codes), (n,)) if np.ndim(codes) == 0 else np.asarray(codes)
        scores = np.broadcast_to(np.asarray(confidence), (n,)) if np.ndim(confidence) == 0 else confidence
        sizes = np.zeros((n, 2)) if size_m is None else size_m
        return cls(xy, kinds, scores, sizes, camera)  # type: ignore[arg-type]  # __post_init__ converts

    @classmethod
    def empty(cls, camera: str = "") -> GroundDetections:
        return cls(np.zeros((0, 2)), np.zeros(0, np.int8), np.zeros(0, np.float32), np.zeros((0, 2)), camera)

    @classmethod
    def concat(cls, parts: Sequence[GroundDetections]) -> GroundDetections:
        """Several cameras' detections of one moment as one set (camera names joined with '+')."""
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.xy_m for p in parts]), np.concatenate([p.kind for p in parts]),
                   np.concatenate([p.confidence for p in parts]), np.concatenate([p.size_m for p in parts]),
                   "+".join(dict.fromkeys(p.camera for p in parts if p.camera)))

    def __len__(self) -> int:
        return len(self.xy_m)

    def __getitem__(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | slice) -> GroundDetections:
        """Rows selected by a boolean mask, an index array or a slice, as a new set."""
        return GroundDetections(self.xy_m[index], self.kind[index], self.confidence[index], self.size_m[index],
                                self.camera)

    def finite_mask(self) -> npt.NDArray[np.bool_]:
        """Rows whose position and confidence are finite numbers (NaN or inf rows are unusable)."""
        return np.isfinite(self.xy_m).all(axis=1) & np.isfinite(self.confidence)


def _float_matrix(name: str, value: object, columns: int, rows: int | None = None) -> FloatArray:
    array = _numeric(name, value, np.float64)
    if array.ndim != 2 or array.shape[1] != columns or (rows is not None and array.shape[0] != rows):
        expected = f"({'N' if rows is None else rows}, {columns})"
        raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    return array


def _kinds(value: object, rows: int) -> npt.NDArray[np.int8]:
    array = np.asarray(value)
    if array.shape != (rows,):
        raise ValueError(f"kind must have shape ({rows},), got {array.shape}")
    if rows and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"kind must hold integer codes, got dtype {array.dtype}")
    bad = (array < 0) | (array >= len(KIND_NAMES)) if rows else np.zeros(0, bool)
    if bad.any():
        raise ValueError(f"unknown kind code {array[bad][0]} at row {int(np.argmax(bad))}, "
                         f"expected 0..{len(KIND_NAMES) - 1} ({', '.join(KIND_NAMES)})")
    return np.ascontiguousarray(array, dtype=np.int8)


def _confidences(value: object, rows: int) -> npt.NDArray[np.float32]:
    array = _numeric("confidence", value, np.float32)
    if array.shape != (rows,):
        raise ValueError(f"confidence must have shape ({rows},), got {array.shape}")
    outside = (array < 0.0) | (array > 1.0)  # NaN compares false: left for the tracker to drop and count
    if outside.any():
        raise ValueError(f"confidence must lie within [0, 1], got {float(array[outside][0])} "
                         f"at row {int(np.argmax(outside))}")
    return array


def _numeric(name: str, value: object, dtype: type[np.float32] | type[np.float64]) -> npt.NDArray[Any]:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=dtype)

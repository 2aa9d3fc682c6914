"""The one vision data type: detections of a frame as parallel numpy arrays (after supervision's `Detections`).

A model's output is converted into `Detections` once, at the edge; every later stage (tracking, reading, fusion)
takes and returns `Detections`. Indexing with a boolean mask, an index array or a slice returns a new object, so
filters chain: ``vehicles = dets[dets.class_id == class_index("vehicle")]``. Objects are never changed in place;
``with_tracker_id`` returns a copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from datasets.recording import OBJECT_CLASSES

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int32]
IdArray = npt.NDArray[np.int64]
NO_TRACK = -1


class DetectionsError(ValueError):
    """Arrays that cannot form detections: says which array, what was expected and what came."""


def class_index(name: str) -> int:
    """The class id of a detector class name (`datasets.recording.OBJECT_CLASSES`)."""
    try:
        return OBJECT_CLASSES.index(name)
    except ValueError:
        raise DetectionsError(f"unknown class {name!r}; known: {', '.join(OBJECT_CLASSES)}") from None


def class_name(class_id: int) -> str:
    """The class name of a class id, ``"unknown"`` outside the list (a model with more classes than we know)."""
    return OBJECT_CLASSES[class_id] if 0 <= class_id < len(OBJECT_CLASSES) else "unknown"


@dataclass(frozen=True, eq=False)
class Detections:
    """N detections of one frame. ``tracker_id`` is -1 for a detection that belongs to no confirmed track."""

    xyxy: FloatArray
    confidence: FloatArray
    class_id: IntArray
    tracker_id: IdArray
    data: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = _rows(self.xyxy)
        _set(self, "xyxy", _boxes(self.xyxy, n))
        _set(self, "confidence", _vector("confidence", self.confidence, n, np.float32))
        _set(self, "class_id", _vector("class_id", self.class_id, n, np.int32))
        _set(self, "tracker_id", _vector("tracker_id", self.tracker_id, n, np.int64))
        _set(self, "data", MappingProxyType({key: _extra(key, value, n) for key, value in dict(self.data).items()}))
        if n and not (np.all(self.confidence >= 0.0) and np.all(self.confidence <= 1.0)):
            raise DetectionsError("confidence must lie in [0, 1]")

    @classmethod
    def from_arrays(cls, xyxy: npt.ArrayLike, confidence: npt.ArrayLike | None = None,
                    class_id: npt.ArrayLike | int | None = None, tracker_id: npt.ArrayLike | None = None,
                    data: Mapping[str, npt.ArrayLike] | None = None) -> Detections:
        """Build from array-likes; missing confidence is 1, missing class 0, missing track -1."""
        boxes = np.asarray(xyxy, dtype=np.float32)
        if boxes.size == 0 and boxes.ndim <= 1:
            boxes = boxes.reshape(0, 4)
        n = _rows(boxes)
        conf = np.ones(n, np.float32) if confidence is None else np.asarray(confidence, np.float32)
        if class_id is None or np.ndim(class_id) == 0:
            classes = np.full(n, 0 if class_id is None else int(class_id), np.int32)  # type: ignore[arg-type]
        else:
            classes = np.asarray(class_id, np.int32)
        ids = np.full(n, NO_TRACK, np.int64) if tracker_id is None else np.asarray(tracker_id, np.int64)
        extra = {key: np.asarray(value) for key, value in (data or {}).items()}
        return cls(boxes, conf, classes, ids, extra)

    @classmethod
    def empty(cls) -> Detections:
        return cls.from_arrays(np.zeros((0, 4), np.float32))

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        """Concatenate; every part must carry the same `data` keys."""
        if not parts:
            return cls.empty()
        keys = set(parts[0].data)
        for part in parts[1:]:
            if set(part.data) != keys:
                raise DetectionsError(f"cannot merge detections with data keys {sorted(keys)} and {sorted(part.data)}")
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.tracker_id for p in parts]),
            {key: np.concatenate([p.data[key] for p in parts]) for key in keys},
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: npt.ArrayLike | slice | int) -> Detections:
        """A new Detections of the selected rows (boolean mask of length N, integer indices, slice or one int)."""
        selector = _selector(index, len(self))
        return Detections(self.xyxy[selector], self.confidence[selector], self.class_id[selector],
                          self.tracker_id[selector], {k: v[selector] for k, v in self.data.items()})

    @property
    def area(self) -> FloatArray:
        return box_area(self.xyxy)

    @property
    def centers(self) -> FloatArray:
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2], axis=1)

    def with_tracker_id(self, tracker_id: npt.ArrayLike) -> Detections:
        """A copy with new track ids (the tracker's answer; the caller's object is left as it was)."""
        return Detections(self.xyxy, self.confidence, self.class_id, np.asarray(tracker_id, np.int64), self.data)

    def with_data(self, **arrays: npt.ArrayLike) -> Detections:
        """A copy with extra parallel arrays added or replaced."""
        return Detections(self.xyxy, self.confidence, self.class_id, self.tracker_id,
                          {**self.data, **{key: np.asarray(value) for key, value in arrays.items()}})


def box_area(xyxy: npt.NDArray[np.floating[Any]]) -> FloatArray:
    return ((xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])).astype(np.float32)


def box_iou(a: npt.NDArray[np.floating[Any]], b: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """Intersection over union of every box of `a` (N, 4) with every box of `b` (M, 4): an (N, M) array."""
    inter = _intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    iou: FloatArray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def box_ioa(a: npt.NDArray[np.floating[Any]], b: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """Intersection over the area of each `a` box: how much of `a[i]` lies inside `b[j]` (a plate in a truck)."""
    inter = _intersection(a, b)
    area = box_area(a)[:, None]
    ioa: FloatArray = np.divide(inter, area, out=np.zeros_like(inter), where=area > 0)
    return ioa


def drop_inner(detections: Detections, class_id: int, min_share: float) -> Detections:
    """`detections` less the boxes of `class_id` that lie at least `min_share` inside a larger box of that class.

    The detector's NMS keeps a box that overlaps a larger one little by IoU but lies wholly inside it (a truck's
    lower edge beside the whole truck); tracked on its own it would become a second vehicle.
    """
    rows = np.flatnonzero(detections.class_id == class_id)
    if rows.size < 2:
        return detections
    boxes = detections.xyxy[rows]
    inside = box_ioa(boxes, boxes)
    larger = box_area(boxes)[None, :] > box_area(boxes)[:, None]
    inner = rows[((inside >= min_share) & larger).any(axis=1)]
    if inner.size == 0:
        return detections
    return detections[np.setdiff1d(np.arange(len(detections)), inner)]


def _intersection(a: npt.NDArray[np.floating[Any]], b: npt.NDArray[np.floating[Any]]) -> FloatArray:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    size = np.clip(bottom_right - top_left, 0.0, None)
    inter: FloatArray = (size[..., 0] * size[..., 1]).astype(np.float32)
    return inter


def _set(obj: Detections, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _rows(xyxy: object) -> int:
    shape = getattr(xyxy, "shape", None)
    if shape is None:
        shape = np.shape(np.asarray(xyxy, dtype=object))
    if len(shape) != 2 or shape[1] != 4:
        raise DetectionsError(f"xyxy must have shape (N, 4), got {tuple(shape)}")
    return int(shape[0])


def _boxes(xyxy: object, n: int) -> FloatArray:
    boxes = np.ascontiguousarray(xyxy, dtype=np.float32)
    if n and not np.all(np.isfinite(boxes)):
        raise DetectionsError("xyxy must be finite, got NaN or infinity")
    if n and not np.all(boxes[:, 2:] >= boxes[:, :2]):
        raise DetectionsError("xyxy boxes must have x1 >= x0 and y1 >= y0")
    return boxes


def _vector(name: str, values: object, n: int, dtype: type[np.generic]) -> Any:
    array = np.asarray(values)
    if array.shape != (n,):
        raise DetectionsError(f"{name} must have shape ({n},), got {array.shape}")
    if dtype is np.float32 and n and not np.all(np.isfinite(array)):
        raise DetectionsError(f"{name} must be finite, got NaN or infinity")
    return np.ascontiguousarray(array, dtype=dtype)


def _extra(key: str, values: np.ndarray, n: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 0 or array.shape[0] != n:
        raise DetectionsError(f"data[{key!r}] must have {n} rows, got shape {array.shape}")
    return array


def _selector(index: npt.ArrayLike | slice | int, n: int) -> Any:
    if isinstance(index, slice):
        return index
    if isinstance(index, int | np.integer):
        if not -n <= int(index) < n:
            raise IndexError(f"detection index {int(index)} out of range for {n} detections")
        return [int(index)]
    selector = np.asarray(index)
    if selector.size == 0 and selector.dtype != bool:
        return np.zeros(0, np.intp)
    if selector.dtype == bool:
        if selector.shape != (n,):
            raise DetectionsError(f"boolean mask must have shape ({n},), got {selector.shape}")
        return selector
    if selector.ndim != 1 or not np.issubdtype(selector.dtype, np.integer):
        raise DetectionsError(f"index must be a boolean mask, integer indices or a slice, got {selector.dtype}")
    if selector.size and (selector.max() >= n or selector.min() < -n):
        raise IndexError(f"detection indices out of range for {n} detections")
    return selector

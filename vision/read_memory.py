"""Which plate and container-number crops are worth reading again: those not yet read enough.

A plate is 40 px high and moves 50 px between frames at 4 fps, so its own boxes rarely overlap from one frame to
the next and the IoU tracker cannot follow it. The truck that carries it is large and tracked well. So a text box
is known by its place on its truck: (camera, the vehicle's track id, class, its rank left to right among the
boxes of that class on that truck). A truck shows at most two numbers and two plates to one camera, side by side
or one above the other, and their order does not change while it drives.

A crop is skipped once its key has `settled_reads` consistent reads (the same text; a read the grammar validates
counts as two, since a misread seldom validates), unless it is at least `better_area` times the largest crop read
so far (a truck coming nearer gives a sharper crop). Reads already made stay in fusion: skipping loses nothing
already counted. A text box on no tracked vehicle is always read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision.detections import Detections, box_ioa, class_index

VEHICLE = class_index("vehicle")
TEXT_CLASSES = (class_index("plate"), class_index("container_number"))
ON_VEHICLE = 0.6
"""Least share of a text box inside a vehicle box for the text to belong to it."""
Key = tuple[str, int, int, int]


@dataclass
class _Memo:
    text: str
    count: int
    area: float


class ReadMemory:
    """`wanted(camera, dets)` → rows to read; `remember(camera, dets, texts)` after reading them."""

    def __init__(self, settled_reads: int = 4, better_area: float = 1.2) -> None:
        self.settled_reads, self.better_area = settled_reads, better_area
        self._memos: dict[Key, _Memo] = {}

    def __len__(self) -> int:
        return len(self._memos)

    def keys(self, camera: str, dets: Detections) -> list[Key | None]:
        """Each row's key (None: not a text box, or on no tracked vehicle)."""
        keys: list[Key | None] = [None] * len(dets)
        text = np.flatnonzero(np.isin(dets.class_id, TEXT_CLASSES))
        vehicles = np.flatnonzero((dets.class_id == VEHICLE) & (dets.tracker_id >= 0))
        if not len(text) or not len(vehicles):
            return keys
        inside = box_ioa(dets.xyxy[text], dets.xyxy[vehicles])
        best = inside.argmax(axis=1)
        owner = np.where(inside[np.arange(len(text)), best] >= ON_VEHICLE, dets.tracker_id[vehicles[best]], -1)
        centre_x = (dets.xyxy[text, 0] + dets.xyxy[text, 2]) / 2
        for cls in TEXT_CLASSES:
            for vehicle in np.unique(owner[(owner >= 0) & (dets.class_id[text] == cls)]):
                rows = np.flatnonzero((owner == vehicle) & (dets.class_id[text] == cls))
                for rank, i in enumerate(rows[np.argsort(centre_x[rows], kind="stable")]):
                    keys[int(text[i])] = (camera, int(vehicle), cls, rank)
        return keys

    def wanted(self, keys: list[Key | None], dets: Detections) -> npt.NDArray[np.bool_]:
        """False for the rows whose key is settled and whose crop is not better than the best one read."""
        keep = np.ones(len(dets), bool)
        areas = _areas(dets.xyxy)
        for row, key in enumerate(keys):
            memo = self._memos.get(key) if key is not None else None
            if memo is not None and memo.count >= self.settled_reads and areas[row] < self.better_area * memo.area:
                keep[row] = False
        return keep

    def remember(self, keys: list[Key | None], dets: Detections, texts: dict[int, tuple[str, bool]]) -> None:
        """Count the reads of this frame: `texts` maps a row to (text, validated by the grammar)."""
        areas = _areas(dets.xyxy)
        for row, (text, valid) in texts.items():
            key = keys[row]
            if key is None or not text:
                continue
            weight = 2 if valid else 1
            memo = self._memos.get(key)
            if memo is None or memo.text != text:
                self._memos[key] = _Memo(text, weight, float(areas[row]))
            else:
                memo.count += weight
                memo.area = max(memo.area, float(areas[row]))

    def tracks_read(self, camera: str) -> set[int]:
        """Vehicle tracks of this camera with some plate or number read."""
        return {key[1] for key in self._memos if key[0] == camera}

    def forget(self, camera: str, vehicle_track: int) -> None:
        """The vehicle's track ended: its keys will not come back."""
        for key in [k for k in self._memos if k[0] == camera and k[1] == vehicle_track]:
            del self._memos[key]

    def clear(self) -> None:
        self._memos.clear()


def _areas(xyxy: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    return np.asarray((xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]), np.float64)

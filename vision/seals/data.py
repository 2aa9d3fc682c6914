"""Labelled door-handle crops for training and evaluation: real crop files, real labelled images, synthetic
recordings. Each crop carries a group (a truck passage) so that splits never put views of one truck on both sides.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from datasets.recording import Recording
from vision.seals.features import MIN_SIDE_PX, crop_handle

log = logging.getLogger(__name__)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "containervision"


@dataclass
class CropSet:
    crops: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # 1 sealed, 0 unsealed
    groups: list[str] = field(default_factory=list)

    def add(self, crop: np.ndarray, sealed: bool, group: str) -> None:
        self.crops.append(crop)
        self.labels.append(int(sealed))
        self.groups.append(group)

    def subset(self, keep: Iterable[int]) -> CropSet:
        rows = list(keep)
        return CropSet([self.crops[i] for i in rows], [self.labels[i] for i in rows], [self.groups[i] for i in rows])

    def extend(self, other: CropSet) -> None:
        self.crops += other.crops
        self.labels += other.labels
        self.groups += other.groups

    def __len__(self) -> int:
        return len(self.crops)


def passage_of(name: str) -> str:
    """The passage id in a ContainerVision file name: `1-122830001-OCR-AS-B01_sealed_3.jpg` → `122830001`."""
    parts = name.split("-")
    return parts[1] if len(parts) > 2 else name


def real_crops(root: Path = SHARED) -> CropSet:
    """The real `seal_crops/{sealed,unsealed}` files, grouped by passage."""
    out = CropSet()
    for state in ("sealed", "unsealed"):
        for path in sorted((root / "seal_crops" / state).glob("*.jpg")):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("%s: unreadable, skipped", path)
                continue
            out.add(image, state == "sealed", "real:" + passage_of(path.name))
    return out


def labelled_handles(root: Path = SHARED) -> CropSet:
    """Door handles labelled in `labels.jsonl`, cut from the full images as the pipeline would cut them."""
    out = CropSet()
    labels = root / "labels.jsonl"
    if not labels.is_file():
        return out
    for line in labels.read_text().splitlines():
        record = json.loads(line)
        handles = record.get("door_handles") or []
        image = cv2.imread(str(root / record["image"]), cv2.IMREAD_COLOR) if handles else None
        if image is None:
            continue
        for handle in handles:
            out.add(crop_handle(image, handle["xyxy"]), handle["state"] == "sealed",
                    "real:" + passage_of(Path(record["image"]).name))
    return out


def labelled_passages(root: Path = SHARED) -> set[str]:
    return set(labelled_handles(root).groups)


def synthetic_crops(recording: Path, *, every: int = 1, jitter: float = 0.0, seed: int = 0) -> CropSet:
    """Handle crops cut at the truth boxes of a synthetic recording (`sealed` attribute), grouped by passage.

    `every` keeps one frame in so many (neighbouring frames are nearly the same); `jitter` moves each box edge by
    up to that share of its size, as a detector's box would.
    """
    rec = Recording.open(recording)
    rng = np.random.default_rng(seed)
    out = CropSet()
    for truth in rec.frames():
        handles = [o for o in truth.objects if o.cls == "door_handle"]
        if not handles or truth.frame % every:
            continue
        image = cv2.imread(str(rec.frame_path(truth)), cv2.IMREAD_COLOR)
        if image is None:
            continue
        for obj in handles:
            box = _jittered(obj.box, jitter, rng)
            crop = crop_handle(image, box)
            if min(crop.shape[:2]) < MIN_SIDE_PX:
                continue
            out.add(crop, bool(obj.attrs.get("sealed", False)), f"{rec.meta.seed}:{obj.passage_id}")
    return out


def _jittered(box: Sequence[float], share: float, rng: np.random.Generator) -> tuple[float, ...]:
    if share <= 0:
        return tuple(box)
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d = rng.uniform(-share, share, 4) * np.array([w, h, w, h])
    return (x0 + d[0], y0 + d[1], x1 + d[2], y1 + d[3])


def group_parts(groups: Iterable[str], shares: Sequence[float], seed: int,
                forced: dict[str, int] | None = None) -> dict[str, int]:
    """The part each group goes to: a seeded shuffle of the sorted group names cut by `shares`; `forced` pins
    groups to a part (e.g. the test part)."""
    names = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(names))
    bounds = np.cumsum(shares) / np.sum(shares) * len(names)
    part_of = {names[g]: min(int(np.searchsorted(bounds, rank, side="right")), len(shares) - 1)
               for rank, g in enumerate(order)}
    part_of.update(forced or {})
    return part_of


def group_split(groups: Sequence[str], shares: Sequence[float], seed: int,
                forced: dict[str, int] | None = None) -> list[list[int]]:
    """Row indices per part, whole groups to one part (see `group_parts`)."""
    part_of = group_parts(groups, shares, seed, forced)
    parts: list[list[int]] = [[] for _ in shares]
    for row, group in enumerate(groups):
        parts[part_of[group]].append(row)
    return parts

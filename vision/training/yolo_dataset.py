"""Export recordings' frame truth and the real ContainerVision labels to the YOLO (ultralytics) dataset layout.

Layout written under a root::

    images/<split>/<name>.jpg   the frame (hard-linked to the recording's JPEG when possible, else copied)
    labels/<split>/<name>.txt   one line per object: class id, then centre x, centre y, width, height in 0..1

Class ids are indexes into `OBJECT_CLASSES`. The split of a frame is decided by its *passage* (or, for a held-out
seed, by its whole recording), never by the frame alone: consecutive frames of one truck are near duplicates, and a
frame split would leak them into the evaluation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2

from datasets.recording import OBJECT_CLASSES, FrameTruth, ObjectTruth, Recording

log = logging.getLogger(__name__)

Split = Literal["train", "val"]
Box = tuple[float, float, float, float]
CLASS_ID: dict[str, int] = {name: index for index, name in enumerate(OBJECT_CLASSES)}
#: Classes the real ContainerVision images label; the others are not labelled there and must not be scored.
REAL_CLASSES: tuple[str, ...] = ("container_number", "size_type", "door_handle")
#: Boxes thinner than this (pixels, after clipping to the frame) are dropped: no detector can learn them.
MIN_BOX_PX = 1.0


class DatasetError(ValueError):
    """A recording or label file that cannot be exported."""


@dataclass
class ExportStats:
    """What an export wrote and what it skipped, for the training log."""

    images: dict[str, int] = field(default_factory=lambda: {"train": 0, "val": 0})
    objects: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OBJECT_CLASSES, 0))
    skipped_boxes: int = 0
    skipped_frames: int = 0

    def merge(self, other: ExportStats) -> None:
        for split, count in other.images.items():
            self.images[split] = self.images.get(split, 0) + count
        for cls, count in other.objects.items():
            self.objects[cls] = self.objects.get(cls, 0) + count
        self.skipped_boxes += other.skipped_boxes
        self.skipped_frames += other.skipped_frames


def yolo_line(class_id: int, box: Sequence[float], width: int, height: int) -> str | None:
    """A YOLO label line for a pixel box, clipped to the frame; None when nothing usable is left."""
    if width <= 0 or height <= 0:
        raise DatasetError(f"frame size must be positive, got {width}x{height}")
    clipped = clipped_box(box, width, height)
    if clipped is None:
        return None
    x0, y0, x1, y1 = clipped
    cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    return f"{class_id} {cx:.6f} {cy:.6f} {(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}"


def clipped_box(box: Sequence[float], width: int, height: int) -> Box | None:
    """A pixel box clipped to the frame; None when not finite or thinner than `MIN_BOX_PX` once clipped."""
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        return None
    x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
    x1, y1 = min(float(width), float(box[2])), min(float(height), float(box[3]))
    if x1 - x0 < MIN_BOX_PX or y1 - y0 < MIN_BOX_PX:
        return None
    return x0, y0, x1, y1


def frame_label_lines(objects: Iterable[ObjectTruth], width: int, height: int,
                      stats: ExportStats | None = None) -> list[str]:
    """Label lines for a frame's objects; unusable boxes are skipped and counted."""
    lines = []
    for obj in objects:
        line = yolo_line(CLASS_ID[obj.cls], obj.box, width, height)
        if line is None:
            if stats is not None:
                stats.skipped_boxes += 1
            continue
        lines.append(line)
        if stats is not None:
            stats.objects[obj.cls] += 1
    return lines


def passage_split(seed: int | None, passage_id: str, val_share: float) -> Split:
    """A stable split for one passage: the same passage lands in the same split on every run and machine."""
    if not 0.0 <= val_share <= 1.0:
        raise DatasetError(f"val share must be 0 to 1, got {val_share}")
    digest = hashlib.sha256(f"{seed}:{passage_id}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") / 2**64 < val_share else "train"


def frame_passage(truth: FrameTruth) -> str | None:
    """The passage a frame shows (its objects' most common passage id), or None for an empty lane."""
    ids = [obj.passage_id for obj in truth.objects if obj.passage_id]
    return max(set(ids), key=ids.count) if ids else None


def sampled_frames(recording: Recording, max_empty_per_camera: int = 2) -> Iterator[tuple[FrameTruth, str | None]]:
    """The frames worth a label, with the passage each shows: every frame of a passage, and only the first few of
    an empty lane per camera (they repeat one image per camera and ambient; a few are enough as negatives)."""
    empties: dict[str, int] = {}
    for truth in recording.frames():
        passage = frame_passage(truth)
        if passage is None:
            if empties.get(truth.camera, 0) >= max_empty_per_camera:
                continue
            empties[truth.camera] = empties.get(truth.camera, 0) + 1
        yield truth, passage


def export_recording(recording: Recording, root: Path, *, split: Split | None = None, val_share: float = 0.0,
                     max_empty_per_camera: int = 2, prefix: str | None = None) -> ExportStats:
    """Write one recording's frames and labels under `root`.

    `split` forces every frame into one split (a held-out seed); otherwise each passage is drawn with `val_share`.
    Frames of an empty lane repeat one image per camera and ambient, so only a few are kept, as negatives, in the
    split of the passage before them.
    """
    meta = recording.meta
    prefix = prefix or f"{meta.name}-s{meta.seed}"
    stats = ExportStats()
    last_split: Split = split or "train"
    for truth, passage in sampled_frames(recording, max_empty_per_camera):
        cam = meta.cameras.get(truth.camera)
        if cam is None or cam.storage != "frames":
            stats.skipped_frames += 1
            continue
        if passage is None:
            chosen = last_split
        else:
            chosen = split or passage_split(meta.seed, passage, val_share)
            last_split = chosen
        try:
            source = recording.frame_path(truth)
        except ValueError as exc:
            log.warning("skipped frame: %s", exc)
            stats.skipped_frames += 1
            continue
        if not source.is_file():
            stats.skipped_frames += 1
            continue
        name = f"{prefix}-{truth.camera}-{truth.frame:06d}"
        lines = frame_label_lines(truth.objects, cam.width, cam.height, stats)
        _write_pair(root, chosen, name, source, lines)
        stats.images[chosen] += 1
    return stats


def _write_pair(root: Path, split: str, name: str, source: Path, lines: list[str]) -> None:
    image = root / "images" / split / f"{name}{source.suffix.lower()}"
    label = root / "labels" / split / f"{name}.txt"
    image.parent.mkdir(parents=True, exist_ok=True)
    label.parent.mkdir(parents=True, exist_ok=True)
    image.unlink(missing_ok=True)
    try:
        os.link(source, image)
    except OSError:
        shutil.copyfile(source, image)
    label.write_text("".join(line + "\n" for line in lines))


def count_labels(label_files: Iterable[Path]) -> dict[str, int]:
    """Objects per class in YOLO label files (missing files count as empty), for the metrics' `instances`."""
    counts = dict.fromkeys(OBJECT_CLASSES, 0)
    for path in label_files:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            head = line.split(maxsplit=1)[0] if line.strip() else ""
            if head.isdigit() and int(head) < len(OBJECT_CLASSES):
                counts[OBJECT_CLASSES[int(head)]] += 1
    return counts


def label_file(image: Path) -> Path:
    """The label file ultralytics pairs with an image: `.../images/...` → `.../labels/....txt`."""
    parts = list(image.parts)
    index = len(parts) - 1 - parts[::-1].index("images")
    parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def listed_images(listing: Path) -> list[Path]:
    """Images named in an ultralytics image list; './' entries are relative to the list's folder."""
    images = []
    for line in listing.read_text().splitlines():
        if line.strip():
            images.append(listing.parent / line[2:] if line.startswith("./") else Path(line))
    return images


def write_data_yaml(path: Path, root: Path, *, train: str | list[str] = "images/train",
                    val: str = "images/val") -> Path:
    """The ultralytics data file (JSON is valid YAML, so no YAML writer is needed)."""
    data = {"path": str(root.resolve()), "train": train, "val": val,
            "names": dict(enumerate(OBJECT_CLASSES))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


# --- real ContainerVision images: trained on (some passages) and scored (the others) ---------------------------

#: Real passages held out from training, by place in the sorted passage ids (places 1, 3, 6, 8 of 10: 4 passages,
#: 20 images). A split by passage, never by image: the five views of one truck show the same container.
REAL_HELD_OUT_EVERY, REAL_HELD_OUT_PLACES = 5, (1, 3)


@dataclass(frozen=True)
class RealImage:
    """One labelled real image: its file, its passage and the boxes of the classes it labels, in source pixels."""

    image: str
    boxes: tuple[tuple[str, Box], ...]
    doors_labelled: bool
    passage: str = ""


def _box(value: object) -> Box | None:
    if not isinstance(value, list) or len(value) != 4:
        return None
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in value):
        return None
    x0, y0, x1, y1 = (float(v) for v in value)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def parse_real_label(record: object) -> RealImage:
    """One labels.jsonl record → RealImage. A number printed as separate owner and serial parts (no `number`
    box) becomes one container_number box around both, as the synthetic truth boxes the whole number."""
    if not isinstance(record, dict) or not isinstance(record.get("image"), str):
        raise DatasetError("a label record must be an object with an 'image' string")
    boxes: list[tuple[str, Box]] = []
    parts: list[Box] = []
    for text_box in record.get("text_boxes") or []:
        box = _box(text_box.get("xyxy")) if isinstance(text_box, dict) else None
        kind = text_box.get("kind") if isinstance(text_box, dict) else None
        if box is None:
            continue
        if kind == "number":
            boxes.append(("container_number", box))
        elif kind == "size_type":
            boxes.append(("size_type", box))
        elif kind in ("owner", "serial"):
            parts.append(box)
    if parts and not any(cls == "container_number" for cls, _ in boxes):
        boxes.append(("container_number", _union(parts)))
    handles = record.get("door_handles")
    for handle in handles or []:
        box = _box(handle.get("xyxy")) if isinstance(handle, dict) else None
        if box is not None:
            boxes.append(("door_handle", box))
    passage = record.get("container")
    return RealImage(record["image"], tuple(boxes), doors_labelled=isinstance(handles, list),
                     passage=passage if isinstance(passage, str) else Path(record["image"]).stem)


def real_split(passage: str, passages: Iterable[str]) -> Split:
    """`val` for the held-out places of the sorted passage ids, `train` for the rest."""
    place = sorted(set(passages)).index(passage)
    return "val" if place % REAL_HELD_OUT_EVERY in REAL_HELD_OUT_PLACES else "train"


def read_real_labels(labels_file: Path) -> tuple[list[RealImage], int]:
    """The parsed records of a labels.jsonl, and how many lines were bad."""
    images, bad = [], 0
    for line in labels_file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            images.append(parse_real_label(json.loads(line)))
        except (ValueError, DatasetError):
            bad += 1
    return images, bad


def export_real(labels_file: Path, images_root: Path, out: Path, *, max_width: int = 960,
                pseudo: Mapping[str, Sequence[tuple[str, Box]]] | None = None) -> dict[str, int]:
    """Write the real images (downscaled to `max_width`) and their labels under `out`, with three image lists:
    `train.txt` (the training passages; their labels add `pseudo` boxes for the classes the images do not label),
    `val.txt` (the held-out passages: score container_number and size_type) and `doors.txt` (held-out images whose
    door handles are labelled: score door_handle). Returns counts; bad records and unreadable images are skipped."""
    records, bad_records = read_real_labels(labels_file)
    counts = {"images": 0, "train": 0, "val": 0, "door_images": 0, "pseudo_boxes": 0, "bad_records": bad_records,
              "bad_images": 0}
    listed: dict[str, list[str]] = {"train": [], "val": [], "doors": []}
    passages = [real.passage for real in records]
    for real in records:
        split = real_split(real.passage, passages)
        extra = tuple(pseudo.get(real.image, ())) if pseudo is not None and split == "train" else ()
        written = _write_real(real, extra, images_root, out, max_width)
        if written is None:
            counts["bad_images"] += 1
            continue
        entry = f"./{written.relative_to(out).as_posix()}"  # ultralytics resolves './' against the list's folder
        listed[split].append(entry)
        counts["images"] += 1
        counts[split] += 1
        counts["pseudo_boxes"] += len(extra)
        if real.doors_labelled and split == "val":
            listed["doors"].append(entry)
            counts["door_images"] += 1
    for name, paths in listed.items():
        (out / f"{name}.txt").write_text("".join(p + "\n" for p in paths))
    return counts


def oversampled_list(listing: Path, times: int) -> Path | None:
    """An image list naming each image of `listing` `times` times (beside it, so './' entries still resolve), or
    None when there is nothing to list. Ultralytics samples every listed line, so this weights a small set."""
    lines = [line for line in listing.read_text().splitlines() if line.strip()] if listing.is_file() else []
    if not lines or times < 1:
        return None
    target = listing.with_name(f"{listing.stem}_x{times}.txt")
    target.write_text("".join(line + "\n" for line in lines * times))
    return target


def _write_real(real: RealImage, extra: Sequence[tuple[str, Box]], images_root: Path, out: Path,
                max_width: int) -> Path | None:
    source = (images_root / real.image).resolve()
    if not source.is_relative_to(images_root.resolve()) or not source.is_file():
        return None
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if image is None:
        return None
    height, width = image.shape[:2]
    if width > max_width:
        image = cv2.resize(image, (max_width, round(height * max_width / width)), interpolation=cv2.INTER_AREA)
    target = out / "images" / f"{Path(real.image).stem}.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
        return None
    lines = [line for cls, box in (*real.boxes, *extra)
             if (line := yolo_line(CLASS_ID[cls], box, width, height)) is not None]
    label = out / "labels" / f"{Path(real.image).stem}.txt"
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text("".join(line + "\n" for line in lines))
    return target

"""Accuracy of the reader on labelled images: the real ContainerVision set and synthetic recordings.

Figures are exact matches of the whole identifier, per crop, with vertical codes counted separately.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.ocr.reader import TextReader

log = logging.getLogger(__name__)


@dataclass
class Tally:
    """Exact-match counts and the mistakes, as (truth, read, where)."""

    total: int = 0
    exact: int = 0
    mistakes: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, truth: str, read: str, where: str) -> None:
        self.total += 1
        if read == truth:
            self.exact += 1
        else:
            self.mistakes.append((truth, read, where))

    @property
    def rate(self) -> float:
        return self.exact / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "exact": self.exact, "rate": round(self.rate, 4), "mistakes": self.mistakes}


def _crop(image: np.ndarray, box: list[float]) -> np.ndarray:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (round(v) for v in box)
    return image[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]


def _is_vertical(box: list[float]) -> bool:
    return (box[3] - box[1]) > 2.0 * (box[2] - box[0])


def containervision_items(root: Path) -> Iterator[tuple[str, list[np.ndarray], str, bool]]:
    """(image name, crops in reading order, truth, vertical) for each image with a labelled number.

    A whole `number` box gives one crop; `owner` and `serial` boxes (a number split by a door bar) give two.
    """
    for line in (root / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        boxes = label.get("text_boxes") or []
        image = cv2.imread(str(root / label["image"]))
        if image is None:
            log.warning("unreadable image %s", label["image"])
            continue
        numbers = [b for b in boxes if b["kind"] == "number"]
        owners = [b for b in boxes if b["kind"] == "owner"]
        serials = [b for b in boxes if b["kind"] == "serial"]
        if numbers:
            box = numbers[0]
            yield label["image"], [_crop(image, box["xyxy"])], box["text"], _is_vertical(box["xyxy"])
        elif owners and serials:
            pieces = [owners[0], serials[0]]
            yield (label["image"], [_crop(image, b["xyxy"]) for b in pieces], owners[0]["text"] + serials[0]["text"],
                   _is_vertical(owners[0]["xyxy"]))


def evaluate_containervision(root: Path, reader: TextReader) -> dict[str, Any]:
    """Exact match per image of the container number (whole or split), overall, horizontal and vertical;
    plus the size-type codes and the share of reads whose check digit validated."""
    items = list(containervision_items(root))
    reads = reader.read_split_numbers([crops for _, crops, _, _ in items])
    overall, horizontal, vertical = Tally(), Tally(), Tally()
    check_ok = 0
    for (name, _, truth, is_vertical), read in zip(items, reads, strict=True):
        text = read.number if read else ""
        check_ok += bool(read and read.check_digit_ok)
        overall.add(truth, text, name)
        (vertical if is_vertical else horizontal).add(truth, text, name)
    size = _size_types(root, reader)
    return {"numbers": overall.as_dict(), "horizontal": horizontal.as_dict(), "vertical": vertical.as_dict(),
            "check_digit_ok": check_ok, "size_types": size.as_dict()}


def _size_types(root: Path, reader: TextReader) -> Tally:
    crops, truths, names = [], [], []
    for line in (root / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        image = cv2.imread(str(root / label["image"]))
        for box in label.get("text_boxes") or []:
            if box["kind"] == "size_type" and image is not None:
                crops.append(_crop(image, box["xyxy"]))
                truths.append(box["text"])
                names.append(label["image"])
    tally = Tally()
    for truth, read, name in zip(truths, reader.read_size_types(crops), names, strict=True):
        tally.add(truth, read.code if read else "", name)
    return tally


def evaluate_recording(root: Path, reader: TextReader, max_per_class: int = 400) -> dict[str, Any]:
    """Exact match on truth boxes of a recording's plates, container numbers and size-type codes (frame images
    stored as files; boxes under 8 px high are skipped as unreadable by design)."""
    crops: dict[str, list[tuple[np.ndarray, str, str]]] = {"plate": [], "container_number": [], "size_type": []}
    for line in (root / "frames.jsonl").read_text(encoding="utf-8").splitlines():
        frame = json.loads(line)
        if "#" in frame["file"]:
            continue
        wanted = [o for o in frame["objects"] if o["cls"] in crops and o.get("text")
                  and len(crops[o["cls"]]) < max_per_class and min(o["box"][3] - o["box"][1],
                                                                  o["box"][2] - o["box"][0]) >= 8]
        if not wanted:
            continue
        image = cv2.imread(str(root / frame["file"]))
        if image is None:
            continue
        for obj in wanted:
            crops[obj["cls"]].append((_crop(image, obj["box"]), obj["text"], frame["file"]))
    result: dict[str, Any] = {}
    plates = crops["plate"]
    tally = Tally()
    for (_, truth, where), plate in zip(plates, reader.read_plates([c for c, _, _ in plates]), strict=True):
        tally.add(truth, plate.text, where)
    result["plate"] = tally.as_dict()
    numbers = crops["container_number"]
    tally = Tally()
    for (_, truth, where), num in zip(numbers, reader.read_container_numbers([c for c, _, _ in numbers]),
                                      strict=True):
        tally.add(truth.replace(" ", ""), num.number if num else "", where)
    result["container_number"] = tally.as_dict()
    sizes = crops["size_type"]
    tally = Tally()
    for (_, truth, where), size in zip(sizes, reader.read_size_types([c for c, _, _ in sizes]), strict=True):
        tally.add(truth, size.code if size else "", where)
    result["size_type"] = tally.as_dict()
    return result

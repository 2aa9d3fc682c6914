"""Pseudo-labels for the classes the real ContainerVision images do not label (vehicle, container).

The real images label only container numbers, size-type codes and some door handles. Trained on as they are, every
truck and container in them would count as background, and the detector would learn to miss them on real cameras.
So the training images get the boxes a teacher detector (the shipped model) finds for those classes, kept only when
it is confident. The labels are written once into a file that ships in the repository
(`vision/training/real_pseudo_labels.jsonl`), so a training run does not depend on which model is shipped now.

    python -m vision.training.pseudo_labels [--real DIR] [--model FILE.onnx] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
PseudoLabels = Mapping[str, tuple[tuple[str, Box], ...]]

#: Classes taken from the teacher: large objects it finds on real images (confidence 0.5 to 0.95 on the 50 real
#: images). Plates and seals are left out: the teacher's real-image recall for small objects is unknown.
PSEUDO_CLASSES: tuple[str, ...] = ("vehicle", "container")
MIN_CONFIDENCE = 0.5
DEFAULT_FILE = Path(__file__).with_name("real_pseudo_labels.jsonl")


def make_pseudo_labels(labels_file: Path, images_root: Path, model: Path | None = None,
                       min_confidence: float = MIN_CONFIDENCE) -> list[dict[str, object]]:
    """One record per readable labelled image: the teacher's confident boxes of `PSEUDO_CLASSES`, in source pixels."""
    from vision.detections import class_name
    from vision.detector import Detector
    from vision.training.yolo_dataset import read_real_labels

    detector = Detector.load(model) if model is not None else Detector.load()
    records: list[dict[str, object]] = []
    for real in read_real_labels(labels_file)[0]:
        name = real.image
        image = cv2.imread(str(images_root / name), cv2.IMREAD_COLOR)
        if image is None:
            continue
        detections, _ = detector.detect_one(image)
        boxes = [{"cls": class_name(int(k)), "xyxy": [round(float(v), 1) for v in box],
                  "confidence": round(float(c), 3)}
                 for k, c, box in zip(detections.class_id, detections.confidence, detections.xyxy, strict=True)
                 if class_name(int(k)) in PSEUDO_CLASSES and c >= min_confidence]
        records.append({"image": name, "boxes": boxes})
    return records


def load_pseudo_labels(path: Path) -> dict[str, tuple[tuple[str, Box], ...]]:
    """Image name → pseudo boxes. Bad lines and boxes are skipped (and logged): the labels only add training data."""
    labels: dict[str, tuple[tuple[str, Box], ...]] = {}
    bad = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            labels[str(record["image"])] = tuple(_pseudo_box(box) for box in record["boxes"])
        except (ValueError, KeyError, TypeError):
            bad += 1
    if bad:
        log.warning("%s: %d bad pseudo-label lines skipped", path, bad)
    return labels


def _pseudo_box(box: Mapping[str, object]) -> tuple[str, Box]:
    cls, xyxy = box["cls"], box["xyxy"]
    if cls not in PSEUDO_CLASSES or not isinstance(xyxy, Sequence) or len(xyxy) != 4:
        raise ValueError(f"bad pseudo box {box!r}")
    values = tuple(float(v) for v in xyxy)
    if not all(math.isfinite(v) for v in values) or values[2] <= values[0] or values[3] <= values[1]:
        raise ValueError(f"bad pseudo box {box!r}")
    return str(cls), (values[0], values[1], values[2], values[3])


def main(argv: Sequence[str] | None = None) -> int:
    from vision.seals.data import SHARED

    parser = argparse.ArgumentParser(prog="python -m vision.training.pseudo_labels", description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, default=SHARED, help="the containervision folder (labels.jsonl)")
    parser.add_argument("--model", type=Path, help="teacher ONNX model (default: the shipped detector)")
    parser.add_argument("--out", type=Path, default=DEFAULT_FILE, help=f"JSONL to write (default {DEFAULT_FILE})")
    args = parser.parse_args(argv)
    records = make_pseudo_labels(args.real / "labels.jsonl", args.real, args.model)
    args.out.write_text("".join(json.dumps(record) + "\n" for record in records))
    boxes = sum(len(record["boxes"]) for record in records if isinstance(record["boxes"], list))
    print(f"{len(records)} images, {boxes} pseudo boxes ({', '.join(PSEUDO_CLASSES)}) → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

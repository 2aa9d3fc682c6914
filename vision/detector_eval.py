"""mAP50 per class of an ONNX gate detector as the product runs it (ONNX Runtime, letterbox, our decode and NMS).

Ultralytics scores the PyTorch weights during training; this scores the file the lanes load, so an exported or
int8-quantised model is measured on the same footing as the float one, side by side in one run. Truth comes from
held-out recordings (every frame with objects, and a few empty-lane frames per camera as negatives) and from the
held-out passages of the real ContainerVision images (only the classes those images label).

AP is COCO's 101-point interpolated precision at IoU 0.5, detections taken down to a score of 0.001 as mAP
conventions do (the product's thresholds are higher; a threshold cuts the curve, it does not move it).

    python -m vision.detector_eval --model A.onnx --model B.onnx --recording R --real CONTAINERVISION_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from datasets.recording import OBJECT_CLASSES, Recording
from vision.detections import FloatArray, box_iou
from vision.detector import Detector, DetectorConfig
from vision.reader import ImageReadError, load_image
from vision.training.yolo_dataset import REAL_CLASSES, clipped_box, read_real_labels, real_split, sampled_frames

IOU = 0.5
EVAL_CONFIG = DetectorConfig(score_threshold=0.001, class_thresholds={}, max_candidates=30_000)


@dataclass(frozen=True)
class Sample:
    """One image to score and its truth boxes; only `scored` classes count (others are not labelled in it)."""

    name: str
    image: np.ndarray
    boxes: FloatArray
    classes: npt.NDArray[np.int32]
    scored: frozenset[int]


@dataclass
class ClassTally:
    """Scores of one class's detections, whether each matched a truth box, and how many truth boxes there were."""

    scores: list[float]
    hits: list[bool]
    instances: int = 0

    def ap50(self) -> float | None:
        return average_precision(np.asarray(self.scores), np.asarray(self.hits, bool), self.instances)


def average_precision(scores: npt.NDArray[np.floating], hits: npt.NDArray[np.bool_], instances: int) -> float | None:
    """COCO 101-point AP: mean over recall 0, 0.01 … 1 of the best precision at that recall or more.
    None when the class has no truth box (undefined, not zero)."""
    if instances <= 0:
        return None
    if not scores.size:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / instances
    precision = tp / np.maximum(tp + fp, 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.searchsorted(recall, np.linspace(0.0, 1.0, 101), side="left")
    return float(np.where(index < recall.size, envelope[np.minimum(index, recall.size - 1)], 0.0).mean())


def match(pred: FloatArray, scores: FloatArray, truth: FloatArray) -> npt.NDArray[np.bool_]:
    """Greedy, best score first: a detection hits when its best still-free truth box overlaps it at IoU ≥ 0.5."""
    hits = np.zeros(pred.shape[0], bool)
    if not pred.shape[0] or not truth.shape[0]:
        return hits
    ious = box_iou(pred, truth)
    free = np.ones(truth.shape[0], bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(free, ious[i], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= IOU:
            hits[i], free[best] = True, False
    return hits


class ClassScore(TypedDict):
    map50: float | None
    instances: int


def evaluate(detector: Detector, samples: Iterable[Sample]) -> dict[str, ClassScore]:
    """mAP50 and truth count per class over the samples (classes with no truth box in any sample are left out)."""
    tallies = {index: ClassTally([], []) for index in range(len(OBJECT_CLASSES))}
    for sample in samples:
        found = detector.detect([sample.image])[0]
        for index in sample.scored:
            mine = found.class_id == index
            truth = sample.boxes[sample.classes == index]
            tally = tallies[index]
            tally.instances += int(truth.shape[0])
            tally.scores.extend(found.confidence[mine].tolist())
            tally.hits.extend(match(found.xyxy[mine], found.confidence[mine], truth).tolist())
    return {OBJECT_CLASSES[i]: ClassScore(map50=_rounded(t.ap50()), instances=t.instances)
            for i, t in tallies.items() if t.instances}


def recording_samples(root: Path) -> Iterator[Sample]:
    """The frames training exports from a recording (`sampled_frames`), with their truth boxes clipped as it clips
    them."""
    recording = Recording.open(root)
    every = frozenset(range(len(OBJECT_CLASSES)))
    for truth, _passage in sampled_frames(recording):
        try:
            image = load_image(recording.frame_path(truth))
        except (ImageReadError, ValueError):
            continue
        height, width = image.shape[:2]
        kept = [(OBJECT_CLASSES.index(obj.cls), box) for obj in truth.objects
                if (box := clipped_box(obj.box, width, height)) is not None]
        boxes = np.array([box for _, box in kept], np.float32).reshape(-1, 4)
        classes = np.array([cls for cls, _ in kept], np.int32)
        yield Sample(f"{root.name}/{truth.file}", image, boxes, classes, every)


def real_samples(root: Path) -> Iterator[Sample]:
    """The held-out real passages (never trained on): container_number and size_type on every image, door_handle
    only where the image labels its handles."""
    records, _bad = read_real_labels(root / "labels.jsonl")
    passages = [record.passage for record in records]
    text = frozenset(OBJECT_CLASSES.index(name) for name in REAL_CLASSES if name != "door_handle")
    doors = frozenset({OBJECT_CLASSES.index("door_handle")})
    for record in records:
        if real_split(record.passage, passages) != "val":
            continue
        try:
            image = load_image(root / record.image)
        except ImageReadError:
            continue
        boxes = np.array([box for _, box in record.boxes], np.float32).reshape(-1, 4)
        classes = np.array([OBJECT_CLASSES.index(cls) for cls, _ in record.boxes], np.int32)
        yield Sample(record.image, image, boxes, classes, text | doors if record.doors_labelled else text)


def compare(models: Sequence[Path], recordings: Sequence[Path], real: Path | None,
            threads: int | None = None) -> dict[str, dict[str, object]]:
    """Each model's mAP50 per class on the recordings and on the real held-out images, models in one run."""
    out: dict[str, dict[str, object]] = {}
    for model in models:
        detector = Detector.load(model, threads=threads, config=EVAL_CONFIG)
        scores: dict[str, object] = {}
        if recordings:
            scores["synthetic"] = evaluate(detector, (s for r in recordings for s in recording_samples(r)))
        if real is not None:
            scores["real"] = evaluate(detector, real_samples(real))
        out[str(model)] = scores
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vision.detector_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, action="append", required=True, help="ONNX detector (repeatable)")
    parser.add_argument("--recording", type=Path, action="append", default=[], help="held-out recording")
    parser.add_argument("--real", type=Path, help="ContainerVision folder (labels.jsonl and images)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads")
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    args = parser.parse_args(argv)
    result = compare(args.model, args.recording, args.real, args.threads)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

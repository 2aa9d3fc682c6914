"""Seal state per container, end to end on held-out synthetic recordings, without the slow full replay.

`python -m vision.seals.evaluate_passages REC [REC...]` runs the detector on the frames whose truth shows a door
handle (any camera), reads the doors there as the lane pipeline does (`read_doors`), links each door to its truck
by the truth boxes (standing in for the tracker), fuses each truck's door reads with `PassageEvidence` (the truth
container numbers stand in for OCR) and scores each truth container as `smartgate replay` does. It also says
where errors come from: handles the detector missed, handle crops the classifier got wrong, per-frame door
states, and containers whose doors no camera sees (the front box of two 20 ft: its doors face the rear box).

Detections are cached per recording (`--cache`), so the classifier and fusion can be re-scored in seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from datasets.recording import FrameTruth, ObjectTruth, PassageTruth, Recording
from vision.detections import Detections, box_ioa, box_iou, class_index
from vision.detector import DEFAULT_MODEL as DETECTOR_MODEL
from vision.detector import Detector
from vision.fusion import ContainerObservation, PassageEvidence, SealObservation, Sighting
from vision.seals.classifier import DEFAULT_MODELS, SealClassifier
from vision.seals.doors import DoorRead, read_doors
from vision.seals.features import crop_handle

log = logging.getLogger(__name__)

HANDLE_IOU = 0.3  # a detected handle box this close to a truth handle box is that handle
DOOR_IN_CONTAINER = 0.5  # share of a door's box inside a truth container (or vehicle) box that links it


@dataclass
class Tally:
    """Counts over one or more recordings; `containers_*` are replay's seal score."""

    containers: int = 0
    containers_right: int = 0
    hidden: int = 0  # containers whose doors no camera sees (not the truck's last box)
    hidden_right: int = 0
    doors_unseen: int = 0  # last boxes with no door read at all
    door_frames: int = 0
    door_frames_right: int = 0
    door_frames_unknown: int = 0
    stray_doors: int = 0  # door reads on no truth truck
    handles: int = 0
    handles_found: int = 0
    sealed_handles: int = 0
    sealed_handles_found: int = 0
    crops: Counter[str] = field(default_factory=Counter)  # "sealed:present" ... over matched handles
    wrong: list[dict[str, object]] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.crops.update(other.crops)
        self.wrong += other.wrong

    def summary(self) -> dict[str, object]:
        visible = self.containers - self.hidden
        return {
            "seal_accuracy": _ratio(self.containers_right, self.containers),
            "seal_accuracy_visible_doors": _ratio(self.containers_right - self.hidden_right, visible),
            "containers": self.containers, "hidden_doors": self.hidden, "visible_doors_unseen": self.doors_unseen,
            "door_frame_accuracy": _ratio(self.door_frames_right, self.door_frames),
            "door_frames": self.door_frames, "door_frames_unknown": self.door_frames_unknown,
            "stray_doors": self.stray_doors,
            "handle_recall": _ratio(self.handles_found, self.handles),
            "sealed_handle_recall": _ratio(self.sealed_handles_found, self.sealed_handles),
            "handle_crops": dict(sorted(self.crops.items())), "wrong": self.wrong,
        }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


# -- detections, cached ------------------------------------------------------------------------------------------

def door_frames(rec: Recording) -> list[FrameTruth]:
    """Frames whose truth shows a door handle: the only frames where a door can be read."""
    return [f for f in rec.frames() if any(o.cls == "door_handle" for o in f.objects)]


class FrameDetector(Protocol):
    def detect_one(self, image: np.ndarray) -> Detections: ...


def detections(recording: Path, detector: FrameDetector, cache: Path | None) -> dict[tuple[str, int], Detections]:
    """Detections of each door frame, keyed by (camera, frame); read from or written to `cache`."""
    rec = Recording.open(recording)
    frames = door_frames(rec)
    file = cache / f"{recording.name}-seed{rec.meta.seed}.npz" if cache else None
    if file is not None and file.is_file():
        return _load(file)
    out: dict[tuple[str, int], Detections] = {}
    for truth in frames:
        image = cv2.imread(str(rec.frame_path(truth)), cv2.IMREAD_COLOR)
        out[(truth.camera, truth.frame)] = detector.detect_one(image) if image is not None else Detections.empty()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        _save(file, out)
    return out


def _save(file: Path, found: dict[tuple[str, int], Detections]) -> None:
    keys = list(found)
    rows = np.cumsum([0] + [len(found[k]) for k in keys])
    parts = [found[k] for k in keys]
    np.savez_compressed(file, cameras=np.array([k[0] for k in keys]), frames=np.array([k[1] for k in keys]),
                        rows=rows, xyxy=np.concatenate([d.xyxy for d in parts] or [np.zeros((0, 4), np.float32)]),
                        confidence=np.concatenate([d.confidence for d in parts] or [np.zeros(0, np.float32)]),
                        class_id=np.concatenate([d.class_id for d in parts] or [np.zeros(0, np.int32)]))


def _load(file: Path) -> dict[tuple[str, int], Detections]:
    with np.load(file, allow_pickle=False) as data:
        rows = data["rows"]
        return {(str(cam), int(frame)): Detections.from_arrays(data["xyxy"][a:b], data["confidence"][a:b],
                                                               data["class_id"][a:b])
                for cam, frame, a, b in zip(data["cameras"], data["frames"], rows[:-1], rows[1:], strict=True)}


# -- scoring -----------------------------------------------------------------------------------------------------

def score(recording: Path, found: dict[tuple[str, int], Detections], classifier: SealClassifier) -> Tally:
    """Read the doors of every cached frame, fuse per truck, and score against the recording's truth."""
    rec = Recording.open(recording)
    passages = {p.passage_id: p for p in rec.passages()}
    evidence = {pid: _evidence_with_truth_numbers(p) for pid, p in passages.items()}
    tally = Tally()
    seen: set[str] = set()
    for truth, image in _frames(rec, found):
        dets = found[(truth.camera, truth.frame)]
        _score_handles(tally, truth, image, dets, classifier)
        for door in read_doors(image, dets, classifier):
            pid = _owner(door, truth.objects)
            if pid is None or pid not in passages or not passages[pid].containers:
                tally.stray_doors += 1
                continue
            seen.add(pid)
            _score_door_frame(tally, door, passages[pid])
            sighting = Sighting(truth.camera, truth.frame, truth.t, truth.t, door.box)
            state = door.state.state
            evidence[pid].add_seal(SealObservation(state, door.state.confidence, door.box), sighting, lambda: None)
    for pid, passage in passages.items():
        _score_passage(tally, passage, evidence[pid], pid in seen, recording.name)
    return tally


def _frames(rec: Recording, found: dict[tuple[str, int], Detections]) -> Iterator[tuple[FrameTruth, np.ndarray]]:
    for truth in rec.frames():
        if (truth.camera, truth.frame) in found:
            image = cv2.imread(str(rec.frame_path(truth)), cv2.IMREAD_COLOR)
            if image is not None:
                yield truth, image


def _evidence_with_truth_numbers(passage: PassageTruth) -> PassageEvidence:
    """Fusion state holding the truck's true container numbers (as if OCR were perfect), with their positions."""
    evidence = PassageEvidence()
    for i, container in enumerate(passage.containers):
        sighting = Sighting("truth", 0, float(i), float(i), (0.0, 0.0, 1.0, 1.0))
        evidence.add_container(ContainerObservation(container.number, 1.0, (0.0, 0.0, 1.0, 1.0),
                                                    size_type=container.size_type, position=container.position),
                               sighting, lambda: None)
    return evidence


def _owner(door: DoorRead, objects: Sequence[ObjectTruth]) -> str | None:
    """The truth truck a door read lies on: its container box, else its vehicle box."""
    for cls in ("container", "vehicle"):
        boxes = [o for o in objects if o.cls == cls and o.passage_id]
        if not boxes:
            continue
        inside = box_ioa(np.array([door.box], np.float32), np.array([o.box for o in boxes], np.float32))[0]
        best = int(inside.argmax())
        if inside[best] >= DOOR_IN_CONTAINER:
            return boxes[best].passage_id
    return None


def _score_handles(tally: Tally, truth: FrameTruth, image: np.ndarray, dets: Detections,
                   classifier: SealClassifier) -> None:
    """Detector recall of the truth handles, and the classifier's state of each handle it found."""
    handles = [o for o in truth.objects if o.cls == "door_handle"]
    found = dets[dets.class_id == class_index("door_handle")]
    sealed = np.array([bool(o.attrs.get("sealed", False)) for o in handles])
    tally.handles += len(handles)
    tally.sealed_handles += int(sealed.sum())
    if not len(found):
        return
    iou = box_iou(np.array([o.box for o in handles], np.float32), found.xyxy)
    match = iou.argmax(axis=1)
    hit = iou[np.arange(len(handles)), match] >= HANDLE_IOU
    tally.handles_found += int(hit.sum())
    tally.sealed_handles_found += int((hit & sealed).sum())
    rows = np.flatnonzero(hit)
    states = classifier.classify([crop_handle(image, found.xyxy[match[i]]) for i in rows])
    for i, state in zip(rows, states, strict=True):
        tally.crops[f"{'sealed' if sealed[i] else 'unsealed'}:{state.state}"] += 1


def _score_door_frame(tally: Tally, door: DoorRead, passage: PassageTruth) -> None:
    want = "present" if passage.containers[-1].seal.present else "absent"
    tally.door_frames += 1
    tally.door_frames_right += door.state.state == want
    tally.door_frames_unknown += door.state.state == "unknown"


def _score_passage(tally: Tally, passage: PassageTruth, evidence: PassageEvidence, seen: bool, name: str) -> None:
    """Replay's rule: per truth container, the seal read linked to its number has the truth state."""
    reads = {s.container_number: s for s in evidence.seals(lambda *_: ()) if s.container_number}
    if passage.containers and not seen:
        tally.doors_unseen += 1
    for k, container in enumerate(passage.containers):
        read = reads.get(container.number)
        want = "present" if container.seal.present else "absent"
        right = read is not None and read.state == want
        hidden = k < len(passage.containers) - 1
        tally.containers += 1
        tally.containers_right += right
        tally.hidden += hidden
        tally.hidden_right += hidden and right
        if not right:
            tally.wrong.append({"recording": name, "passage": passage.passage_id, "container": container.number,
                                "position": container.position, "want": want, "hidden": hidden,
                                "got": read.state if read else None,
                                "confidence": round(read.confidence, 3) if read else None})


# -- command -----------------------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="End-to-end seal state per container on synthetic recordings")
    parser.add_argument("recordings", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, nargs="+", default=list(DEFAULT_MODELS),
                        help="seal model files, pooled (default: the shipped CNN and MLP)")
    parser.add_argument("--detector", type=Path, default=DETECTOR_MODEL)
    parser.add_argument("--cache", type=Path, help="folder for cached detections (re-scoring is then fast)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    classifier = SealClassifier.load(*args.model)
    detector = _LazyDetector(args.detector, args.threads)
    total, per = Tally(), {}
    for recording in args.recordings:
        tally = score(recording, detections(recording, detector, args.cache), classifier)
        per[recording.name] = tally.summary()
        total.add(tally)
        log.info("%s: %s", recording.name, {k: v for k, v in per[recording.name].items() if k != "wrong"})
    summary = total.summary()
    log.info("all: %s", json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"total": summary, "recordings": per}, indent=2))


class _LazyDetector:
    """Loads the detector on first use: re-scoring cached detections needs none."""

    def __init__(self, path: Path, threads: int) -> None:
        self.path, self.threads = path, threads
        self._detector: Detector | None = None

    def detect_one(self, image: np.ndarray) -> Detections:
        if self._detector is None:
            self._detector = Detector.load(self.path, threads=self.threads)
        return self._detector.detect_one(image)[0]


if __name__ == "__main__":
    main()

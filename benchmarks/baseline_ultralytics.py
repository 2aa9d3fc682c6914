"""The plain baseline of issue 3: the shipped ONNX detector through ultralytics' own `track()`, OCR on every box.

What a first version of the product would be: per camera one `YOLO(onnx)` with its own ByteTrack state
(`track(persist=True, tracker="bytetrack.yaml")`, ultralytics' defaults otherwise), the project's batched text
reader on every plate and container-number box detected in every frame, and as the answer of each track the
majority of its grammar-decoded reads. The boxes are taken by an ultralytics callback before its tracker runs,
because `track()` returns confirmed tracks only, and at 4 fps it confirms few of the small, fast plate boxes
(IoU matching); a read of a box no track holds counts as a track of its own. It reads no seals.

To be scored like the lane pipeline, the tracks become passages: vehicle tracks of all cameras whose time spans
overlap are one truck (the lane holds one truck at a time), and a text track belongs to the truck its span
overlaps most. Each passage reports per plate role the answer with the
most votes and every container number answered by a track.

ultralytics must never reach the network or install a package while this runs: `YOLO_OFFLINE` and
`YOLO_AUTOINSTALL=false` are set before it is imported (its settings go to `var/bench/ultralytics/`, not the
user's home), and `forbid_downloads()` turns the same switches off in case ultralytics was imported earlier.
Its tracker needs `lap` (pinned in requirements-train.lock); without it ultralytics would try to pip-install it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bus.messages import ContainerRead, PlateRead, VehiclePassage
from datasets.recording import OBJECT_CLASSES, Recording
from datasets.sources import Frame, RecordingSource
from vision.detector import DEFAULT_MODEL
from vision.ocr import TextReader
from vision.reader import ReaderConfig
from vision.replay import container_hits, match_passages, merged_frames, plate_hits, share

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "var" / "bench" / "ultralytics"
VEHICLE, PLATE, NUMBER = (OBJECT_CLASSES.index(name) for name in ("vehicle", "plate", "container_number"))
MIN_VEHICLE_FRAMES = 2  # a vehicle track seen once is a flicker, not a truck


def ultralytics_available() -> bool:
    """True when ultralytics and the `lap` package its tracker needs can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("ultralytics", "lap"))


def forbid_downloads() -> None:
    """Keep ultralytics offline: no connectivity probe, no pip install, no settings in the user's home."""
    CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(CONFIG_DIR))
    from ultralytics.utils import checks

    checks.AUTOINSTALL = False  # read by check_requirements: report a missing package, never install it
    checks.ONLINE = False  # read by check_requirements and the download helpers


@dataclass
class TrackVotes:
    """One ultralytics track of one camera: its media-time span and the reads of its crops."""

    cls: int
    first_t: float
    last_t: float
    frames: int = 0
    votes: Counter[str] = field(default_factory=Counter)
    formats: dict[str, str] = field(default_factory=dict)
    check_ok: dict[str, bool] = field(default_factory=dict)

    def answer(self) -> tuple[str, int] | None:
        """The majority read and its votes (ties: the read first seen)."""
        best = self.votes.most_common(1)
        return best[0] if best else None


@dataclass(frozen=True)
class BaselineRun:
    frames: int
    wall_s: float
    passages: list[VehiclePassage]
    epoch_utc: float
    last_t: float
    ocr_crops: int

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


class UltralyticsBaseline:
    """`process(frame)` per camera frame, then `passages(...)`. One instance per lane and run."""

    def __init__(self, cameras: Sequence[str], text: TextReader, model: str | Path = DEFAULT_MODEL,
                 config: ReaderConfig | None = None) -> None:
        forbid_downloads()
        from ultralytics import YOLO

        self.text = text
        self.pads = config or ReaderConfig()
        self.models: dict[str, Any] = {}
        self._raw: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for camera in cameras:
            self.models[camera] = YOLO(str(model), task="detect")
            # added before track() adds its tracker's callback, so it sees the detections before tracking
            self.models[camera].add_callback("on_predict_postprocess_end", partial(self._capture, camera))
        self.tracks: dict[tuple[str, int], TrackVotes] = {}
        self.ocr_crops = 0
        self._untracked = 0

    def warm_up(self, size: tuple[int, int]) -> None:
        """ultralytics builds its predictor and runs a warm-up inference on the first call: its load step."""
        blank = np.full((size[1], size[0], 3), 114, np.uint8)
        for model in self.models.values():
            model.predict(blank, verbose=False)

    def process(self, frame: Frame) -> None:
        """Track one camera frame and read every plate and number box detected in it (a frame with no image is
        skipped: ultralytics has no way to age its tracks without one)."""
        if frame.image is None:
            return
        result = self.models[frame.camera].track(frame.image, persist=True, tracker="bytetrack.yaml",
                                                 verbose=False)[0]
        boxes = result.boxes
        cls = boxes.cls.numpy().astype(np.int64)
        ids = boxes.id.numpy().astype(np.int64) if boxes.id is not None else np.full(len(cls), -1, np.int64)
        for row in np.flatnonzero(ids >= 0):
            self._seen(frame.camera, int(ids[row]), int(cls[row]), frame.t)
        raw_xyxy, raw_cls = self._raw.pop(frame.camera)
        raw_ids = _track_ids(raw_xyxy, raw_cls, boxes.xyxy.numpy(), cls, ids)
        self._read(frame, raw_xyxy, raw_cls, raw_ids)

    def _capture(self, camera: str, predictor: Any) -> None:
        """ultralytics' callback: its detections of the frame, before its tracker keeps only confirmed tracks."""
        boxes = predictor.results[0].boxes
        self._raw[camera] = (boxes.xyxy.cpu().numpy().copy(), boxes.cls.cpu().numpy().astype(np.int64))

    def _seen(self, camera: str, track_id: int, cls: int, t: float) -> None:
        track = self.tracks.setdefault((camera, track_id), TrackVotes(cls, t, t))
        track.last_t = t
        track.frames += 1

    def _read(self, frame: Frame, xyxy: np.ndarray, cls: np.ndarray, ids: np.ndarray) -> None:
        """Two batched OCR calls per frame: every plate box, every container-number box. A read of a box no
        track holds is a track of its own, of one read."""
        image = frame.image
        if image is None:
            return
        plates, numbers = np.flatnonzero(cls == PLATE), np.flatnonzero(cls == NUMBER)
        self.ocr_crops += len(plates) + len(numbers)
        if len(plates):
            reads = self.text.read_plates([_crop(image, xyxy[i], self.pads.plate_pad) for i in plates])
            for i, plate in zip(plates, reads, strict=True):
                if plate.text:
                    self._vote(frame, PLATE, int(ids[i]), plate.text, plate.format, True)
        if len(numbers):
            found = self.text.read_container_numbers([_crop(image, xyxy[i], self.pads.number_pad) for i in numbers])
            for i, number in zip(numbers, found, strict=True):
                if number is not None and number.number:
                    self._vote(frame, NUMBER, int(ids[i]), number.number, "iso6346", number.check_digit_ok)

    def _vote(self, frame: Frame, cls: int, track_id: int, text: str, fmt: str, check_ok: bool) -> None:
        if track_id < 0:
            self._untracked += 1
            track_id = -self._untracked
            self._seen(frame.camera, track_id, cls, frame.t)
        track = self.tracks[(frame.camera, track_id)]
        track.votes[text] += 1
        track.formats[text] = fmt
        track.check_ok[text] = check_ok

    # -- passages ---------------------------------------------------------------------------------------------------

    def passages(self, lane_id: str, direction: str, epoch_utc: float) -> list[VehiclePassage]:
        """The tracks grouped into trucks (overlapping vehicle spans over all cameras), each a `VehiclePassage`."""
        vehicles = [t for t in self.tracks.values() if t.cls == VEHICLE and t.frames >= MIN_VEHICLE_FRAMES]
        spans = _merged_spans([(t.first_t, t.last_t) for t in vehicles])
        members: list[list[TrackVotes]] = [[] for _ in spans]
        for track in self.tracks.values():
            if track.cls in (PLATE, NUMBER) and track.votes:
                at = _most_overlap(spans, track.first_t, track.last_t)
                if at is not None:
                    members[at].append(track)
        return [_passage(f"{lane_id}-baseline-{k}", lane_id, direction, epoch_utc, span, tracks)
                for k, (span, tracks) in enumerate(zip(spans, members, strict=True))]


def run_baseline(recording_dir: str | Path, *, text: TextReader, max_frames: int | None = None,
                 baseline: UltralyticsBaseline | None = None, cameras: Sequence[str] | None = None,
                 start_t: float = 0.0) -> BaselineRun:
    """The recording's cameras (default: all) in media-time order from `start_t` through the baseline, timed as
    `replay` times the pipeline (frame decoding included, model loading not)."""
    meta = Recording.open(recording_dir).meta
    cameras = sorted(cameras or meta.cameras)
    lane = baseline or UltralyticsBaseline(cameras, text)
    sources = [RecordingSource(recording_dir, camera) for camera in cameras]
    frames, epoch, last_t = 0, None, float("-inf")
    started = time.monotonic()
    try:
        for frame in merged_frames(sources):
            if max_frames is not None and frames >= max_frames:
                break
            if frame.t < start_t:
                continue
            frames += 1
            epoch = frame.ts_utc - frame.t if epoch is None else epoch
            last_t = max(last_t, frame.t)
            lane.process(frame)
        passages = lane.passages(meta.lane_id, meta.direction, epoch or 0.0)
    finally:
        for source in sources:
            source.close()
    return BaselineRun(frames, time.monotonic() - started, passages, epoch or 0.0, last_t, lane.ocr_crops)


@dataclass(frozen=True)
class Scores:
    passages_truth: int
    passages_found: int
    plate_accuracy: float
    container_accuracy: float


def score(recording_dir: str | Path, run: BaselineRun) -> Scores:
    """`vision.replay`'s scoring: truth passages entered before the last frame, matched by media-time overlap."""
    truth = [p for p in Recording.open(recording_dir).passages() if p.t_enter <= run.last_t]
    pairs = match_passages(truth, run.passages, run.epoch_utc)
    return Scores(len(truth), len(pairs), share(plate_hits(truth, pairs)), share(container_hits(truth, pairs)))


# -- helpers -------------------------------------------------------------------------------------------------------

def _crop(image: np.ndarray, box: np.ndarray, pad: tuple[float, float]) -> np.ndarray:
    """The box grown by `pad` (shares of its width, height), clipped to the image: as the project's reader crops."""
    x0, y0, x1, y1 = (float(v) for v in box)
    dx, dy = pad[0] * (x1 - x0), pad[1] * (y1 - y0)
    h, w = image.shape[:2]
    return image[max(0, int(y0 - dy)):min(h, int(np.ceil(y1 + dy))), max(0, int(x0 - dx)):min(w, int(np.ceil(x1 + dx)))]


def _track_ids(raw_xyxy: np.ndarray, raw_cls: np.ndarray, xyxy: np.ndarray, cls: np.ndarray,
               ids: np.ndarray) -> np.ndarray:
    """The track id of each detected box: that of the tracked box of its class it overlaps most (IoU ≥ 0.5;
    tracked boxes are the tracker's smoothed ones), else -1."""
    out = np.full(len(raw_cls), -1, np.int64)
    if not len(raw_cls) or not len(cls):
        return out
    top_left = np.maximum(raw_xyxy[:, None, :2], xyxy[None, :, :2])
    bottom_right = np.minimum(raw_xyxy[:, None, 2:], xyxy[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_raw = np.prod(raw_xyxy[:, 2:] - raw_xyxy[:, :2], axis=1)
    area = np.prod(xyxy[:, 2:] - xyxy[:, :2], axis=1)
    iou = inter / np.maximum(area_raw[:, None] + area[None] - inter, 1e-9)
    iou[(raw_cls[:, None] != cls[None]) | (ids[None] < 0)] = 0.0
    best = iou.argmax(axis=1)
    matched = iou[np.arange(len(raw_cls)), best] >= 0.5
    out[matched] = ids[best[matched]]
    return out


def _merged_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping (start, end) spans joined."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _most_overlap(spans: list[tuple[float, float]], start: float, end: float) -> int | None:
    overlaps = [min(end, hi) - max(start, lo) for lo, hi in spans]
    best = int(np.argmax(overlaps)) if overlaps else -1
    return best if best >= 0 and overlaps[best] >= 0 else None


def _passage(passage_id: str, lane_id: str, direction: str, epoch_utc: float, span: tuple[float, float],
             tracks: list[TrackVotes]) -> VehiclePassage:
    plates: dict[str, Counter[tuple[str, str]]] = {}
    numbers: Counter[str] = Counter()
    check_ok: dict[str, bool] = {}
    for track in tracks:
        answer = track.answer()
        if answer is None:
            continue
        text, votes = answer
        if track.cls == NUMBER:
            numbers[text] += votes
            check_ok[text] = track.check_ok[text]
            continue
        fmt = track.formats[text]
        role = "unknown" if fmt == "unknown" else "trailer" if fmt.endswith("_trailer") else "tractor"
        plates.setdefault(role, Counter())[(text, fmt.split("_")[0])] += votes
    plate_reads = tuple(_plate_read(role, counts) for role, counts in plates.items())
    total = sum(numbers.values()) or 1
    container_reads = tuple(ContainerRead(number=n, check_digit_ok=check_ok[n], confidence=round(v / total, 4))
                            for n, v in numbers.most_common())
    return VehiclePassage(passage_id=passage_id, lane_id=lane_id, direction="in" if direction == "in" else "out",
                          first_seen_utc=epoch_utc + span[0], last_seen_utc=epoch_utc + span[1],
                          plates=plate_reads, containers=container_reads)


def _plate_read(role: str, counts: Counter[tuple[str, str]]) -> PlateRead:
    (text, family), votes = counts.most_common(1)[0]
    fmt = family if family in ("vn", "cn") else "unknown"
    return PlateRead(text=text, format=fmt, role=role, confidence=round(votes / sum(counts.values()), 4))  # type: ignore[arg-type]


"""One lane's vision pipeline: frames of all its cameras in, `VehiclePassage`s out as trucks leave.

Per frame: detect → track (a `ByteTracker` per camera, updated on *every* frame, empty or corrupt ones too, so
tracks age and end on time) → read the crops of plates, container numbers, size types, door handles and seals,
batched per frame → fuse (`PassageFuser`).

Detect only what changed: a frame whose picture matches the last frame the detector saw on that camera
(`FrameGate`: an empty lane, a truck standing at the barrier) reuses that frame's detections. The tracker still
gets them (tracks age by time, a standing truck stays tracked) and nothing is read again (same pixels, same
reads). The detector is most of the cost per frame, and most frames of a gate camera are unchanged.

OCR only on new or better crops: plates and container numbers are tracked like vehicles (the tracker is class
aware), and a tracked crop is not read again once its track has `settled_reads` consistent reads (the same text)
unless it is at least `better_area` times the area of the largest crop read so far (a truck coming nearer gives a
sharper crop). The reads already made stay in fusion, so skipping loses no evidence already counted; an
untracked crop (a weak or new detection) is always read. Seals are classified on every frame: the classifier is
a small MLP, cheaper than the bookkeeping would be.

Counters: frames, detected, reused (an unchanged frame), corrupt (the source could not give the frame), rejected
(the detector refused it), bad_time (a camera's clock went back), reads made and skipped; per-stage milliseconds
(detect, track, ocr, seals, fuse); and the latency of each passage, wall-clock ms from the moment its vehicle's
last frame was taken in to the moment the passage was emitted (with `exit_grace_s` of media time between them, by
design of the fuser).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bus.messages import VehiclePassage
from datasets.sources import Frame
from vision.detections import Detections, class_index
from vision.detector import ImageError
from vision.evidence import EvidenceStore
from vision.frame_gate import FrameGate, GateConfig
from vision.fusion import (
    CameraFrame,
    ContainerObservation,
    FusionConfig,
    PassageFuser,
    PlateObservation,
    SealObservation,
)
from vision.reader import ContainerResult, ImageReader, PlateResult, SealResult, rounded_box
from vision.tracking import ByteTracker, EndedTrack, TrackerConfig

log = logging.getLogger(__name__)

STAGES = ("detect", "track", "ocr", "seals", "fuse")
READ_CLASSES = frozenset(class_index(name) for name in
                         ("plate", "container_number", "size_type", "door_handle", "seal"))
TEXT_CLASSES = frozenset(class_index(name) for name in ("plate", "container_number"))
MAX_ARRIVALS = 10_000
MAX_LATENCIES = 100_000
TrackKey = tuple[str, int]


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    settled_reads: int = 4
    """A tracked plate or number with this many consistent reads is not read again (unless its crop is better);
    a read the grammar validates counts as two, so two validated reads of the same text settle it."""
    better_area: float = 1.2
    """A settled crop is read again when its area is at least this many times the largest one read."""
    gate: GateConfig = field(default_factory=GateConfig)
    """Which frames the detector looks at; an unchanged frame reuses the camera's last detections."""
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)


@dataclass
class _Memo:
    """What a tracked crop has read so far: its current text, how many reads agree, the largest crop area."""

    text: str
    count: int
    area: float


class LanePipeline:
    """`process(frame) -> [VehiclePassage]`; `flush()` at the end of the stream. One instance per lane."""

    def __init__(self, lane_id: str, direction: str, reader: ImageReader, *, evidence_dir: str | Path | None = None,
                 config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        self.reader = reader
        self.evidence = EvidenceStore(evidence_dir) if evidence_dir is not None else None
        self.fuser = PassageFuser(lane_id, direction, config=self.config.fusion, evidence=self.evidence)
        self.gate = FrameGate(self.config.gate)
        self._trackers: dict[str, ByteTracker] = {}
        self._last_detections: dict[str, Detections] = {}
        self._memos: dict[TrackKey, _Memo] = {}
        self._arrivals: OrderedDict[float, float] = OrderedDict()
        self.latencies_ms: list[float] = []
        self.stage_ms = dict.fromkeys(STAGES, 0.0)
        self.counters = {"frames": 0, "detected": 0, "reused": 0, "corrupt": 0, "rejected": 0, "bad_time": 0,
                         "reads": 0, "reads_skipped": 0, "passages": 0}

    @classmethod
    def load(cls, lane_id: str, direction: str, *, model: str | Path | None = None, threads: int | None = None,
             evidence_dir: str | Path | None = None, config: PipelineConfig | None = None) -> LanePipeline:
        """The pipeline with the shipped detector, OCR and seal models."""
        return cls(lane_id, direction, ImageReader.load(model, threads), evidence_dir=evidence_dir, config=config)

    # -- per frame -------------------------------------------------------------------------------------------------

    def process(self, frame: Frame) -> list[VehiclePassage]:
        """Take one camera frame (a corrupt one too: it ages the tracks); return the passages now complete."""
        taken = time.monotonic()
        self.counters["frames"] += 1
        with self._stage("detect"):
            detections, fresh = self._detect(frame)
        with self._stage("track"):
            tracked = self._track(frame, detections)
        if tracked is None:
            return []
        tracked_dets, ended = tracked
        image = frame.image
        plates: list[PlateObservation] = []
        containers: list[ContainerObservation] = []
        seals: list[SealObservation] = []
        if image is not None and fresh and len(tracked_dets):
            with self._stage("ocr"):
                plates, containers = self._read_text(frame.camera, image, tracked_dets)
            with self._stage("seals"):
                seals = [_seal(s) for s in self.reader.read_seals(image, tracked_dets)]
        camera_frame = CameraFrame(camera=frame.camera, frame=frame.index, t_s=frame.t, ts_utc=frame.ts_utc,
                                   vehicles=tracked_dets, ended=ended, plates=plates, containers=containers,
                                   seals=seals, image=image if self.evidence is not None else None)
        self._arrived(frame.ts_utc, taken)
        with self._stage("fuse"):
            return self._emitted(self.fuser.update(camera_frame))

    def flush(self) -> list[VehiclePassage]:
        """End of the stream: publish every open passage."""
        for tracker in self._trackers.values():
            tracker.flush()
        self._memos.clear()
        return self._emitted(self.fuser.flush())

    def active_tracks(self, camera: str) -> np.ndarray:
        """Ids of the confirmed tracks of one camera (empty for a camera not seen yet)."""
        tracker = self._trackers.get(camera)
        return tracker.active_ids if tracker is not None else np.zeros(0, np.int64)

    def stage_means_ms(self) -> dict[str, float]:
        """Mean milliseconds per frame of each stage."""
        frames = max(1, self.counters["frames"])
        return {stage: total / frames for stage, total in self.stage_ms.items()}

    # -- stages ----------------------------------------------------------------------------------------------------

    def _detect(self, frame: Frame) -> tuple[Detections, bool]:
        """The frame's detections, and whether they are new (False: reused from an unchanged frame, or none)."""
        if frame.image is None:
            self.counters["corrupt"] += 1
            self.gate.forget(frame.camera)
            return Detections.empty(), False
        last = self._last_detections.get(frame.camera)
        if last is not None and self.gate.decide(frame.camera, frame.image, frame.t) == "reuse":
            self.counters["reused"] += 1
            return last, False
        try:
            detections, _ = self.reader.detector.detect_one(frame.image)
        except ImageError as exc:
            self.counters["rejected"] += 1
            self.gate.forget(frame.camera)
            self._last_detections.pop(frame.camera, None)
            log.warning("camera %s frame %d rejected by the detector: %s", frame.camera, frame.index, exc)
            return Detections.empty(), False
        self.counters["detected"] += 1
        self.gate.detected(frame.camera, frame.image, frame.t)
        self._last_detections[frame.camera] = detections
        return detections, True

    def _track(self, frame: Frame, detections: Detections) -> tuple[Detections, list[EndedTrack]] | None:
        tracker = self._trackers.get(frame.camera)
        if tracker is None:
            tracker = self._trackers[frame.camera] = ByteTracker(self.config.tracker)
        try:
            tracked = tracker.update(detections, frame.t)
        except ValueError as exc:  # a clock that went back or is not finite: the frame cannot be placed in time
            self.counters["bad_time"] += 1
            log.warning("camera %s frame %d skipped: %s", frame.camera, frame.index, exc)
            return None
        ended = tracker.pop_ended()
        for track in ended:
            self._memos.pop((frame.camera, track.track_id), None)
        return tracked, ended

    def _read_text(self, camera: str, image: np.ndarray,
                   dets: Detections) -> tuple[list[PlateObservation], list[ContainerObservation]]:
        """Plates and container numbers of one frame, two batched OCR calls, skipping settled tracked crops."""
        wanted = self._worth_reading(camera, dets)
        dets = dets[wanted]
        plate_results = self.reader.read_plates(image, dets)
        container_results = self.reader.read_containers(image, dets)
        self._remember(camera, dets, {tuple(p.box): (p.text, p.format != "unknown") for p in plate_results}
                       | {tuple(c.box): (c.number, c.check_digit_ok) for c in container_results})
        return [_plate(p) for p in plate_results], [_container(c) for c in container_results]

    def _worth_reading(self, camera: str, dets: Detections) -> np.ndarray:
        """Rows to keep: every read class, less the settled plate/number tracks whose crop is not better."""
        keep = np.isin(dets.class_id, list(READ_CLASSES))
        areas = _areas(dets.xyxy)
        for row in np.flatnonzero(keep & (dets.tracker_id >= 0)):
            memo = self._memos.get((camera, int(dets.tracker_id[row])))
            if (memo is not None and memo.count >= self.config.settled_reads
                    and areas[row] < self.config.better_area * memo.area):
                keep[row] = False
                self.counters["reads_skipped"] += 1
        self.counters["reads"] += int(np.isin(dets.class_id[keep], list(TEXT_CLASSES)).sum())
        return keep

    def _remember(self, camera: str, dets: Detections, texts: dict[tuple[float, ...], tuple[str, bool]]) -> None:
        """Count each tracked crop's consistent reads; a read the grammar validates (a known plate format, a
        check digit that holds) counts twice, since a misread seldom validates."""
        areas = _areas(dets.xyxy)
        for row in np.flatnonzero((dets.tracker_id >= 0) & np.isin(dets.class_id, list(TEXT_CLASSES))):
            text, valid = texts.get(tuple(rounded_box(dets.xyxy[row])), ("", False))
            if not text:
                continue
            key = (camera, int(dets.tracker_id[row]))
            weight = 2 if valid else 1
            memo = self._memos.get(key)
            if memo is None or memo.text != text:
                self._memos[key] = _Memo(text, weight, float(areas[row]))
            else:
                memo.count += weight
                memo.area = max(memo.area, float(areas[row]))

    # -- latency ---------------------------------------------------------------------------------------------------

    def _arrived(self, ts_utc: float, taken: float) -> None:
        """Remember when the frames of each capture time were taken in (the last camera's, if several)."""
        self._arrivals[ts_utc] = taken
        self._arrivals.move_to_end(ts_utc)
        while len(self._arrivals) > MAX_ARRIVALS:
            self._arrivals.popitem(last=False)

    def _emitted(self, passages: list[VehiclePassage]) -> list[VehiclePassage]:
        now = time.monotonic()
        for passage in passages:
            taken = self._arrivals.get(passage.last_seen_utc)
            if taken is not None and len(self.latencies_ms) < MAX_LATENCIES:
                self.latencies_ms.append(1e3 * (now - taken))
        self.counters["passages"] += len(passages)
        return passages

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_ms[name] += 1e3 * (time.perf_counter() - started)


def _areas(xyxy: np.ndarray) -> np.ndarray:
    return np.asarray((xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]), np.float64)


def _as_box(box: list[float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    return (x0, y0, x1, y1)


def _plate(result: PlateResult) -> PlateObservation:
    """The grammar's format says the role: a trailer format is the trailer's plate, any other known format the
    tractor's; an unknown format leaves the role to fusion (it votes for a known plate of the same text)."""
    family = result.format.split("_")[0]
    fmt = family if family in ("vn", "cn") else "unknown"
    role = "unknown" if fmt == "unknown" else "trailer" if result.format.endswith("_trailer") else "tractor"
    return PlateObservation(result.text, result.confidence, _as_box(result.box), format=fmt,  # type: ignore[arg-type]
                            role=role)  # type: ignore[arg-type]


def _container(result: ContainerResult) -> ContainerObservation:
    return ContainerObservation(result.number, result.confidence, _as_box(result.box), size_type=result.size_type,
                                check_digit_read=result.check_digit_ok)


def _seal(result: SealResult) -> SealObservation:
    state = result.state if result.state in ("present", "absent") else "unknown"
    return SealObservation(state, result.confidence, _as_box(result.box), number=result.number)  # type: ignore[arg-type]

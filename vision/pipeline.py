"""One lane's vision pipeline: frames of all its cameras in, `VehiclePassage`s out as trucks leave.

Per frame: detect → track (a `ByteTracker` per camera, updated on *every* frame, empty or corrupt ones too, so
tracks age and end on time) → read the crops of plates, container numbers, size types, door handles and seals,
batched per frame → fuse (`PassageFuser`).

Detect only what changed: a frame whose picture matches the last frame the detector saw on that camera
(`FrameGate`: an empty lane, a truck standing at the barrier) reuses that frame's detections. The tracker still
gets them (tracks age by time, a standing truck stays tracked) and nothing is read again (same pixels, same
reads). The detector is most of the cost per frame, and most frames of a gate camera are unchanged. While a
camera's picture keeps changing, the detector looks at it at most `max_detect_hz` times a second; the frames in
between are skipped whole (counted, not tracked, not fused). A front camera whose last look showed a plate with
reads not yet in agreement is not capped: the tractor's plate is in its view for a few frames only. A camera whose
last look left nothing to read (every truck in view tracked and read, no door) is looked at less often still
(`GateConfig.settled_detect_hz`, `vision.frame_gate`). A recording's frames come encoded (`Frame.encoded`) and
only the frames the detector looks at are decoded whole.

OCR only on new or better crops (`ReadMemory`): a plate or number is known by its place on its tracked truck, and
is not read again once it has read the same text a few times, unless its crop grew. Seals are classified on
every detected frame: the classifier is a small MLP, cheaper than the bookkeeping would be.

Counters: frames, detected, reused (an unchanged frame), skipped (over the detect rate cap), corrupt (the source
could not give the frame, or its bytes did not decode), rejected (the detector refused it), bad_time (a camera's
clock went back), reads made and skipped; per-stage milliseconds (detect, track, ocr, seals, fuse); and the latency
of each passage, wall-clock ms from the moment its vehicle's last frame was taken in to the moment the passage was
emitted (with `exit_grace_s` of media time between them, by design of the fuser).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bus.messages import VehiclePassage
from datasets.sources import Frame
from vision.detections import Detections, class_index, drop_inner
from vision.detector import ImageError
from vision.evidence import EvidenceStore
from vision.frame_gate import FrameGate, GateConfig, Pace
from vision.fusion import (
    CameraFrame,
    ContainerObservation,
    FusionConfig,
    PassageFuser,
    PlateObservation,
    SealObservation,
)
from vision.fusion.observations import Position
from vision.read_memory import TEXT_CLASSES, ReadMemory
from vision.reader import ContainerResult, ImageReader, PlateResult, SealResult, rounded_box
from vision.tracking import ByteTracker, EndedTrack, TrackerConfig

log = logging.getLogger(__name__)

STAGES = ("detect", "track", "ocr", "seals", "fuse")
READ_CLASSES = [class_index(name) for name in ("plate", "container_number", "size_type", "door_handle", "seal")]
DOOR_CLASSES = [class_index(name) for name in ("door_handle", "seal")]
PLATE = class_index("plate")
MAX_ARRIVALS = 10_000
MAX_LATENCIES = 100_000


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    settled_reads: int = 4
    """A plate or number with this many consistent reads is not read again (unless its crop is better); a read the
    grammar validates counts as two, so two validated reads of the same text settle it."""
    better_area: float = 1.2
    """A settled crop is read again when its area is at least this many times the largest one read."""
    gate: GateConfig = field(default_factory=GateConfig)
    """Which frames the detector looks at; an unchanged frame reuses the camera's last detections."""
    vehicle_inside_share: float = 0.8
    """A vehicle box lying at least this much inside a larger vehicle box is a fragment of that truck (its lower
    edge, its cab) and is dropped before tracking: tracked on its own it became a second passage of the truck."""
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)


class LanePipeline:
    """`process(frame) -> [VehiclePassage]`; `flush()` at the end of the stream. One instance per lane."""

    def __init__(self, lane_id: str, direction: str, reader: ImageReader, *, evidence_dir: str | Path | None = None,
                 config: PipelineConfig | None = None, views: Mapping[str, str] | None = None) -> None:
        self.config = config or PipelineConfig()
        self.views = dict(views or {})
        """Camera id → view (`front`, `rear`, `side_left`, ...): a rear camera's reads belong to the rear box."""
        self.reader = reader
        self.evidence = EvidenceStore(evidence_dir) if evidence_dir is not None else None
        self.fuser = PassageFuser(lane_id, direction, config=self.config.fusion, evidence=self.evidence)
        self.gate = FrameGate(self.config.gate)
        self._trackers: dict[str, ByteTracker] = {}
        self._last_detections: dict[str, Detections] = {}
        self._pace: dict[str, Pace] = {}
        """Each camera's pace for the gate, from its last look (`_paced`); not there: `steady`."""
        self.memory = ReadMemory(self.config.settled_reads, self.config.better_area)
        self._arrivals: OrderedDict[float, float] = OrderedDict()
        self.latencies_ms: list[float] = []
        self.stage_ms = dict.fromkeys(STAGES, 0.0)
        self.counters = {"frames": 0, "detected": 0, "reused": 0, "skipped": 0, "corrupt": 0, "rejected": 0,
                         "bad_time": 0, "reads": 0, "reads_skipped": 0, "passages": 0}

    @classmethod
    def load(cls, lane_id: str, direction: str, *, model: str | Path | None = None, threads: int | None = None,
             evidence_dir: str | Path | None = None, config: PipelineConfig | None = None,
             views: Mapping[str, str] | None = None) -> LanePipeline:
        """The pipeline with the shipped detector, OCR and seal models."""
        return cls(lane_id, direction, ImageReader.load(model, threads), evidence_dir=evidence_dir, config=config,
                   views=views)

    # -- per frame -------------------------------------------------------------------------------------------------

    def process(self, frame: Frame) -> list[VehiclePassage]:
        """Take one camera frame (a corrupt one too: it ages the tracks); return the passages now complete."""
        taken = time.monotonic()
        self.counters["frames"] += 1
        with self._stage("detect"):
            detections, fresh = self._detect(frame)
        if detections is None:
            return []
        with self._stage("track"):
            tracked = self._track(frame, detections)
        if tracked is None:
            return []
        tracked_dets, ended = tracked
        image = frame.image if fresh else None  # (a skipped or reused frame is never decoded)
        plates: list[PlateObservation] = []
        containers: list[ContainerObservation] = []
        seals: list[SealObservation] = []
        wanted = None
        if image is not None and fresh and len(tracked_dets):
            position = self._position_hint(frame.camera)
            with self._stage("ocr"):
                plates, containers, wanted = self._read_text(frame.camera, image, tracked_dets, position)
            with self._stage("seals"):
                seals = [_seal(s, position) for s in self.reader.read_seals(image, tracked_dets)]
        if fresh:
            self._pace[frame.camera] = self._paced(frame.camera, tracked_dets, wanted)
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
        self.memory.clear()
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

    def _detect(self, frame: Frame) -> tuple[Detections | None, bool]:
        """The frame's detections (None: the frame is skipped, not looked at), and whether they are new (False:
        reused from an unchanged frame, or none)."""
        if not frame.ok:
            return self._corrupt(frame), False
        last = self._last_detections.get(frame.camera)
        pace = self._pace.get(frame.camera, "steady")
        decision = "detect" if last is None else self.gate.decide(frame.camera, frame, frame.t, pace=pace)
        if decision == "skip":
            self.counters["skipped"] += 1
            return None, False
        if last is not None and decision == "reuse":
            self.counters["reused"] += 1
            return last, False
        image = frame.image  # decoded here, if it came encoded
        if image is None:
            return self._corrupt(frame), False
        try:
            detections, _ = self.reader.detector.detect_one(image)
        except ImageError as exc:
            self.counters["rejected"] += 1
            self.gate.forget(frame.camera)
            self._last_detections.pop(frame.camera, None)
            log.warning("camera %s frame %d rejected by the detector: %s", frame.camera, frame.index, exc)
            return Detections.empty(), False
        self.counters["detected"] += 1
        self.gate.detected(frame.camera, frame, frame.t)
        self._last_detections[frame.camera] = detections
        return detections, True

    def _corrupt(self, frame: Frame) -> Detections:
        """A frame with no picture (its source said why, or its bytes did not decode): counted, looked at anew."""
        self.counters["corrupt"] += 1
        self.gate.forget(frame.camera)
        if frame.encoded is not None:
            log.warning("camera %s frame %d: %s", frame.camera, frame.index, frame.error)
        return Detections.empty()

    def _track(self, frame: Frame, detections: Detections) -> tuple[Detections, list[EndedTrack]] | None:
        tracker = self._trackers.get(frame.camera)
        if tracker is None:
            tracker = self._trackers[frame.camera] = ByteTracker(self.config.tracker)
        detections = drop_inner(detections, self.config.fusion.vehicle_class, self.config.vehicle_inside_share)
        try:
            tracked = tracker.update(detections, frame.t)
        except ValueError as exc:  # a clock that went back or is not finite: the frame cannot be placed in time
            self.counters["bad_time"] += 1
            log.warning("camera %s frame %d skipped: %s", frame.camera, frame.index, exc)
            return None
        ended = tracker.pop_ended()
        for track in ended:
            self.memory.forget(frame.camera, track.track_id)
        return tracked, ended

    def _position_hint(self, camera: str) -> Position:
        """`rear` for a camera behind the truck: of two 20 ft boxes it sees only the rear one's doors and number (the
        front box's doors face the rear box). Fusion orders the boxes and links door reads by this hint; without it
        only the time each number was first seen orders them, and cameras do not see a truck at the same time."""
        return "rear" if self.views.get(camera) == "rear" else "unknown"

    def _read_text(self, camera: str, image: np.ndarray, dets: Detections, position: Position = "unknown"
                   ) -> tuple[list[PlateObservation], list[ContainerObservation], np.ndarray]:
        """Plates and container numbers of one frame, two batched OCR calls, skipping crops read enough; and which
        rows were worth reading."""
        keys = self.memory.keys(camera, dets)
        readable = np.isin(dets.class_id, READ_CLASSES)
        keep = readable & self.memory.wanted(keys, dets)
        self.counters["reads_skipped"] += int((readable & ~keep).sum())
        rows = np.flatnonzero(keep)
        subset = dets[keep]
        plate_results = self.reader.read_plates(image, subset)
        container_results, parts = self.reader.read_containers_and_parts(image, subset)
        self.counters["reads"] += int(np.isin(subset.class_id, TEXT_CLASSES).sum())
        row_of = {tuple(rounded_box(dets.xyxy[row])): int(row) for row in rows}
        texts = {row_of[key]: (p.text, p.format != "unknown") for p in plate_results if (key := tuple(p.box)) in row_of}
        texts |= {row_of[key]: (c.number, c.check_digit_ok) for c in container_results
                  if (key := tuple(c.box)) in row_of}
        self.memory.remember(keys, dets, texts)
        front = self.views.get(camera) == "front"
        containers = [_container(c, position) for c in container_results]
        containers += [ContainerObservation(p.text, p.confidence, _as_box(list(p.box)), position=position, partial=True)
                       for p in parts]
        return [_plate(p, front) for p in plate_results], containers, keep

    def _paced(self, camera: str, dets: Detections, wanted: np.ndarray | None) -> Pace:
        """The camera's pace after a look (`wanted`: the rows worth reading, None if it read nothing): `reading` for
        a front camera with a plate still to read; `searching` when a settled camera lost a truck (a missed
        detection after a long gap would end its track); `settled` when every truck it shows is tracked and has had
        its plates and numbers read (enough), and no door is in view; else `steady`."""
        classes = dets.class_id[wanted] if wanted is not None else np.zeros(0, np.int64)
        if self.views.get(camera) == "front" and (classes == PLATE).any():
            return "reading"
        if not self.config.gate.settled_detect_hz:
            return "steady"  # no slower pace: nothing more to work out per look
        if self._trackers[camera].searching and self._pace.get(camera) == "settled":
            return "searching"
        if wanted is None or np.isin(classes, TEXT_CLASSES).any() or np.isin(dets.class_id, DOOR_CLASSES).any():
            return "steady"  # no truck in view (the next one may be coming), something to read, or a door
        trucks = dets.tracker_id[dets.class_id == self.config.fusion.vehicle_class]
        if (trucks < 0).any():
            return "steady"  # a truck not tracked yet (just come into view): sparse looks would not confirm its track
        if not set(trucks.tolist()) <= self.memory.tracks_read(camera):
            return "steady"  # a truck it has read nothing of yet: its plate or number may be coming into view
        return "settled"

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


def _as_box(box: list[float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    return (x0, y0, x1, y1)


def _plate(result: PlateResult, front: bool = False) -> PlateObservation:
    """The role of a plate of a known format: on a front camera the tractor's (the only plate a truck shows its
    front camera, whatever its series: a misread or a rare tractor in series R must not become the trailer's);
    elsewhere the grammar's format says it (a trailer format is the trailer's plate, any other the tractor's). An
    unknown format leaves the role to fusion (it votes for a known plate of the same text)."""
    family = result.format.split("_")[0]
    fmt = family if family in ("vn", "cn") else "unknown"
    trailer = result.format.endswith("_trailer") and not front
    role = "unknown" if fmt == "unknown" else "trailer" if trailer else "tractor"
    return PlateObservation(result.text, result.confidence, _as_box(result.box), format=fmt,  # type: ignore[arg-type]
                            role=role)  # type: ignore[arg-type]


def _container(result: ContainerResult, position: Position = "unknown") -> ContainerObservation:
    return ContainerObservation(result.number, result.confidence, _as_box(result.box), size_type=result.size_type,
                                position=position, check_digit_read=result.check_digit_ok)


def _seal(result: SealResult, position: Position = "unknown") -> SealObservation:
    state = result.state if result.state in ("present", "absent") else "unknown"
    return SealObservation(state, result.confidence, _as_box(result.box), number=result.number,  # type: ignore[arg-type]
                           position=position)

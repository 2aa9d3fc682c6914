"""Yard cameras to a live occupancy map: detect, place on the ground, assign to slots and queues.

Each camera has a role by its view. A top camera (looking down) watches everything it covers: slots, stacks and
the queue lanes under it; seen from above, trucks queued nose to tail are still told apart. An oblique camera
watches only the queue lanes that no top camera covers, within `queue_range_m`: along a slanted view queued trucks
hide one another, so its counts are the weaker ones, and its view of the stacks is too slanted to tell one slot
from the next. Queue lengths are measured over the part of each lane some camera watches (`queue_lanes`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import shapely

from bus.journal import Journal
from calibration.files import CalibrationStore, CameraCalibration
from datasets.yard_synth.recording import YardRecording
from vision.yard_detector import YardDetector, YardDetectorError, YardDetectorSettings
from yard.camera_projection import SlotSnap, project_detections
from yard.coverage import ground_coverage, watched_lanes
from yard.ground_detections import GroundDetections
from yard.layout import YardLayout, load_layout
from yard.occupancy import SlotChange
from yard.occupancy_layout import rebuilt_tracker, tracker_for
from yard.occupancy_settings import OccupancySettings

log = logging.getLogger(__name__)

View = Literal["top", "oblique"]
STAGES = ("detect", "place", "track")


@dataclass(frozen=True)
class YardCamera:
    camera_id: str
    view: View
    calibration: CameraCalibration


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over steps: where a yard frame's time goes."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    steps: int = 0

    def per_step_ms(self) -> dict[str, float]:
        return {stage: round(1000.0 * s / max(self.steps, 1), 2) for stage, s in self.seconds.items()}


class YardPipeline:
    """`step(t_utc, {camera: image})` → slot changes; `tracker` holds the live state and the queue lengths."""

    def __init__(self, layout: YardLayout, cameras: Sequence[YardCamera], *, queue_range_m: float = 120.0,
                 edge_margin_m: float = 3.0,
                 settings: OccupancySettings | None = None, detector: YardDetector | None = None) -> None:
        if not cameras:
            raise ValueError("a yard pipeline needs at least one camera")
        self.cameras = tuple(cameras)
        self.detector = detector or YardDetector(YardDetectorSettings(learning_rate=0.0))
        lanes = {zone.id: zone.polygon for zone in layout.zones_of("truck_queue")}
        top = shapely.union_all([ground_coverage(c.calibration, margin_m=edge_margin_m)
                                 for c in self.cameras if c.view == "top"])
        oblique = shapely.union_all([ground_coverage(c.calibration, queue_range_m, edge_margin_m)
                                     for c in self.cameras if c.view == "oblique"])
        self.slot_coverage = top
        self._oblique_watch = shapely.intersection(
            shapely.difference(oblique, top), shapely.union_all(list(lanes.values())) if lanes else oblique)
        self.queue_lanes = watched_lanes(lanes, shapely.union(top, self._oblique_watch))
        self._lanes = shapely.MultiPolygon(list(lanes.values())) if lanes else None
        slots = layout.slots
        self.slot_polygons = [s.polygon for s in slots]
        self._snap = SlotSnap(np.array([s.centre for s in slots], dtype=np.float64).reshape(-1, 2))
        self._layout = layout
        self._settings = settings or OccupancySettings()
        self.tracker = tracker_for(layout, self._settings, self.queue_lanes)
        self.times = StageTimes()
        self.counters: Counter[str] = Counter()

    def restore(self, journal: Journal) -> None:
        """Take up the occupancy last journalled (after a restart), so that nothing already published flips."""
        self.tracker = rebuilt_tracker(self._layout, journal, self._settings, self.queue_lanes)

    def set_background(self, camera_id: str, image: np.ndarray) -> None:
        """The camera's view of the empty yard (a yard that is never empty cannot learn one from its frames)."""
        self.detector.set_background(camera_id, image)

    def step(self, t_utc: float, images: Mapping[str, np.ndarray | None]) -> list[SlotChange]:
        """One time step of every camera; a missing or unusable frame is counted and its camera skipped."""
        parts = [self._ground(camera, images.get(camera.camera_id)) for camera in self.cameras]
        started = time.perf_counter()
        changes = self.tracker.update(t_utc, GroundDetections.concat([p for p in parts if p is not None]))
        self.times.seconds["track"] += time.perf_counter() - started
        self.times.steps += 1
        return changes

    def _ground(self, camera: YardCamera, image: np.ndarray | None) -> GroundDetections | None:
        if image is None:
            self.counters["missing_frames"] += 1
            return None
        started = time.perf_counter()
        try:
            found = self.detector.detect(camera.camera_id, image)
        except YardDetectorError as exc:
            self.counters["bad_frames"] += 1
            log.warning("yard camera %s: frame refused: %s", camera.camera_id, exc)
            return None
        placed = time.perf_counter()
        self.times.seconds["detect"] += placed - started
        if not len(found):
            return None
        ground = project_detections(camera.calibration, camera.view, found.data["rect"], found.data["blob"],
                                    found.confidence, snap=self._snap, lanes=self._lanes)
        ground = ground[ground.finite_mask()]
        if camera.view == "oblique":
            ground = ground[shapely.contains_xy(self._oblique_watch, ground.xy_m[:, 0], ground.xy_m[:, 1])]
        kept = ground
        self.times.seconds["place"] += time.perf_counter() - placed
        self.counters["objects"] += len(kept)
        return kept


def recording_pipeline(recording: YardRecording, layout: YardLayout | None = None) -> YardPipeline:
    """The pipeline for a yard recording's cameras: their newest calibrations, their empty-yard backgrounds."""
    store = CalibrationStore(recording.calibration_root)
    cameras = [YardCamera(name, meta.view, store.latest(name)) for name, meta in recording.meta.cameras.items()]
    pipeline = YardPipeline(layout or load_layout(recording.layout_path), cameras)
    for camera in cameras:
        background = recording.background(camera.camera_id)
        if background is not None:
            pipeline.set_background(camera.camera_id, background)
    return pipeline

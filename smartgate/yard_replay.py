"""`smartgate replay` on a yard recording: the occupancy map scored against the recording's truth.

Slot-state accuracy compares every slot a top camera sees (empty, truck, container or IGV) with the truth at every
step. Hysteresis confirms a change only after it has lasted (`enter_s`, `exit_s`), so the map is meant to lag the
truth by about that much: the headline `slot_accuracy` leaves out a slot for `settle_s` after its true state
changed (and after the start, when the map is still unknown), and `slot_accuracy_raw` counts every step. Queue
lengths are compared over the watched part of each lane (`smartgate.yard_pipeline`): the truth counts the trucks
whose centre lies there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from datasets.yard_synth.recording import open_yard_recording
from datasets.yard_synth.truth import YardTruth
from smartgate.yard_pipeline import YardPipeline, recording_pipeline

STATES = ("empty", "truck", "container", "igv", "unknown")
_CODE = {name: code for code, name in enumerate(STATES)}


@dataclass(frozen=True)
class YardReplayReport:
    recording: str
    steps: int
    slots_in_view: int
    slot_accuracy: float
    slot_accuracy_raw: float
    occupied_recall: float
    queue_error: dict[str, float]
    queue_lanes: dict[str, float]
    fps: float
    wall_s: float
    stage_ms: dict[str, float]
    counters: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "yard", **{name: getattr(self, name) for name in self.__dataclass_fields__}}

    def summary(self) -> str:
        lanes = ", ".join(f"{lane} {metres:.0f} m" for lane, metres in self.queue_lanes.items()) or "none"
        q = self.queue_error
        return "\n".join([
            f"yard replay {self.recording}: {self.steps} steps in {self.wall_s:.1f} s, {self.fps:.2f} steps/s",
            f"slots in view: {self.slots_in_view}; slot-state accuracy {self.slot_accuracy:.2%} once settled "
            f"({self.slot_accuracy_raw:.2%} at every step); occupied slots found {self.occupied_recall:.2%}",
            f"queue length error (trucks): mean {q['mean']:.2f}, p95 {q['p95']:.1f}, max {q['max']:.0f} "
            f"over the watched lanes ({lanes})",
            "stage ms/step: " + ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items()),
        ])


def replay_yard(path: Path, *, max_steps: int | None = None, settle_s: float = 3.0,
                realtime: bool = False) -> YardReplayReport:
    """Run the yard pipeline over a recording at full speed (or paced to its clock) and score it."""
    recording = open_yard_recording(path)
    pipeline = recording_pipeline(recording)
    scorer = _Scorer(pipeline, settle_s)
    started = time.perf_counter()
    t0 = recording.meta.created_utc
    for t, images, truth in recording:
        if max_steps is not None and scorer.steps >= max_steps:
            break
        if realtime:
            time.sleep(max(0.0, t - (time.perf_counter() - started)))
        pipeline.step(t0 + t, images)
        scorer.add(t, truth)
    wall = time.perf_counter() - started
    counters = {**pipeline.counters, **pipeline.tracker.counters,
                "truth_lines_skipped": recording.errors.count, "frames_unreadable": recording.frame_errors.count}
    return scorer.report(str(path), wall, pipeline.times.per_step_ms(), counters)


class _Scorer:
    """Accumulates per-step agreement of the live map with the truth."""

    def __init__(self, pipeline: YardPipeline, settle_s: float) -> None:
        tracker = pipeline.tracker
        self.slot_ids = tracker.slot_ids
        xy = shapely.get_coordinates(shapely.centroid(np.asarray(pipeline.slot_polygons, dtype=object)))
        self.in_view = shapely.contains_xy(pipeline.slot_coverage, xy[:, 0], xy[:, 1])
        self.pipeline, self.settle_s = pipeline, settle_s
        self.last_truth = np.full(len(self.slot_ids), -1, np.int8)
        self.changed_at = np.full(len(self.slot_ids), -np.inf)
        self.steps = 0
        self.right = self.settled = self.right_raw = self.total_raw = 0
        self.occupied = self.occupied_found = 0
        self.queue_errors: list[int] = []

    def add(self, t: float, truth: YardTruth) -> None:
        self.steps += 1
        want = np.array([_CODE[truth.slots[s].kind] if s in truth.slots else _CODE["unknown"]
                         for s in self.slot_ids], np.int8)
        changed = want != self.last_truth
        self.changed_at[changed] = t  # the first step counts as a change: the map starts unknown
        self.last_truth = want
        got = np.array([_CODE[s.kind] for s in self.pipeline.tracker.slot_states()], np.int8)
        scored = self.in_view & (want != _CODE["unknown"])
        settled = scored & (t - self.changed_at >= self.settle_s)
        self.right_raw += int(np.count_nonzero((got == want) & scored))
        self.total_raw += int(np.count_nonzero(scored))
        self.right += int(np.count_nonzero((got == want) & settled))
        self.settled += int(np.count_nonzero(settled))
        occupied = settled & (want != _CODE["empty"])
        self.occupied += int(np.count_nonzero(occupied))
        self.occupied_found += int(np.count_nonzero(occupied & (got != _CODE["empty"])))
        self._queues(truth)

    def _queues(self, truth: YardTruth) -> None:
        trucks = np.array([o.xy for o in truth.objects if o.kind == "truck"], np.float64).reshape(-1, 2)
        measured = self.pipeline.tracker.queue_lengths()
        for lane, polygon in self.pipeline.queue_lanes.items():
            true = int(np.count_nonzero(shapely.contains_xy(polygon, trucks[:, 0], trucks[:, 1])))
            self.queue_errors.append(abs(measured.get(lane, 0) - true))

    def report(self, name: str, wall: float, stage_ms: dict[str, float], counters: dict[str, int]
               ) -> YardReplayReport:
        errors = np.array(self.queue_errors or [0], np.float64)
        lanes = {lane: round(float(_length(p)), 1) for lane, p in self.pipeline.queue_lanes.items()}
        return YardReplayReport(
            recording=name, steps=self.steps, slots_in_view=int(np.count_nonzero(self.in_view)),
            slot_accuracy=_share(self.right, self.settled), slot_accuracy_raw=_share(self.right_raw, self.total_raw),
            occupied_recall=_share(self.occupied_found, self.occupied),
            queue_error={"mean": round(float(errors.mean()), 3), "p95": float(np.percentile(errors, 95)),
                         "max": float(errors.max())},
            queue_lanes=lanes, fps=round(self.steps / wall, 2) if wall > 0 else 0.0, wall_s=round(wall, 2),
            stage_ms=stage_ms, counters={k: int(v) for k, v in counters.items()})


def _length(polygon: shapely.Polygon) -> float:
    rectangle = shapely.minimum_rotated_rectangle(polygon)
    coords = np.asarray(rectangle.exterior.coords)
    sides = np.linalg.norm(np.diff(coords[:3], axis=0), axis=1)
    return float(sides.max())


def _share(right: int, total: int) -> float:
    return round(right / total, 4) if total else 0.0

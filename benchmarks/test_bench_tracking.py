"""Tracker update with 50 detections per frame, and fusion per frame (one truck, a few reads)."""

from __future__ import annotations

import numpy as np
import pytest

from vision.detections import Detections, class_index
from vision.fusion import CameraFrame, ContainerObservation, PassageFuser, PlateObservation, SealObservation
from vision.tracking import ByteTracker

VEHICLE = class_index("vehicle")
GRID = np.array([[x * 120, y * 100, x * 120 + 80, y * 100 + 60] for x in range(10) for y in range(5)], np.float32)


@pytest.mark.benchmark(group="tracking")
def test_tracker_update_50_detections(benchmark) -> None:
    tracker = ByteTracker()
    rng = np.random.default_rng(0)
    frames = [Detections.from_arrays(GRID + k * 2 + rng.normal(0, 1, GRID.shape).astype(np.float32),
                                     rng.uniform(0.3, 0.95, len(GRID)), VEHICLE) for k in range(200)]
    state = {"k": 0}

    def step() -> Detections:
        k = state["k"] = state["k"] + 1
        return tracker.update(frames[k % 200], k * 0.04)  # 25 fps clock; boxes wrap every 200 frames

    out = benchmark(step)
    assert len(out) == 50
    benchmark.extra_info["detections"] = 50


@pytest.mark.benchmark(group="tracking")
def test_fusion_per_frame(benchmark) -> None:
    fuser = PassageFuser("in-1", "in")
    vehicles = Detections.from_arrays([[100, 50, 600, 350]], [0.9], VEHICLE, tracker_id=[1])
    plates = [PlateObservation("12C-123.45", 0.8, (300, 300, 360, 330), "vn", "tractor")]
    containers = [ContainerObservation("MSCU1234565", 0.9, (150, 60, 300, 100), "22G1")]
    seals = [SealObservation("present", 0.8, (500, 150, 520, 170), number="TG3457")]
    state = {"k": 0}

    def step() -> int:
        k = state["k"] = state["k"] + 1
        frame = CameraFrame(camera="front", frame=k, t_s=k * 0.04, ts_utc=1.7e9 + k * 0.04, vehicles=vehicles,
                            plates=plates, containers=containers, seals=seals)
        return len(fuser.update(frame))

    benchmark(step)
    assert fuser.counters["reads"] > 0

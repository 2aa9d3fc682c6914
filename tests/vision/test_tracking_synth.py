"""Tracker and fuser on a real synthetic recording, fed the truth vehicle boxes with jitter and random drops."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from datasets.recording import Recording
from datasets.synth import generate
from vision.detections import Detections, class_index
from vision.fusion import CameraFrame, PassageFuser
from vision.tracking import ByteTracker

VEHICLE = class_index("vehicle")
CAMERAS = ("front", "side_left")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    root = tmp_path_factory.mktemp("synth") / "lane"
    generate(root, duration_s=60.0, size=(640, 360), cameras=CAMERAS, seed=11, trucks_per_hour=300, workers=2)
    return Recording.open(root)


def noisy_vehicles(objects, rng: np.random.Generator) -> tuple[Detections, list[str]]:
    boxes, owners = [], []
    for obj in objects:
        if obj.cls != "vehicle" or rng.random() < 0.1:  # 10 % of boxes are missed by the "detector"
            continue
        x0, y0, x1, y1 = obj.box
        jitter = rng.normal(0.0, 3.0, 4)
        boxes.append([x0 + jitter[0], y0 + jitter[1], max(x0 + jitter[0] + 1, x1 + jitter[2]),
                      max(y0 + jitter[1] + 1, y1 + jitter[3])])
        owners.append(obj.passage_id or "")
    scores = rng.uniform(0.55, 0.95, len(boxes))
    return Detections.from_arrays(np.array(boxes, np.float32).reshape(-1, 4), scores, VEHICLE), owners


def test_one_track_per_truth_passage_per_camera_and_one_fused_passage_each(recording: Recording) -> None:
    rng = np.random.default_rng(5)
    trackers = {camera: ByteTracker() for camera in CAMERAS}
    fuser = PassageFuser(recording.meta.lane_id, recording.meta.direction)
    votes: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    published = []
    for truth in recording.frames():
        dets, owners = noisy_vehicles(truth.objects, rng)
        tracked = trackers[truth.camera].update(dets, truth.t)
        for track_id, owner in zip(tracked.tracker_id, owners, strict=True):
            if track_id >= 0:
                votes[(truth.camera, int(track_id))][owner] += 1
        frame = CameraFrame(camera=truth.camera, frame=truth.frame, t_s=truth.t, ts_utc=1.7e9 + truth.t,
                            vehicles=tracked, ended=trackers[truth.camera].pop_ended())
        published.extend(fuser.update(frame))
    published.extend(fuser.flush())

    truth_ids = {p.passage_id for p in recording.passages()}
    assert len(truth_ids) >= 3
    for camera in CAMERAS:
        tracks = {key: counter for key, counter in votes.items() if key[0] == camera}
        owners = [counter.most_common(1)[0][0] for counter in tracks.values()]
        seen = {obj.passage_id or "" for t in recording.frames(camera) for obj in t.objects if obj.cls == "vehicle"}
        assert sorted(owners) == sorted(seen), f"{camera}: tracks {tracks}"  # one track per passage, no splits
        for counter in tracks.values():  # and no track mixes two trucks
            assert counter.most_common(1)[0][1] >= 0.95 * sum(counter.values())
    assert len(published) == len(truth_ids)  # passages_found == passages_truth

"""The lane reader's parts: cameras played into the newest-frame mailbox, and passages published as read."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bus.messages import PlateRead, VehiclePassage
from datasets.sources import Frame, SourceError
from smartgate.services.lane_reader import LOOP_GAP_S, CameraCounts, CameraPlayer
from smartgate.services.lane_vision import Arrival, LaneVision, LatestFrames, evidence_dir, inference_threads
from smartgate.site import Site, bundled_site_path, load_site
from tests.mjpeg_camera import MjpegCamera
from tests.smartgate.test_site import one_lane_site

IMAGE = np.zeros((4, 4, 3), np.uint8)


def _frame(camera: str, t: float, *, ts_utc: float | None = None) -> Frame:
    return Frame(camera, round(t * 4), t, 1.7e9 + t if ts_utc is None else ts_utc, IMAGE)


@pytest.mark.parametrize(("puts", "taken", "dropped"), [
    ([("a", 0.0)], [("a", 0.0)], {"a": 0, "b": 0}),
    ([("a", 0.0), ("b", 0.0), ("a", 0.25)], [("b", 0.0), ("a", 0.25)], {"a": 1, "b": 0}),
    ([("a", 0.0), ("a", 0.25), ("a", 0.5), ("b", 0.5)], [("a", 0.5), ("b", 0.5)], {"a": 2, "b": 0}),
    ([("b", 1.0), ("a", 1.25), ("b", 1.5)], [("a", 1.25), ("b", 1.5)], {"a": 0, "b": 1}),
], ids=["one", "stale-a-dropped", "only-newest-kept", "oldest-first"])
def test_the_newest_frame_of_each_camera_is_kept_and_taken_oldest_first(
        puts: list[tuple[str, float]], taken: list[tuple[str, float]], dropped: dict[str, int]) -> None:
    mailbox = LatestFrames(["a", "b"])
    for camera, t in puts:
        mailbox.put(_frame(camera, t))
    mailbox.finish()
    got = []
    while (arrival := mailbox.take(0.0)) is not None:
        got.append((arrival.frame.camera, arrival.frame.t))
    assert got == taken
    assert dict(mailbox.dropped) == dropped
    assert mailbox.exhausted
    for camera in ("a", "b"):
        counts = mailbox.counts(camera)
        assert counts["processed"] + counts["dropped"] == sum(1 for c, _ in puts if c == camera)


def test_take_waits_for_a_frame_and_returns_at_once_when_finished() -> None:
    mailbox = LatestFrames(["a"])
    started = time.monotonic()
    assert mailbox.take(0.2) is None
    assert time.monotonic() - started >= 0.15
    assert not mailbox.exhausted
    threading.Timer(0.05, mailbox.put, args=(_frame("a", 0.0),)).start()
    arrival = mailbox.take(5.0)
    assert arrival is not None
    assert arrival.frame.t == 0.0
    mailbox.finish()
    started = time.monotonic()
    assert mailbox.take(5.0) is None
    assert time.monotonic() - started < 1.0
    assert mailbox.exhausted


def test_a_slow_reader_behind_fast_cameras_sees_time_in_order_and_loses_no_count() -> None:
    cameras = ["front", "rear", "side"]
    mailbox = LatestFrames(cameras)
    frames = 600

    def play() -> None:
        for i in range(frames):
            mailbox.put(_frame(cameras[i % 3], i / 12))
        mailbox.finish()

    player = threading.Thread(target=play)
    player.start()
    taken: list[Frame] = []
    while not mailbox.exhausted:
        arrival = mailbox.take(0.1)
        if arrival is not None:
            taken.append(arrival.frame)
            time.sleep(0.001)  # the slow pipeline
    player.join()
    times = [f.t for f in taken]
    assert times == sorted(times)
    for camera in cameras:
        counts = mailbox.counts(camera)
        assert counts["processed"] + counts["dropped"] == frames // 3
        assert counts["processed"] == sum(1 for f in taken if f.camera == camera)
    assert mailbox.total_dropped() > 0
    assert taken[-1].t == (frames - 1) / 12  # the last frame is never dropped


def _passage(lane_id: str, last_seen_utc: float) -> VehiclePassage:
    return VehiclePassage(passage_id=f"{lane_id}-1", lane_id=lane_id, direction="in", first_seen_utc=last_seen_utc - 5,
                          last_seen_utc=last_seen_utc, plates=(PlateRead(text="29C-123.45", confidence=0.9),))


class ScriptedPipeline:
    """Stands in for the lane pipeline where the real one cannot be made to fail on demand."""

    def __init__(self, script: list[list[VehiclePassage] | Exception]) -> None:
        self.script = script
        self.counters = {"frames": 0, "passages": 0}

    def process(self, frame: Frame) -> list[VehiclePassage]:
        self.counters["frames"] += 1
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def flush(self) -> list[VehiclePassage]:
        return [_passage("in-9", 1.6e9)]  # seen before any frame given: no latency to measure

    def stage_means_ms(self) -> dict[str, float]:
        return {"detect": 12.5}


def test_passages_are_published_as_produced_and_bad_ones_counted_not_sent() -> None:
    valid, invalid = _passage("in-1", 1.7e9 + 1.0), _passage("bad lane!", 1.7e9 + 2.0)
    published: list[VehiclePassage] = []
    vision = LaneVision(ScriptedPipeline([[], RuntimeError("broken frame"), [valid, invalid]]), published.append)
    assert vision.read(Arrival(_frame("a", 0.0), time.monotonic())) == 0
    assert vision.read(Arrival(_frame("a", 0.25), time.monotonic())) == 0
    assert vision.read(Arrival(_frame("a", 0.5, ts_utc=1.7e9 + 1.0), time.monotonic() - 0.5)) == 1
    assert published == [valid]
    assert vision.finish() == 1
    assert [p.lane_id for p in published] == ["in-1", "in-9"]
    metrics = vision.metrics()
    assert metrics["vision.failed"] == 1
    assert metrics["vision.invalid_passages"] == 1
    assert metrics["vision.frames"] == 3
    assert metrics["vision.ms.detect"] == 12.5
    assert 500 <= metrics["vision.latency_ms"] < 5000


def test_evidence_goes_under_the_runtime_folder_per_site_and_lane(tmp_path: Path) -> None:
    site = load_site(bundled_site_path(), data_dir=tmp_path / "var")
    lane = site.lane("out-1")
    assert evidence_dir(site, lane) == tmp_path / "var" / "evidence" / "huu-nghi-1119" / "out-1"
    assert inference_threads(site) == max(1, (os.cpu_count() or 1) // 2)


def _image_site(tmp_path: Path, frames: int) -> Site:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(frames):
        cv2.imwrite(str(folder / f"{i:03d}.jpg"), np.full((48, 64, 3), 40 * i % 256, np.uint8))
    cameras = [{"id": f"in-1-{name}", "view": view, "fps": 20, "source": {"kind": "images", "path": "frames"}}
               for name, view in (("a", "front"), ("b", "rear"))]
    return one_lane_site(tmp_path, cameras)


def _drain(mailbox: LatestFrames) -> list[Frame]:
    taken: list[Frame] = []
    while not mailbox.exhausted:
        arrival = mailbox.take(0.1)
        if arrival is not None:
            taken.append(arrival.frame)
    return taken


def test_a_looped_recording_keeps_its_media_clock_going_and_frames_are_stamped_when_played(tmp_path: Path) -> None:
    lane = _image_site(tmp_path, frames=5).lane("in-1")
    mailbox = LatestFrames([camera.id for camera in lane.cameras])
    player = CameraPlayer(lane, mailbox, {camera.id: CameraCounts() for camera in lane.cameras}, speed=4.0,
                          loop=True)
    started = time.time()
    thread = threading.Thread(target=player.run)
    thread.start()
    taken: list[Frame] = []
    while player.passes < 3 and thread.is_alive():
        arrival = mailbox.take(0.1)
        if arrival is not None:
            taken.append(arrival.frame)
    player.halt.set()
    taken += _drain(mailbox)
    thread.join(5)
    assert player.error is None
    for camera in ("in-1-a", "in-1-b"):
        times = [f.t for f in taken if f.camera == camera]
        assert times == sorted(set(times))  # never back in time, pass after pass
        assert times[-1] >= 2 * (4 / 20 + LOOP_GAP_S)
        assert mailbox.counts(camera)["processed"] == len(times)
        assert player.counts[camera].frames == mailbox.counts(camera)["processed"] + mailbox.counts(camera)["dropped"]
    assert all(started <= f.ts_utc <= time.time() for f in taken)


def test_a_camera_that_cannot_be_opened_stops_the_player_with_its_error(tmp_path: Path) -> None:
    site = _image_site(tmp_path, frames=1)
    (tmp_path / "frames" / "000.jpg").unlink()
    (tmp_path / "frames").rmdir()
    lane = site.lane("in-1")
    mailbox = LatestFrames([camera.id for camera in lane.cameras])
    player = CameraPlayer(lane, mailbox, {camera.id: CameraCounts() for camera in lane.cameras})
    player.run()
    assert isinstance(player.error, SourceError)
    assert mailbox.exhausted


def test_a_live_mjpeg_camera_plays_into_the_mailbox_its_frames_still_encoded(tmp_path: Path) -> None:
    """A site camera of kind `mjpeg` (an IP camera's HTTP stream, here a real one on loopback): its frames reach the
    pipeline's mailbox as JPEG bytes, so the frames the pipeline skips are never decoded."""
    camera = MjpegCamera(fps=40)
    camera.start()
    try:
        lane = one_lane_site(tmp_path, [{"id": "in-1-a", "view": "front",
                                          "source": {"kind": "mjpeg", "url": camera.url}}]).lane("in-1")
        mailbox = LatestFrames(["in-1-a"])
        player = CameraPlayer(lane, mailbox, {"in-1-a": CameraCounts()})
        thread = threading.Thread(target=player.run)
        thread.start()
        taken: list[Frame] = []
        deadline = time.monotonic() + 20
        while len(taken) < 8 and time.monotonic() < deadline:
            arrival = mailbox.take(0.1)
            if arrival is not None:
                taken.append(arrival.frame)
        player.halt.set()
        thread.join(10)
    finally:
        camera.stop()
    assert player.error is None
    assert len(taken) == 8
    assert all(f.camera == "in-1-a" and f.ok and f.encoded is not None for f in taken)
    shades = [int(f.image.mean()) for f in taken if f.image is not None]
    assert len(shades) == 8
    assert shades == sorted(set(shades))  # fresh frames in order, decoded only now
    assert player.counts["in-1-a"].frames >= 8

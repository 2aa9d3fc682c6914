"""A lane's camera reader: plays each camera of the lane at its recorded pace and reports their health.

This is where the vision pipeline (issue 3) plugs in: today each frame is read, decoded and counted; frames that
are missing or corrupt are counted per camera and reported as telemetry, and the lane keeps going.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bus.messages import Telemetry
from bus.pubsub import Publisher
from datasets.sources import Frame, FrameSource, SourceSpec, open_source
from smartgate.services.runtime import Pulse
from smartgate.site import Camera, Lane, Site

log = logging.getLogger(__name__)
REPORT_S = 1.0


@dataclass
class CameraCounts:
    frames: int = 0
    corrupt: int = 0
    started: float = field(default_factory=time.monotonic)
    last_error: str = ""

    def metrics(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return {"frames": float(self.frames), "corrupt": float(self.corrupt), "fps": self.frames / elapsed}


def spec_for(camera: Camera) -> SourceSpec:
    """The frame source a site camera names."""
    source = camera.source
    if source.kind == "rtsp":
        return SourceSpec(kind="rtsp", camera=camera.id, url=source.url)
    path = str(source.path)
    if source.kind == "recording":
        return SourceSpec(kind="recording", camera=camera.recording_camera, path=path)
    return SourceSpec(kind=source.kind, camera=camera.id, path=path, fps=camera.fps)


def run(site: Site, stop: threading.Event, lane_id: str, *, speed: float = 1.0, loop: bool = False) -> int:
    lane = site.lane(lane_id)
    name = f"lane-{lane.id}"
    counts = {camera.id: CameraCounts() for camera in lane.cameras}
    pulse = Pulse(site, name, "lane-reader", lambda: _totals(counts))
    try:
        passes = 0
        while not stop.is_set():
            _play_once(lane, counts, pulse, stop, speed)
            passes += 1
            if not loop:
                break
        _report(lane, counts, pulse.publisher, state="ended")
        pulse.tick(state="ended", force=True)
    finally:
        pulse.close()
    log.info("lane %s: %d pass(es), %s", lane.id, passes, _totals(counts))
    return 0


def _play_once(lane: Lane, counts: dict[str, CameraCounts], pulse: Pulse, stop: threading.Event,
               speed: float) -> None:
    sources = [open_source(spec_for(camera)) for camera in lane.cameras]
    try:
        start = time.monotonic()
        next_report = start
        for camera, frame in _merged(lane, sources):
            _wait_until(start + frame.t / speed, stop)
            if stop.is_set():
                return
            _count(counts[camera.id], frame)
            pulse.tick()
            if time.monotonic() >= next_report:
                _report(lane, counts, pulse.publisher, state="streaming")
                next_report = time.monotonic() + REPORT_S
    finally:
        for source in sources:
            source.close()


def _merged(lane: Lane, sources: list[FrameSource]) -> Iterator[tuple[Camera, Frame]]:
    """All cameras' frames in time order, as a lane sees them."""
    streams = [_labelled(camera, source) for camera, source in zip(lane.cameras, sources, strict=True)]
    return heapq.merge(*streams, key=lambda pair: pair[1].t)


def _labelled(camera: Camera, source: FrameSource) -> Iterator[tuple[Camera, Frame]]:
    for frame in source:
        yield camera, frame


def _wait_until(deadline: float, stop: threading.Event) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        stop.wait(delay)


def _count(counts: CameraCounts, frame: Frame) -> None:
    if frame.ok:
        counts.frames += 1
    else:
        counts.corrupt += 1
        counts.last_error = frame.error or "unknown error"


def _report(lane: Lane, counts: dict[str, CameraCounts], publisher: Publisher, *, state: str) -> None:
    for camera in lane.cameras:
        camera_counts = counts[camera.id]
        errors = (camera_counts.last_error[:256],) if camera_counts.last_error else ()
        publisher.publish(Telemetry(device_id=camera.id, kind="camera", state=state, lane_id=lane.id,
                                    metrics=camera_counts.metrics(), errors=errors))


def _totals(counts: dict[str, CameraCounts]) -> dict[str, float]:
    return {"frames": float(sum(c.frames for c in counts.values())),
            "corrupt": float(sum(c.corrupt for c in counts.values()))}

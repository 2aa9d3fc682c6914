"""A lane's reader: plays each camera of the lane at its recorded pace and reads the trucks they see.

Two threads share the work. The camera thread plays the lane's cameras in media-time order, paced to `speed` ×
real time, counts missing and corrupt frames per camera, and offers each frame to a `LatestFrames` mailbox. The
main thread takes frames from it through the lane's vision pipeline and publishes every `VehiclePassage` as soon
as it is complete; when the pipeline is slower than the cameras, stale frames are dropped and counted (see
`lane_vision`). Camera telemetry (frames played, corrupt, processed, dropped) and the lane's own telemetry
(pipeline counters, stage milliseconds) go out once a second.

A replayed recording is a live feed for the rest of the system: its frames are stamped with the UTC time they are
played (so a passage's times say when the truck was seen, and its latency can be read off the message), and with
``loop`` each pass continues the media clock of the last one (trackers need time that never goes back).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bus.messages import Telemetry, now_utc
from bus.pubsub import Publisher
from datasets.sources import Frame, FrameSource, SourceSpec, open_source
from smartgate.services.lane_vision import LaneVision, LatestFrames, load_pipeline
from smartgate.services.runtime import Pulse
from smartgate.site import Camera, Lane, MjpegSource, RtspSource, Site

log = logging.getLogger(__name__)
REPORT_S = 1.0
TAKE_TIMEOUT_S = 0.1
LOOP_GAP_S = 2.0
"""Media seconds between the end of one pass of a looped recording and the start of the next."""
JOIN_S = 5.0


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
    if isinstance(source, RtspSource | MjpegSource):
        return SourceSpec(kind=source.kind, camera=camera.id, url=source.url)
    path = str(source.path)
    if source.kind == "recording":
        return SourceSpec(kind="recording", camera=camera.recording_camera, path=path)
    return SourceSpec(kind=source.kind, camera=camera.id, path=path, fps=camera.fps)


def run(site: Site, stop: threading.Event, lane_id: str, *, speed: float = 1.0, loop: bool = False) -> int:
    lane = site.lane(lane_id)
    counts = {camera.id: CameraCounts() for camera in lane.cameras}
    mailbox = LatestFrames(list(counts))
    loading = time.monotonic()
    pipeline = load_pipeline(site, lane)  # before the cameras start, so that no frame is lost to loading
    log.info("lane %s: vision pipeline loaded in %.1f s", lane.id, time.monotonic() - loading)
    pulse = Pulse(site, f"lane-{lane.id}", "lane-reader", lambda: _status(counts, mailbox, vision))
    vision = LaneVision(pipeline, pulse.publisher.publish)
    player = CameraPlayer(lane, mailbox, counts, speed=speed, loop=loop)
    thread = threading.Thread(target=player.run, name=f"lane-{lane.id}-cameras", daemon=True)
    try:
        thread.start()
        _read_frames(lane, mailbox, vision, counts, pulse, stop)
        vision.finish()
        if player.error is not None:
            raise player.error
        _report(lane, counts, mailbox, pulse.publisher, state="ended")
        pulse.tick(state="ended", force=True)
    finally:
        player.halt.set()
        thread.join(JOIN_S)
        pulse.close()
    log.info("lane %s: %d pass(es), %s", lane.id, player.passes, _status(counts, mailbox, vision))
    return 0


def _read_frames(lane: Lane, mailbox: LatestFrames, vision: LaneVision, counts: dict[str, CameraCounts],
                 pulse: Pulse, stop: threading.Event) -> None:
    """Read frames until the cameras end and every offered frame is taken, or until asked to stop."""
    next_report = time.monotonic()
    while not stop.is_set() and not mailbox.exhausted:
        arrival = mailbox.take(TAKE_TIMEOUT_S)
        if arrival is not None:
            vision.read(arrival)
        pulse.tick()
        if time.monotonic() >= next_report:
            _report(lane, counts, mailbox, pulse.publisher, state="streaming")
            next_report = time.monotonic() + REPORT_S


@dataclass
class CameraPlayer:
    """Plays a lane's cameras into the mailbox (its own thread); `error` keeps what stopped it, if anything."""

    lane: Lane
    mailbox: LatestFrames
    counts: dict[str, CameraCounts]
    speed: float = 1.0
    loop: bool = False
    halt: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None
    passes: int = 0
    """Passes played to the end."""

    def run(self) -> None:
        start, offset = time.monotonic(), 0.0
        try:
            while not self.halt.is_set():
                last_t = self._play_once(start, offset)
                if last_t is None:
                    break
                self.passes += 1
                if not self.loop:
                    break
                offset = last_t + LOOP_GAP_S
        except Exception as exc:  # handed to the main thread, which fails the service with it
            self.error = exc
        finally:
            self.mailbox.finish()

    def _play_once(self, start: float, offset: float) -> float | None:
        """One pass over the recordings; the last media time played, None if none was (or halted)."""
        sources = [open_source(spec_for(camera)) for camera in self.lane.cameras]
        last_t: float | None = None
        try:
            for camera, frame in _merged(self.lane, sources):
                t = offset + frame.t
                _wait_until(start + t / self.speed, self.halt)
                if self.halt.is_set():
                    return None
                _count(self.counts[camera.id], frame)
                self.mailbox.put(frame.moved(camera=camera.id, t=t, ts_utc=now_utc()))
                last_t = t
        finally:
            for source in sources:
                source.close()
        return last_t


def _merged(lane: Lane, sources: list[FrameSource]) -> Iterator[tuple[Camera, Frame]]:
    """All cameras' frames in time order, as a lane sees them."""
    streams = [_labelled(camera, source) for camera, source in zip(lane.cameras, sources, strict=True)]
    return heapq.merge(*streams, key=lambda pair: pair[1].t)


def _labelled(camera: Camera, source: FrameSource) -> Iterator[tuple[Camera, Frame]]:
    for frame in source:
        yield camera, frame


def _wait_until(deadline: float, halt: threading.Event) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        halt.wait(delay)


def _count(counts: CameraCounts, frame: Frame) -> None:
    if frame.ok:
        counts.frames += 1
    else:
        counts.corrupt += 1
        counts.last_error = frame.error or "unknown error"


def _report(lane: Lane, counts: dict[str, CameraCounts], mailbox: LatestFrames, publisher: Publisher, *,
            state: str) -> None:
    for camera in lane.cameras:
        camera_counts = counts[camera.id]
        errors = (camera_counts.last_error[:256],) if camera_counts.last_error else ()
        metrics = {**camera_counts.metrics(), **mailbox.counts(camera.id)}
        publisher.publish(Telemetry(device_id=camera.id, kind="camera", state=state, lane_id=lane.id,
                                    metrics=metrics, errors=errors))


def _status(counts: dict[str, CameraCounts], mailbox: LatestFrames, vision: LaneVision) -> dict[str, float]:
    """The lane's own telemetry: frames played and lost, frames read and dropped, and the pipeline's counters."""
    return {"frames": float(sum(c.frames for c in counts.values())),
            "corrupt": float(sum(c.corrupt for c in counts.values())),
            "vision.dropped": float(mailbox.total_dropped()), **vision.metrics()}

"""A lane's vision stage inside its reader process: the lane pipeline fed with the newest frame of each camera.

Cameras play at their own pace, the pipeline reads at its own (a few frames a second on a small CPU). Between
them sits `LatestFrames`, one slot per camera: a frame that is still waiting when its camera's next frame comes is
stale and is dropped (counted per camera), so memory stays bounded and the reads stay near real time. The oldest
waiting frame is taken first, which keeps the pipeline's input in media-time order across cameras. Dropped frames
never reach the trackers: tracks age by the media time of the next frame that is read, so a drop ends no track.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bus.codec import MessageError, decode_as, encode
from bus.messages import VehiclePassage
from datasets.sources import Frame
from smartgate.site import Lane, Site
from vision.pipeline import LanePipeline

log = logging.getLogger(__name__)
MAX_ARRIVALS = 4096
FULL_TRACEBACKS = 3
Publish = Callable[[VehiclePassage], None]


@dataclass(frozen=True)
class Arrival:
    """A frame and the monotonic time it came from its camera."""

    frame: Frame
    arrived: float


class LatestFrames:
    """Thread-safe mailbox holding each camera's newest unread frame; older unread frames are dropped."""

    def __init__(self, cameras: list[str]) -> None:
        self._slots: dict[str, Arrival] = {}
        self._ready = threading.Condition()
        self._finished = False
        self.dropped: Counter[str] = Counter(dict.fromkeys(cameras, 0))
        self.taken: Counter[str] = Counter(dict.fromkeys(cameras, 0))

    def put(self, frame: Frame) -> None:
        """Offer a camera's frame; the one it replaces, if still unread, counts as dropped."""
        with self._ready:
            if frame.camera in self._slots:
                self.dropped[frame.camera] += 1
            self._slots[frame.camera] = Arrival(frame, time.monotonic())
            self._ready.notify()

    def take(self, timeout_s: float) -> Arrival | None:
        """The oldest waiting frame (media time), or None after `timeout_s` or once finished and empty."""
        with self._ready:
            if not self._slots and not self._finished:
                self._ready.wait(timeout_s)
            if not self._slots:
                return None
            camera = min(self._slots, key=lambda name: self._slots[name].frame.t)
            self.taken[camera] += 1
            return self._slots.pop(camera)

    def finish(self) -> None:
        """No more frames will come (the cameras ended or were stopped)."""
        with self._ready:
            self._finished = True
            self._ready.notify_all()

    @property
    def exhausted(self) -> bool:
        """Finished and every frame taken."""
        with self._ready:
            return self._finished and not self._slots

    def counts(self, camera: str) -> dict[str, float]:
        """One camera's frames taken for reading and dropped as stale."""
        with self._ready:
            return {"processed": float(self.taken[camera]), "dropped": float(self.dropped[camera])}

    def total_dropped(self) -> int:
        with self._ready:
            return sum(self.dropped.values())


def evidence_dir(site: Site, lane: Lane) -> Path:
    """Where a lane's evidence crops go: under the site's runtime folder, per site and lane."""
    return site.data_dir / "evidence" / site.site.id / lane.id


def inference_threads(site: Site) -> int:
    """ONNX Runtime threads per lane: the cores shared among the site's lanes, each lane being its own process."""
    return max(1, (os.cpu_count() or 1) // max(1, len(site.lanes)))


def load_pipeline(site: Site, lane: Lane) -> LanePipeline:
    return LanePipeline.load(lane.id, lane.direction, threads=inference_threads(site),
                             evidence_dir=evidence_dir(site, lane), views={cam.id: cam.view for cam in lane.cameras})


class Pipeline(Protocol):
    """What `LaneVision` needs of a lane pipeline (`vision.pipeline.LanePipeline` is the one used)."""

    counters: dict[str, int]

    def process(self, frame: Frame) -> list[VehiclePassage]: ...

    def flush(self) -> list[VehiclePassage]: ...

    def stage_means_ms(self) -> dict[str, float]: ...


class LaneVision:
    """Runs frames through the lane pipeline and hands each valid `VehiclePassage` to `publish` at once."""

    def __init__(self, pipeline: Pipeline, publish: Publish) -> None:
        self.pipeline = pipeline
        self.publish = publish
        self.failed = 0
        self.invalid = 0
        self.latency_ms = 0.0
        self._arrivals: OrderedDict[float, float] = OrderedDict()

    def read(self, arrival: Arrival) -> int:
        """Process one frame; a frame that breaks the pipeline is logged and counted, the lane goes on."""
        self._remember(arrival)
        try:
            passages = self.pipeline.process(arrival.frame)
        except Exception:  # one bad frame must not stop the lane; counted and shown in telemetry
            self.failed += 1
            if self.failed <= FULL_TRACEBACKS:
                log.exception("camera %s frame %d failed in the pipeline", arrival.frame.camera, arrival.frame.index)
            elif self.failed % 100 == 0:
                log.warning("%d frames have failed in the pipeline so far", self.failed)
            return 0
        return self._send(passages)

    def finish(self) -> int:
        """End of the stream: publish the passages still open."""
        return self._send(self.pipeline.flush())

    def metrics(self) -> dict[str, float]:
        counters = self.pipeline.counters
        stage_ms = {f"vision.ms.{stage}": round(ms, 3) for stage, ms in self.pipeline.stage_means_ms().items()}
        pipeline = {f"vision.{name}": float(counters.get(name, 0))
                    for name in ("frames", "passages", "corrupt", "rejected", "bad_time")}
        return {**pipeline, "vision.failed": float(self.failed),
                "vision.invalid_passages": float(self.invalid), "vision.latency_ms": round(self.latency_ms, 1),
                **stage_ms}

    def _send(self, passages: list[VehiclePassage]) -> int:
        sent = 0
        for passage in passages:
            try:
                decode_as(encode(passage), VehiclePassage)  # what a receiver would refuse is not sent
            except MessageError as exc:
                self.invalid += 1
                log.error("passage %s not published: %s", passage.passage_id, exc)
                continue
            self._measure(passage)
            self.publish(passage)
            sent += 1
        return sent

    def _remember(self, arrival: Arrival) -> None:
        self._arrivals[arrival.frame.ts_utc] = arrival.arrived
        while len(self._arrivals) > MAX_ARRIVALS:
            self._arrivals.popitem(last=False)

    def _measure(self, passage: VehiclePassage) -> None:
        """Latency of the last passage: from its vehicle's last frame leaving the camera to its publication."""
        arrived = self._arrivals.get(passage.last_seen_utc)
        if arrived is not None:
            self.latency_ms = 1e3 * (time.monotonic() - arrived)

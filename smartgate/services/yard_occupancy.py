"""The yard occupancy service: yard cameras in, `OccupancyUpdate` on the bus, every change journalled first.

It plays the site's yard cameras (for now from the site's yard recording, paced to its clock), runs the yard
pipeline (detect, place on the ground, slots and queues with hysteresis), fills in container numbers from the
inventory, and for each step journals the changes in one transaction, then publishes them. The inventory follows
the gate's reads (`VehiclePassage`: the containers a truck brings) and the cranes' moves (`CraneCommand` PICK and
PLACE) from the bus. On start it takes up
the state the journal last recorded, so a restart neither forgets a container nor announces it again. The journal
recorder stores the published copies too; they are the same messages (same id), so that second write is a no-op.

A step whose journal write fails publishes nothing (what was not recorded is not announced); the failure is
counted and the next step tries again with the then-current state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bus.journal import Journal, JournalError
from bus.messages import AnyMessage, CraneCommand, OccupancyUpdate, VehiclePassage, now_utc
from bus.transport import subscription
from datasets.yard_synth.recording import YardRecording, open_yard_recording
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import event_subscriber
from smartgate.yard_pipeline import YardPipeline, recording_pipeline
from yard.inventory import Inventory, InventoryError
from yard.layout import load_layout
from yard.occupancy_journal import record_updates
from yard.occupancy_layout import rebuilt_inventory

log = logging.getLogger(__name__)
NAME = "yard"
MAX_EVENTS_PER_STEP = 1000


@dataclass(frozen=True)
class YardOptions:
    recording: Path | None = None   # instead of the site's yard recording
    speed: float = 1.0              # recording time per wall-clock second; 0 plays as fast as it can


def run(site: Site, stop: threading.Event, options: YardOptions = YardOptions()) -> int:
    if site.yard is None or site.yard.layout is None:
        raise ValueError("the site has no yard layout (yard.layout)")
    source = options.recording or site.yard.recording
    if source is None:
        raise ValueError("the site has no yard cameras to play (yard.recording, or --recording)")
    layout = load_layout(site.yard.layout)
    recording = open_yard_recording(source)
    pipeline = recording_pipeline(recording, layout)
    counters: Counter[str] = Counter()
    with Journal.open(site.journal.url) as journal:
        pipeline.restore(journal)
        inventory = rebuilt_inventory(layout, journal)
        pulse = Pulse(site, NAME, "yard-occupancy", lambda: _status(pipeline, counters))
        topics = [subscription(VehiclePassage), subscription(CraneCommand)]
        try:
            with event_subscriber(site, NAME, topics) as events:
                _play(recording, pipeline, _Yard(inventory, events.recv, journal, pulse, counters), stop,
                      options.speed)
            pulse.tick(state="ended", force=True)
        finally:
            pulse.close()
    log.info("yard: %s", dict(counters))
    return 0


@dataclass
class _Yard:
    """What a step needs besides the pipeline: the inventory and its bus feed, the journal, the publisher."""

    inventory: Inventory
    receive: Callable[[float], AnyMessage | None]
    journal: Journal
    pulse: Pulse
    counters: Counter[str]

    def take_events(self) -> None:
        """Feed the inventory what the gate and the cranes said since the last step (never waits)."""
        for _ in range(MAX_EVENTS_PER_STEP):
            message = self.receive(0.0)
            if message is None:
                return
            if isinstance(message, VehiclePassage):
                self.inventory.on_passage(message)
            elif isinstance(message, CraneCommand):
                try:
                    self.inventory.on_crane_command(message)
                except InventoryError as exc:
                    self.counters[f"crane_refused.{exc.reason}"] += 1
            self.counters["events"] += 1

    def record_then_publish(self, updates: list[OccupancyUpdate]) -> None:
        try:
            record_updates(self.journal, updates)
        except JournalError as exc:
            self.counters["journal_failures"] += 1
            log.error("yard: %d update(s) not journalled, not published: %s", len(updates), exc)
            return
        for update in updates:
            self.pulse.publisher.publish(update)
        self.counters["updates"] += len(updates)


def _play(recording: YardRecording, pipeline: YardPipeline, yard: _Yard, stop: threading.Event,
          speed: float) -> None:
    started = time.monotonic()
    started_utc = now_utc()
    for t, images, _truth in recording:
        if stop.is_set():
            return
        if speed > 0:
            stop.wait(max(0.0, t / speed - (time.monotonic() - started)))
        yard.take_events()
        # a frame's time is when the camera took it, not when it was processed: the hysteresis counts camera
        # seconds, so a recording played faster than real time (speed 0 in tests) still settles its slots
        changes = yard.inventory.on_changes(pipeline.step(started_utc + t, images))
        updates = pipeline.tracker.to_updates(changes)
        if updates:
            yard.record_then_publish(updates)
        yard.counters["steps"] += 1
        yard.pulse.tick()


def _status(pipeline: YardPipeline, counters: Counter[str]) -> dict[str, float]:
    states = pipeline.tracker.slot_states()
    queues = pipeline.tracker.queue_lengths()
    status = {"slots_occupied": float(sum(s.occupied for s in states)), "slots": float(len(states)),
              **{f"queue.{lane}": float(n) for lane, n in queues.items()},
              **{k: float(v) for k, v in counters.items()}}
    times = pipeline.times.per_step_ms()
    return {**status, **{f"ms.{stage}": ms for stage, ms in times.items()}}

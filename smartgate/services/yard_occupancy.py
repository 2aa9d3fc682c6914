"""The yard occupancy service: yard cameras in, `OccupancyUpdate` on the bus, every change journalled first.

It plays the site's yard cameras (for now from the site's yard recording, paced to its clock), runs the yard
pipeline (detect, place on the ground, slots and queues with hysteresis), fills in container numbers from the
inventory, and for each step journals the changes in one transaction, then publishes them. On start it takes up
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
from dataclasses import dataclass
from pathlib import Path

from bus.journal import Journal, JournalError
from bus.messages import OccupancyUpdate, now_utc
from datasets.yard_synth.recording import YardRecording, open_yard_recording
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.yard_pipeline import YardPipeline, recording_pipeline
from yard.inventory import Inventory
from yard.layout import load_layout
from yard.occupancy_journal import record_updates
from yard.occupancy_layout import rebuilt_inventory

log = logging.getLogger(__name__)
NAME = "yard"


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
        try:
            _play(recording, pipeline, inventory, journal, pulse, counters, stop, options.speed)
            pulse.tick(state="ended", force=True)
        finally:
            pulse.close()
    log.info("yard: %s", dict(counters))
    return 0


def _play(recording: YardRecording, pipeline: YardPipeline, inventory: Inventory, journal: Journal, pulse: Pulse,
          counters: Counter[str], stop: threading.Event, speed: float) -> None:
    started = time.monotonic()
    for t, images, _truth in recording:
        if stop.is_set():
            return
        if speed > 0:
            stop.wait(max(0.0, t / speed - (time.monotonic() - started)))
        changes = inventory.on_changes(pipeline.step(now_utc(), images))
        updates = pipeline.tracker.to_updates(changes)
        if updates:
            _record_then_publish(updates, journal, pulse, counters)
        counters["steps"] += 1
        pulse.tick()


def _record_then_publish(updates: list[OccupancyUpdate], journal: Journal, pulse: Pulse,
                         counters: Counter[str]) -> None:
    try:
        record_updates(journal, updates)
    except JournalError as exc:
        counters["journal_failures"] += 1
        log.error("yard: %d update(s) not journalled, not published: %s", len(updates), exc)
        return
    for update in updates:
        pulse.publisher.publish(update)
    counters["updates"] += len(updates)


def _status(pipeline: YardPipeline, counters: Counter[str]) -> dict[str, float]:
    states = pipeline.tracker.slot_states()
    queues = pipeline.tracker.queue_lengths()
    status = {"slots_occupied": float(sum(s.occupied for s in states)), "slots": float(len(states)),
              **{f"queue.{lane}": float(n) for lane, n in queues.items()},
              **{k: float(v) for k, v in counters.items()}}
    times = pipeline.times.per_step_ms()
    return {**status, **{f"ms.{stage}": ms for stage, ms in times.items()}}

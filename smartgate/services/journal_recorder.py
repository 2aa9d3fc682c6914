"""The journal recorder: every event on the bus (all but heartbeats) appended durably to the site journal.

Messages are appended in batches, one transaction each, so that a burst costs one disk sync; a message counts
as recorded only once its batch has committed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bus.journal import Journal
from bus.messages import AnyMessage, Heartbeat
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import event_subscriber

log = logging.getLogger(__name__)
NAME = "journal"
MAX_BATCH = 500
Receive = Callable[[float], AnyMessage | None]


def run(site: Site, stop: threading.Event) -> int:
    recorded = 0
    with Journal.open(site.journal.url) as journal, event_subscriber(site, NAME, [b""]) as events:
        pulse = Pulse(site, NAME, "journal", lambda: {"recorded": float(recorded),
                                                     "last_seq": float(journal.last_seq())})
        try:
            while not stop.is_set():
                batch = _collect(events.recv, first_timeout_s=0.1)
                if batch:
                    journal.append_many(batch)
                    recorded += len(batch)
                pulse.tick()
            recorded += _drain(journal, events.recv)
            pulse.tick(state="stopped", force=True)
        finally:
            pulse.close()
    log.info("recorded %d messages", recorded)
    return 0


def _collect(recv: Receive, *, first_timeout_s: float) -> list[AnyMessage]:
    """One batch: wait for the first message, then take what is already waiting, heartbeats left out."""
    batch: list[AnyMessage] = []
    message = recv(first_timeout_s)
    while message is not None and len(batch) < MAX_BATCH:
        if not isinstance(message, Heartbeat):
            batch.append(message)
        message = recv(0.0)
    if message is not None and not isinstance(message, Heartbeat):
        batch.append(message)
    return batch


def _drain(journal: Journal, recv: Receive) -> int:
    """Record what is still queued when asked to stop."""
    batch = _collect(recv, first_timeout_s=0.2)
    if batch:
        journal.append_many(batch)
    return len(batch)

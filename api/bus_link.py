"""The API's one bus thread: receive, update the live state, count, fan the events out to the stream.

The source (a `bus.pubsub.Subscriber` in the service) is used only from this thread, as a ZeroMQ socket must be;
`stop` closes it once the thread has ended. A message that the live state cannot take (it should never happen: the
bus has validated it) is logged, counted in `rejected`, and the thread goes on; so does a failing `recv`, after a
short pause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final, Protocol

from api.hub import EventHub
from api.live import LiveEvent, LiveState
from api.ports import EventSource
from bus.messages import Message

log = logging.getLogger(__name__)

RECV_TIMEOUT_S: Final = 0.1
TICK_S: Final = 0.25
KPI_EVERY_S: Final = 5.0
CONNECTED_WITHIN_S: Final = 5.0
ERROR_PAUSE_S: Final = 0.5


class MessageCounter(Protocol):
    """What the link needs of `api.metrics.ApiMetrics`."""

    def observe_message(self, msg: Message) -> None: ...


class BusLink:
    """Runs the bus thread between `start` and `stop`."""

    def __init__(self, source: EventSource, live: LiveState, hub: EventHub, metrics: MessageCounter | None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._live = live
        self._hub = hub
        self._metrics = metrics
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ok: float | None = None
        self._last_message: float | None = None
        self.received = 0
        self.rejected = 0
        self.recv_errors = 0

    @property
    def connected(self) -> bool:
        """Whether the thread runs and the bus answered lately (a message, or a receive without error, within
        the last 5 s)."""
        last = self._last_ok
        alive = self._thread is not None and self._thread.is_alive()
        return alive and last is not None and self._clock() - last <= CONNECTED_WITHIN_S

    @property
    def last_message_age_s(self) -> float | None:
        last = self._last_message
        return None if last is None else self._clock() - last

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the bus link was already started")
        self._thread = threading.Thread(target=self._run, name="api-bus-link", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the thread, then close the source (never while the thread may still use it)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("the bus link thread did not stop within %.1f s; its source is left open", timeout_s)
                return
        try:
            self._source.close()
        except Exception:  # closing must not fail a shutdown; say what happened
            log.exception("closing the bus source failed")

    def _run(self) -> None:
        next_tick = next_kpi = self._clock()
        while not self._stop.is_set():
            self._receive()
            now = self._clock()
            if now >= next_tick:
                next_tick = now + TICK_S
                self._publish(self._live.tick())
            if now >= next_kpi:
                next_kpi = now + KPI_EVERY_S
                self._publish([self._live.kpi_event()])

    def _receive(self) -> None:
        try:
            message = self._source.recv(RECV_TIMEOUT_S)
        except Exception as exc:  # a transport failure must not end the thread: count it, pause, go on
            self.recv_errors += 1
            log.warning("bus receive failed (%d so far): %s", self.recv_errors, exc)
            self._stop.wait(ERROR_PAUSE_S)
            return
        self._last_ok = self._clock()
        if message is None:
            return
        self._last_message = self._last_ok
        self.received += 1
        self.take(message)

    def take(self, message: Message) -> None:
        """Apply one message and publish its events (the thread's step; tests may call it directly)."""
        if not isinstance(message, Message):
            self.rejected += 1
            log.warning("bus source returned %s, not a message; skipped", type(message).__name__)
            return
        try:
            if self._metrics is not None:
                self._metrics.observe_message(message)
            events = self._live.apply(message)
        except Exception:  # one bad message must not stop the live picture; it is logged with its traceback
            self.rejected += 1
            log.exception("live state could not take %s %s", type(message).__name__, message.id)
            return
        self._publish(events)

    def _publish(self, events: list[LiveEvent]) -> None:
        for event in events:
            self._hub.publish_threadsafe(event)

"""The clearance service process: passages and declarations in from the bus, decisions journalled, barriers driven.

It subscribes at the site broker to `VehiclePassage`, `OperatorAction` and (when the site takes them from the bus)
`DeclarationSubmitted` and `DeclarationCancelled`; follows the site's declaration feed (a JSON Lines file or folder;
the ``declarations`` option names another one instead, as the demo does for its recordings' trucks); and runs a
`control.clearance.ClearanceEngine` with one `GateLink` per lane (CURVE key ``clearance``, client id
``clearance-<lane>``, stable across restarts so the controllers' reply caches keep answering retries). Every
decision, command and ack it journals is also published, so the control room sees it; the journal recorder's copy
of a published message is idempotent (same id, same content).

Fail safe: while the journal cannot be opened or read, no engine runs: no passage is decided, no barrier is
commanded, and the links send no heartbeats, so the controllers return their barriers closed. The refusals are
counted and logged, and the journal is tried again every few seconds. Messages the bus refuses (malformed,
oversized, replayed, unauthenticated) are counted by the subscriber and reported in the telemetry.

Test only: ``SMARTGATE_CRASH_AT=<point>[:<n>]`` (a point of ``control.clearance.CRASH_POINTS``) makes the process
SIGKILL itself the n-th time it reaches that point, so the crash tests can stop it between two steps of the
journal-before-send protocol. Nothing else reads it; leave it unset in production.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bus.heartbeat import HeartbeatConfig
from bus.journal import Journal, JournalError
from bus.messages import DeclarationCancelled, DeclarationSubmitted, Message, OperatorAction, VehiclePassage
from bus.transport import subscription
from control.clearance import CRASH_POINTS, ClearanceConfig, ClearanceEngine, CrashHook, feed_submission
from control.declaration_feed import DirectoryFeed, FeedStats, JsonlTail
from control.gate_link import GateLink, GateLinkConfig
from control.operator_actions import OperatorPolicy
from smartgate.services.gate_controller import open_gate_link
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import event_subscriber

log = logging.getLogger(__name__)

NAME = "clearance"
CRASH_ENV = "SMARTGATE_CRASH_AT"
STEP_S = 0.02
FEED_POLL_S = 1.0
MAX_MESSAGES_PER_STEP = 100


@dataclass(frozen=True)
class ClearanceOptions:
    """The process's knobs. ``heartbeat_s`` must equal the gate controllers'; ``operators`` may override;
    ``declarations`` (a JSON Lines file, or a folder of them) is followed instead of the site's declaration feed."""

    heartbeat_s: float = 1.0
    command_validity_s: float = 10.0
    link_timeout_s: float = 0.5
    journal_url: str | None = None
    operators: tuple[str, ...] = ()
    reopen_journal_s: float = 2.0
    declarations: Path | None = None

    def __post_init__(self) -> None:
        for name in ("heartbeat_s", "command_validity_s", "link_timeout_s", "reopen_journal_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 s, got {getattr(self, name)}")


def crash_hook_from_env(environ: Mapping[str, str] = os.environ) -> CrashHook | None:
    """TEST ONLY: the hook ``SMARTGATE_CRASH_AT`` asks for (see the module docstring), or None when unset."""
    value = environ.get(CRASH_ENV, "")
    if not value:
        return None
    point, _, nth = value.partition(":")
    if point not in CRASH_POINTS or not (nth or "1").isdigit() or int(nth or "1") < 1:
        raise ValueError(f"{CRASH_ENV}={value!r}: expected one of {', '.join(CRASH_POINTS)}, optionally ':N'")
    wanted, seen = int(nth or "1"), Counter[str]()

    def crash(at: str) -> None:
        seen[at] += 1
        if at == point and seen[at] == wanted:
            log.critical("%s=%s: killing this process now (test only)", CRASH_ENV, value)
            os.kill(os.getpid(), signal.SIGKILL)

    return crash


class ClearanceService:
    """The service's sockets, feed and engine; `step` is one turn of its loop. One thread owns it."""

    def __init__(self, site: Site, options: ClearanceOptions | None = None, *, hook: CrashHook | None = None) -> None:
        self.site = site
        self.options = options or ClearanceOptions()
        self.counters: Counter[str] = Counter()
        self.engine: ClearanceEngine | None = None
        self._hook = hook
        self._lanes = [lane.id for lane in site.lanes if lane.id in site.bus.endpoints.gate_links]
        self._feed = _open_feed(site, self.options.declarations)
        self._next_open = 0.0
        self._next_feed = 0.0
        topics = [subscription(VehiclePassage), subscription(OperatorAction)]
        if site.declarations.from_bus:
            topics += [subscription(DeclarationSubmitted), subscription(DeclarationCancelled)]
        self._pulse = Pulse(site, NAME, "clearance", self.metrics)
        self._subscriber = event_subscriber(site, NAME, topics)

    def step(self, timeout_s: float = STEP_S) -> None:
        """Open the engine if it is not, take what arrived, deliver, heartbeat, follow the feed, report."""
        self._ensure_engine()
        message = self._subscriber.recv(timeout_s)
        taken = 0
        while message is not None:
            self._take(message)
            taken += 1
            message = self._subscriber.recv(0.0) if taken < MAX_MESSAGES_PER_STEP else None
        if self.engine is not None:
            self._publish(self.engine.pump())
            self.engine.tick()
            self._poll_feed(self.engine)
        self._pulse.tick(state="running" if self.engine is not None else "no_journal")

    def metrics(self) -> dict[str, float]:
        """Telemetry: the engine's counters, the service's refusals, the bus's and the feed's counters."""
        metrics = {k: float(v) for k, v in self.counters.items()}
        if self.engine is not None:
            metrics.update({k: float(v) for k, v in self.engine.counters.items()})
            metrics["pending"] = float(self.engine.pending())
        metrics.update({f"sub.{k}": float(v) for k, v in self._subscriber.snapshot().items() if v})
        stats: FeedStats | None = self._feed.stats if self._feed is not None else None
        if stats is not None:
            metrics.update({"feed.declarations": float(stats.declarations), "feed.bad_lines": float(stats.bad_lines),
                            "feed.read_errors": float(stats.read_errors)})
        return metrics

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine.journal.close()
        self._subscriber.close()
        self._pulse.close()

    # --- internals ---------------------------------------------------------------------------------------------

    def _ensure_engine(self) -> None:
        """Open the journal and recover; on failure, run without an engine (nothing sent) and try again later."""
        if self.engine is not None or time.monotonic() < self._next_open:
            return
        self._next_open = time.monotonic() + self.options.reopen_journal_s
        url = self.options.journal_url or self.site.journal.url
        journal: Journal | None = None
        try:
            journal = Journal.open(url, autocheckpoint=False)  # checkpoints in idle time: `ClearanceEngine.tick`
            engine = ClearanceEngine(journal, self._open_link, self._lanes, self.site.clearance.rules(),
                                     config=ClearanceConfig(command_validity_s=self.options.command_validity_s),
                                     policy=OperatorPolicy(frozenset(self.options.operators)), hook=self._hook)
            self._publish(engine.recover())
        except JournalError as exc:
            self.counters["journal.unavailable"] += 1
            log.error("journal unavailable, no barrier will be commanded until it opens: %s", exc)
            if journal is not None:
                journal.close()
            return
        self.engine = engine
        log.info("clearance running on journal %s for lanes %s", journal.url, ", ".join(self._lanes))
        self._poll_feed(engine)  # before the first passage is taken, so that it meets the feed's declarations

    def _open_link(self, lane_id: str, last_seq: int) -> GateLink:
        config = GateLinkConfig(timeout_s=self.options.link_timeout_s, retries=1,
                                heartbeat=HeartbeatConfig(interval_s=self.options.heartbeat_s))
        return open_gate_link(self.site, lane_id, last_seq=last_seq, client_id=f"{NAME}-{lane_id}", config=config)

    def _take(self, message: Message) -> None:
        engine = self.engine
        if engine is None:
            self.counters["refused.journal_unavailable"] += 1
            log.error("%s %s refused: no journal, nothing is decided or sent", type(message).__name__, message.id)
        elif isinstance(message, VehiclePassage):
            self._publish(engine.take_passage(message))
        elif isinstance(message, OperatorAction):
            self._publish(engine.take_action(message))
        elif isinstance(message, DeclarationSubmitted):
            engine.take_declaration(message)
        elif isinstance(message, DeclarationCancelled):
            engine.take_cancellation(message)
        else:
            self.counters["dropped.unexpected_type"] += 1

    def _poll_feed(self, engine: ClearanceEngine) -> None:
        if self._feed is None or time.monotonic() < self._next_feed:
            return
        self._next_feed = time.monotonic() + FEED_POLL_S
        for item in self._feed.poll().items:
            submitted = feed_submission(item.declaration)
            if engine.take_declaration(submitted):
                self._publish([submitted])

    def _publish(self, messages: list[Message]) -> None:
        for message in messages:
            self._pulse.publisher.publish(message)


def _open_feed(site: Site, override: Path | None = None) -> JsonlTail | DirectoryFeed | None:
    if override is not None:
        return DirectoryFeed(override) if override.is_dir() else JsonlTail(override)
    feed = site.declarations.feed
    if feed is None:
        return None
    return JsonlTail(feed.path) if feed.kind == "jsonl_file" else DirectoryFeed(feed.path)


def run(site: Site, stop: threading.Event, options: ClearanceOptions | None = None, *,
        hook: CrashHook | None = None) -> int:
    """Serve until ``stop`` is set; 0 on a clean stop."""
    service = ClearanceService(site, options, hook=hook)
    try:
        while not stop.is_set():
            service.step()
    finally:
        log.info("clearance stopping: %s", service.metrics())
        service.close()
    return 0

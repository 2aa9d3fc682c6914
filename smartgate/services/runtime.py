"""What every service process shares: signal handling, logging, heartbeats and status telemetry."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from bus.messages import Heartbeat, Telemetry
from bus.pubsub import Publisher
from smartgate.site import Site
from smartgate.wiring import event_publisher

HEARTBEAT_S = 1.0


def install_stop_handlers() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so that loops finish their step and close their sockets."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("smartgate.services").info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def configure_logging(name: str) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")


@dataclass
class Pulse:
    """Publishes a service's heartbeat and status telemetry once a second (monotonic clock)."""

    site: Site
    name: str
    role: str
    status: Callable[[], dict[str, float]]
    publisher: Publisher = field(init=False)
    _seq: int = 0
    _next: float = 0.0

    def __post_init__(self) -> None:
        self.publisher = event_publisher(self.site, self.name)

    def tick(self, *, state: str = "running", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + HEARTBEAT_S
        self._seq += 1
        self.publisher.publish(Heartbeat(sender=self.name, role=self.role, seq=self._seq))
        metrics = {**self.status(), **{f"bus.{k}": float(v) for k, v in self.publisher.snapshot().items()}}
        self.publisher.publish(Telemetry(device_id=self.name, kind="service", state=state,
                                         metrics=dict(list(metrics.items())[:64])))

    def close(self) -> None:
        self.publisher.close()

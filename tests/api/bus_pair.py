"""A real ZeroMQ publisher/subscriber pair on loopback for the API tests, joined before use (no slow joiner)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from bus.curve import Security
from bus.messages import Heartbeat, Message
from bus.pubsub import Publisher, Subscriber

PROBE_SENDER = "bus-pair-probe"


def join(publisher: Publisher, subscriber: Subscriber) -> None:
    """Publish probes until one arrives, then drain the probes still in flight."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        publisher.publish(Heartbeat(sender=PROBE_SENDER, role="probe", seq=1))
        if subscriber.recv(0.05) is not None:
            while subscriber.recv(0.1) is not None:
                pass
            return
    raise AssertionError("the subscriber never joined")


@contextmanager
def bus_pair(server: Security | None = None, client: Security | None = None,
             topics: tuple[bytes, ...] = (b"",)) -> Iterator[tuple[Publisher, Subscriber]]:
    """A bound publisher and a subscriber connected to it (plain TCP unless CURVE securities are given)."""
    publisher = Publisher("tcp://127.0.0.1:*", server or Security.development())
    subscriber = Subscriber(publisher.endpoint, topics, client or Security.development())
    try:
        join(publisher, subscriber)
        yield publisher, subscriber
    finally:
        subscriber.close()
        publisher.close()


def received(subscriber: Subscriber, timeout_s: float = 1.0) -> list[Message]:
    """What arrives within ``timeout_s`` of silence, probes left out."""
    out: list[Message] = []
    while (message := subscriber.recv(timeout_s)) is not None:
        if not (isinstance(message, Heartbeat) and message.sender == PROBE_SENDER):
            out.append(message)
        timeout_s = min(timeout_s, 0.2)
    return out

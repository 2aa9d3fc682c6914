"""What the API needs from the bus, as protocols: the service wires real ZeroMQ sockets in, tests wire real ones too
(or a plain in-process queue where no socket is the point of the test). `api` never builds sockets itself, so that
creating the app does no work and opens nothing."""

from __future__ import annotations

from typing import Protocol

from bus.messages import Message


class EventSource(Protocol):
    """Live bus events for the API (a `bus.pubsub.Subscriber` fits)."""

    def recv(self, timeout_s: float) -> Message | None: ...

    def close(self) -> None: ...


class Publisher(Protocol):
    """Where the API's writes go on the bus (a `bus.pubsub.Publisher` fits)."""

    def publish(self, message: Message) -> None: ...

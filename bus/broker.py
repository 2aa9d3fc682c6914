"""The site's event broker: many publishers in, many subscribers out (ZeroMQ XSUB/XPUB).

Services publish by connecting to the broker's publish endpoint (``Publisher(..., connect=True)``) and
subscribe at its subscribe endpoint, so no service needs to know where the others run. Both sides are CURVE
servers that admit only the site's authorized keys. The broker forwards frames as they are: subscribers
validate payloads and count gaps, so a slow broker shows up as ``dropped`` at the subscriber.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import zmq

from bus.counters import Counters
from bus.curve import Security
from bus.transport import DEFAULT_HWM, SocketOwner, check_timeout, incoming, send_frames

_NOBLOCK = int(zmq.NOBLOCK)
_PUBSUB_FRAMES = 3  # topic, stamp, payload (bus.transport)


class _Side(SocketOwner):
    """One bound side of the broker."""

    def __init__(self, kind: int, endpoint: str, security: Security, hwm: int) -> None:
        super().__init__(kind, security, binds=True)
        self._socket.sndhwm = hwm
        self._socket.rcvhwm = hwm
        self.endpoint = self._bind(endpoint)

    @property
    def socket(self) -> zmq.Socket[bytes]:
        return self._socket

    def count(self) -> Counters:
        return self._counters


class Broker:
    """Forwards published messages to subscribers and subscriptions back to publishers."""

    def __init__(self, publish_endpoint: str, subscribe_endpoint: str, security: Security, *,
                 hwm: int = DEFAULT_HWM) -> None:
        self._front = _Side(zmq.XSUB, publish_endpoint, security, hwm)
        try:
            self._back = _Side(zmq.XPUB, subscribe_endpoint, security, hwm)
        except BaseException:
            self._front.close()
            raise
        self.publish_endpoint = self._front.endpoint
        self.subscribe_endpoint = self._back.endpoint
        self._poller = zmq.Poller()
        self._poller.register(self._front.socket, zmq.POLLIN)
        self._poller.register(self._back.socket, zmq.POLLIN)

    def step(self, timeout_s: float) -> int:
        """Forward what arrives within ``timeout_s``; returns the number of messages forwarded."""
        ready = dict(self._poller.poll(int(check_timeout(timeout_s) * 1000)))
        forwarded = 0
        now = time.monotonic()
        if self._back.socket in ready:
            for frames in incoming(self._back.socket, now):
                if frames is not None:  # a (un)subscription: pass it upstream so publishers filter early
                    send_frames(self._front.socket, frames, _NOBLOCK)
        if self._front.socket in ready:
            counters = self._front.count()
            for frames in incoming(self._front.socket, now):
                if frames is None or len(frames) != _PUBSUB_FRAMES:
                    counters.reject("bad_envelope")
                    continue
                counters.received += 1
                try:
                    send_frames(self._back.socket, frames, _NOBLOCK)
                except zmq.Again:
                    counters.dropped += 1
                    continue
                counters.sent += 1
                forwarded += 1
        return forwarded

    def serve(self, stop: threading.Event | Callable[[], bool], *, poll_s: float = 0.1) -> None:
        """Forward until ``stop`` is set (or returns true)."""
        is_set = stop.is_set if isinstance(stop, threading.Event) else stop
        while not is_set():
            self.step(poll_s)

    def snapshot(self) -> dict[str, int]:
        """Publish-side counters (received, forwarded as ``sent``, dropped, rejected, refused handshakes)."""
        front = self._front.snapshot()
        back = self._back.snapshot()
        front["refused"] += back["refused"]
        return front

    def close(self) -> None:
        self._front.close()
        self._back.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

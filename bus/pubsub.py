"""Publish/subscribe for events and telemetry, one topic per message type and lane.

PUB/SUB may lose messages (a slow joiner misses the first ones, a full high-water mark drops): fine for
telemetry and events that are also journalled, never for commands, which go over ``bus.reqrep``. Every message
carries a per-topic sequence number so that a subscriber counts what was dropped instead of guessing.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import zmq

from bus.codec import MessageError, decode, encode
from bus.curve import Security
from bus.messages import AnyMessage, Message
from bus.transport import (
    DEFAULT_HWM,
    MAX_TOPIC_BYTES,
    STAMP,
    EndpointError,
    SocketOwner,
    check_timeout,
    incoming,
    send_frames,
    topic_for,
    topic_matches,
    validate_endpoint,
)

log = logging.getLogger(__name__)


class Publisher(SocketOwner):
    """Publishes messages under their topic. Never blocks: a full queue drops.

    It binds ``endpoint`` (one publisher, many subscribers), or with ``connect=True`` connects to a
    ``bus.broker.Broker``'s publish side, so that many services publish into one site-wide stream.
    """

    def __init__(self, endpoint: str, security: Security, *, hwm: int = DEFAULT_HWM, connect: bool = False) -> None:
        validate_endpoint(endpoint, bind=not connect)
        super().__init__(zmq.PUB, security, binds=not connect)
        self._socket.sndhwm = hwm
        if connect:
            self._connect(endpoint)
            self.endpoint = endpoint
        else:
            self.endpoint = self._bind(endpoint)
        self._publisher_id = os.urandom(8)
        self._seq: dict[bytes, int] = {}

    def publish(self, message: Message) -> None:
        """Send ``message`` to every subscriber of its topic."""
        topic = topic_for(message)
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        send_frames(self._socket, [topic, STAMP.pack(self._publisher_id, seq), encode(message)])
        self._counters.sent += 1


class _GapCounter:
    """Per (publisher, topic) last sequence number, to count messages lost between publisher and us."""

    def __init__(self, max_tracked: int) -> None:
        self._last: OrderedDict[tuple[bytes, bytes], int] = OrderedDict()
        self._max_tracked = max_tracked

    def observe(self, publisher_id: bytes, topic: bytes, seq: int) -> int | None:
        """Messages missed before this one (0 if none), or ``None`` if it repeats or goes back in sequence."""
        key = (publisher_id, topic)
        last = self._last.get(key)
        if last is not None and seq <= last:
            return None
        self._last[key] = seq
        self._last.move_to_end(key)
        if len(self._last) > self._max_tracked:
            self._last.popitem(last=False)
        return 0 if last is None else seq - last - 1


class Subscriber(SocketOwner):
    """Connects to publishers and returns the messages of the subscribed topics, validated.

    ``topics`` come from ``bus.transport.subscription``: ``b"Type/"`` for every lane, ``b"Type/lane"`` for
    one lane, ``b""`` for everything.
    """

    def __init__(self, endpoints: str | Sequence[str], topics: Iterable[bytes], security: Security, *,
                 hwm: int = DEFAULT_HWM, max_tracked: int = 4096) -> None:
        endpoint_list = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        if not endpoint_list:
            raise EndpointError("a subscriber needs at least one endpoint")
        for endpoint in endpoint_list:
            validate_endpoint(endpoint, bind=False)
        self.topics = frozenset(_check_topic(topic) for topic in topics)
        super().__init__(zmq.SUB, security, binds=False)
        self._socket.rcvhwm = hwm
        for topic in self.topics:
            self._socket.subscribe(topic)
        for endpoint in endpoint_list:
            self._connect(endpoint)
        self.endpoints = tuple(endpoint_list)
        self._gaps = _GapCounter(max_tracked)

    def recv(self, timeout_s: float) -> AnyMessage | None:
        """The next good message within ``timeout_s`` seconds, or ``None``. Bad ones are counted, skipped."""
        deadline = time.monotonic() + check_timeout(timeout_s)
        for frames in incoming(self._socket, deadline):
            message = self._accept(frames)
            if message is not None:
                return message
        self._drain_monitor()
        return None

    def _accept(self, frames: list[bytes] | None) -> AnyMessage | None:
        if frames is None or len(frames) != 3 or len(frames[1]) != STAMP.size:
            self._counters.reject("bad_envelope")
            return None
        topic, stamp, payload = frames
        publisher_id, seq = STAMP.unpack(stamp)
        missed = self._gaps.observe(publisher_id, topic, seq)
        if missed is None:
            self._counters.reject("out_of_sequence")
            return None
        self._counters.dropped += missed
        try:
            message = decode(payload)
        except MessageError as exc:
            self._counters.reject(exc.reason)
            log.debug("rejected a message on %r: %s", topic[:MAX_TOPIC_BYTES], exc)
            return None
        if topic_for(message) != topic:
            self._counters.reject("topic_mismatch")
            return None
        if not topic_matches(topic, self.topics):
            return None
        self._counters.received += 1
        return message


def _check_topic(topic: bytes) -> bytes:
    if not isinstance(topic, bytes) or len(topic) > MAX_TOPIC_BYTES:
        raise ValueError(f"a topic must be bytes of at most {MAX_TOPIC_BYTES}, got {topic!r:.80}")
    if topic and b"/" not in topic:
        raise ValueError(f"a topic must be b'Type/' or b'Type/lane' (see subscription()), got {topic!r}")
    return topic

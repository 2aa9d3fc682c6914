"""Request/reply for commands: ROUTER server, DEALER client, timeouts, bounded retries, idempotency keys.

Each request carries the client's id and an idempotency key (a command's ``command_id``, otherwise the
message ``id``). The server keeps the replies it sent in a bounded LRU cache and answers a repeated key from
the cache without calling its handler again, so a client may safely retry an OPEN it got no answer to. The
client retries with the same key; on silence it closes its socket with linger 0 and reconnects (the zguide's
Lazy Pirate), and after the last retry raises ``RequestTimeout``. Heartbeats go both ways over the same link.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import zmq

from bus.codec import MessageError, decode, encode
from bus.curve import Security
from bus.heartbeat import HeartbeatConfig, HeartbeatSender, PeerCallback, PeerLiveness, StatusFn
from bus.messages import AnyMessage, Heartbeat, Message, new_id
from bus.transport import (
    REQUEST_PROTOCOL,
    SocketOwner,
    TransportError,
    check_timeout,
    has_waiting,
    incoming,
    is_id_bytes,
    send_frames,
    validate_endpoint,
)

log = logging.getLogger(__name__)

Handler = Callable[[AnyMessage], Message]
"""Turns one request into its reply; called once per idempotency key."""

_KEY_FIELDS = ("command_id", "request_id", "action_id")
SERVER_PEER = "server"
"""The name under which a client tracks its server's liveness."""


class RequestTimeout(TransportError):  # noqa: N818 - the name the issue and callers use
    """No reply after every attempt. The command may or may not have been carried out: retry with the same
    key (the server answers a duplicate from its cache) or fail safe."""

    def __init__(self, key: str, attempts: int, timeout_s: float) -> None:
        super().__init__(f"no reply to request {key} after {attempts} attempts of {timeout_s} s")
        self.key = key
        self.attempts = attempts


def idempotency_key(message: Message) -> str:
    """The key that identifies a request across retries: ``command_id`` (or ``request_id``, ``action_id``)
    when the message has one, else its ``id``."""
    for name in _KEY_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, str):
            return value
    return message.id


class _ReplyCache:
    """The last ``size`` replies, by (client id, request type, key): a key is only unique within its type."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"cache_size must be >= 1, got {size}")
        self._replies: OrderedDict[tuple[bytes, str, bytes], bytes] = OrderedDict()
        self._size = size

    def get(self, entry: tuple[bytes, str, bytes]) -> bytes | None:
        reply = self._replies.get(entry)
        if reply is not None:
            self._replies.move_to_end(entry)
        return reply

    def put(self, entry: tuple[bytes, str, bytes], reply: bytes) -> None:
        self._replies[entry] = reply
        if len(self._replies) > self._size:
            self._replies.popitem(last=False)


class Server(SocketOwner):
    """Binds a ROUTER socket and answers each request with ``handler``'s reply.

    Drive it with ``poll(timeout_s)`` in the owner's loop, or ``serve(stop)`` in a thread of its own (the
    server must then be used only from that thread until ``stop`` is set and the thread joined; ``counters``
    and ``snapshot()`` may be read from any thread). Clients are peers for ``peers``: one silent for
    ``heartbeat.liveness`` intervals is reported lost to ``on_peer_change``, called from the polling thread.
    """

    def __init__(self, endpoint: str, handler: Handler, security: Security, *, name: str = "server",
                 cache_size: int = 4096, heartbeat: HeartbeatConfig | None = None,
                 on_peer_change: PeerCallback | None = None, status: StatusFn | None = None) -> None:
        validate_endpoint(endpoint, bind=True)
        self._cache = _ReplyCache(cache_size)
        config = heartbeat or HeartbeatConfig()
        super().__init__(zmq.ROUTER, security, binds=True)
        self._socket.router_mandatory = True
        self.endpoint = self._bind(endpoint)
        self._handler = handler
        self.peers = PeerLiveness(config, on_peer_change)
        self._heartbeats = HeartbeatSender(name, "server", config, status=status)

    def poll(self, timeout_s: float) -> int:
        """Answer the requests that arrive within ``timeout_s``; returns how many were answered."""
        deadline = time.monotonic() + check_timeout(timeout_s)
        answered = 0
        for frames in incoming(self._socket, deadline):
            answered += self._handle(frames)
            if answered and not has_waiting(self._socket):
                break
        self.peers.check()
        self._drain_monitor()
        return answered

    def serve(self, stop: threading.Event, *, poll_s: float = 0.05) -> None:
        """Answer requests until ``stop`` is set."""
        while not stop.is_set():
            self.poll(poll_s)

    def _handle(self, frames: list[bytes] | None) -> int:
        if frames is None or len(frames) != 6 or frames[1] != b"":
            self._counters.reject("bad_envelope")
            return 0
        routing_id, _, protocol, client, key, payload = frames
        if protocol != REQUEST_PROTOCOL:
            self._counters.reject("bad_protocol")
            return 0
        if not (is_id_bytes(client) and is_id_bytes(key)):
            self._counters.reject("bad_envelope")
            return 0
        request = self._decode(payload, key)
        if request is None:
            return 0
        self._counters.received += 1
        self.peers.beat(client.decode())
        reply = self._reply_to(client, key, request)
        if reply is None:
            return 0
        return self._send(routing_id, key, reply)

    def _decode(self, payload: bytes, key: bytes) -> AnyMessage | None:
        try:
            request = decode(payload)
        except MessageError as exc:
            self._counters.reject(exc.reason)
            log.debug("rejected a request: %s", exc)
            return None
        if idempotency_key(request).encode() != key:
            self._counters.reject("key_mismatch")
            return None
        return request

    def _reply_to(self, client: bytes, key: bytes, request: AnyMessage) -> bytes | None:
        if isinstance(request, Heartbeat):
            return encode(self._heartbeats.next_message())
        entry = (client, request.wire_tag(), key)
        cached = self._cache.get(entry)
        if cached is not None:
            self._counters.duplicates += 1
            return cached
        try:
            reply = encode(self._handler(request))
        except Exception:
            self._counters.reject("handler_error")
            log.exception("handler failed on %s %s", type(request).wire_tag(), key.decode())
            return None
        self._cache.put(entry, reply)
        return reply

    def _send(self, routing_id: bytes, key: bytes, reply: bytes) -> int:
        try:
            send_frames(self._socket, [routing_id, b"", REQUEST_PROTOCOL, key, reply], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self._counters.dropped += 1
            log.warning("reply %s not delivered: %s", key.decode(), exc)
            return 0
        self._counters.sent += 1
        return 1


class Client(SocketOwner):
    """Connects a DEALER socket to one server and sends requests with retries, one at a time.

    ``client_id`` names this client in the server's reply cache: give a stable one (``"control-1"``) if
    retries must stay idempotent across restarts of this process. Call ``tick()`` in the owner's loop to send
    heartbeats and learn whether the server is alive (``server_alive``, ``on_server_change``).
    """

    def __init__(self, endpoint: str, security: Security, *, client_id: str | None = None,
                 heartbeat: HeartbeatConfig | None = None,
                 on_server_change: Callable[[bool], None] | None = None,
                 on_heartbeat: Callable[[Heartbeat], None] | None = None) -> None:
        validate_endpoint(endpoint, bind=False)
        self.client_id = client_id or new_id()
        if not is_id_bytes(self.client_id.encode()):
            raise ValueError(f"client_id must be 1-64 of [A-Za-z0-9_.:-], got {self.client_id!r}")
        config = heartbeat or HeartbeatConfig()
        super().__init__(zmq.DEALER, security, binds=False)
        self.endpoint = endpoint
        self._connect(endpoint)
        self._on_server_change = on_server_change
        self._on_heartbeat = on_heartbeat
        self.liveness = PeerLiveness(config, self._server_changed)
        self._heartbeats = HeartbeatSender(self.client_id, "client", config)

    @property
    def server_alive(self) -> bool:
        """True while the server answered within the heartbeat expiry; False before its first answer."""
        return self.liveness.is_alive(SERVER_PEER)

    def request(self, message: Message, *, timeout_s: float = 1.0, retries: int = 2) -> AnyMessage:
        """Send ``message`` and return the reply, retrying up to ``retries`` times with the same key."""
        check_timeout(timeout_s)
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        key = idempotency_key(message).encode()
        payload = encode(message)
        for attempt in range(retries + 1):
            if attempt:
                self._counters.retries += 1
                self._reopen()
            self._send(key, payload)
            reply = self._await_reply(key, time.monotonic() + timeout_s)
            if reply is not None:
                return reply
            self._counters.timeouts += 1
            log.info("no reply to %s within %s s (attempt %d)", key.decode(), timeout_s, attempt + 1)
        self._reopen()  # so that the unanswered request cannot be delivered late
        raise RequestTimeout(key.decode(), retries + 1, timeout_s)

    def tick(self) -> None:
        """Send a heartbeat if one is due, take in replies waiting, and check the server's liveness.

        When the server is declared lost the socket is reopened, so that a restarted server is found again.
        """
        if self._heartbeats.due():
            beat = self._heartbeats.next_message()
            self._send(beat.id.encode(), encode(beat))
        self._await_reply(None, time.monotonic())
        if self.liveness.check():
            self._reopen()

    def _send(self, key: bytes, payload: bytes) -> None:
        frames = [b"", REQUEST_PROTOCOL, self.client_id.encode(), key, payload]
        try:
            send_frames(self._socket, frames, zmq.NOBLOCK)
        except zmq.Again:
            self._counters.dropped += 1
            return
        self._counters.sent += 1

    def _await_reply(self, key: bytes | None, deadline: float) -> AnyMessage | None:
        """The reply to ``key`` if it comes before ``deadline``; other replies are taken in on the way."""
        for frames in incoming(self._socket, deadline):
            reply = self._accept(frames, key)
            if reply is not None:
                return reply
        self._drain_monitor()
        return None

    def _accept(self, frames: list[bytes] | None, key: bytes | None) -> AnyMessage | None:
        if frames is None or len(frames) != 4 or frames[0] != b"" or frames[1] != REQUEST_PROTOCOL:
            self._counters.reject("bad_envelope")
            return None
        try:
            reply = decode(frames[3])
        except MessageError as exc:
            self._counters.reject(exc.reason)
            return None
        self.liveness.beat(SERVER_PEER)
        if isinstance(reply, Heartbeat) and frames[2] != key:
            if self._on_heartbeat is not None:
                self._on_heartbeat(reply)
            return None
        if key is None or frames[2] != key:
            self._counters.dropped += 1
            return None
        self._counters.received += 1
        return reply

    def _server_changed(self, peer: str, alive: bool) -> None:
        log.info("server %s is %s", self.endpoint, "alive" if alive else "lost")
        if self._on_server_change is not None:
            self._on_server_change(alive)

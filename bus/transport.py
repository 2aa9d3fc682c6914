"""The transport's protocol: frame layouts, topics, endpoints and the socket plumbing both ends share.

Frame layouts (every payload is ``bus.codec.encode(message)``)::

    pub/sub         [topic, stamp, payload]
                    topic  b"<TypeName>/<lane or *>", e.g. b"VehiclePassage/L1-in"
                    stamp  8-byte publisher id + 8-byte big-endian sequence number per topic, so that a
                           subscriber can count messages the high-water mark dropped
    request         DEALER -> ROUTER  [b"", REQUEST_PROTOCOL, client_id, key, payload]
    reply           ROUTER -> DEALER  [b"", REQUEST_PROTOCOL, key, payload]
                    key    the request's idempotency key (``bus.reqrep.idempotency_key``)

The public classes live in ``bus.pubsub`` (``Publisher``, ``Subscriber``) and ``bus.reqrep`` (``Server``,
``Client``); keys and ``Security`` in ``bus.curve``.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import struct
import threading
import time
from collections.abc import Iterator
from typing import Final, Self

import zmq
from zmq.utils.monitor import recv_monitor_message

from bus.counters import Counters
from bus.curve import Security, start_authenticator
from bus.messages import Message

log = logging.getLogger(__name__)

REQUEST_PROTOCOL: Final = b"SGRR1"
STAMP: Final = struct.Struct(">8sQ")
MAX_TOPIC_BYTES: Final = 160
MAX_FRAME_BYTES: Final = 8 * 1024 * 1024
"""libzmq disconnects a peer whose frame exceeds this; smaller oversized payloads are refused by the codec."""
MAX_FRAMES: Final = 8
LINGER_MS: Final = 200
RECONNECT_IVL_MS: Final = 100
RECONNECT_IVL_MAX_MS: Final = 5_000
DEFAULT_HWM: Final = 10_000
MAX_BATCH: Final = 1000
"""Messages examined per receive call, so that a flood of bad ones cannot hold the caller past its timeout."""

_ID_BYTES = re.compile(rb"^[A-Za-z0-9_.:\-]{1,64}$")
_TCP = re.compile(r"^tcp://(?P<host>\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(?P<port>\*|[0-9]{1,5})$")
_IPC_PATH_MAX = 107
_SNDMORE = int(zmq.SNDMORE)  # plain ints: zmq's enum flags cost more than the send itself
_NOBLOCK = int(zmq.NOBLOCK)
_RCVMORE = int(zmq.RCVMORE)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_HANDSHAKE_EVENTS: dict[int, str] = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "auth",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "no_detail",
}


class TransportError(RuntimeError):
    """A transport operation that cannot go on (bind failed, request unanswered, socket closed)."""


class EndpointError(ValueError):
    """An endpoint string that is not ``tcp://host:port`` or ``ipc://path``."""


def validate_endpoint(endpoint: str, *, bind: bool) -> str:
    """Return ``endpoint`` if usable; wildcards (``*`` host or port) only when binding."""
    if endpoint.startswith("ipc://"):
        return _validate_ipc(endpoint)
    match = _TCP.match(endpoint)
    if match is None:
        raise EndpointError(f"endpoint must be tcp://host:port or ipc://path, got {endpoint!r}")
    host, port = match["host"], match["port"]
    if not bind and "*" in (host, port):
        raise EndpointError(f"wildcard '*' is only for binding, got {endpoint!r} to connect to")
    if port != "*" and not 1 <= int(port) <= 65535:
        raise EndpointError(f"port must be 1..65535, got {port} in {endpoint!r}")
    if host.startswith("["):
        _check_ipv6(host[1:-1], endpoint)
    return endpoint


def topic_name(message_type: type[Message]) -> str:
    """The type part of a topic: the wire tag without its version (``VehiclePassage``)."""
    return message_type.wire_tag().split(".", 1)[0]


def topic_for(message: Message) -> bytes:
    """The topic a message is published under: ``b"<TypeName>/<lane or *>"``."""
    return _topic(type(message), message.lane)


@functools.lru_cache(maxsize=4096)
def _topic(message_type: type[Message], lane: str | None) -> bytes:
    return f"{topic_name(message_type)}/{lane or '*'}".encode()


def subscription(message_type: type[Message], lane: str | None = None) -> bytes:
    """A subscription to one type, on every lane (``lane=None``) or one lane (``"*"``: site-wide only)."""
    return f"{topic_name(message_type)}/{lane or ''}".encode()


def topic_matches(topic: bytes, subscriptions: frozenset[bytes]) -> bool:
    """Exact matching on top of ZeroMQ's prefix filter, so that lane ``L1`` does not also get ``L10``."""
    for wanted in subscriptions:
        if topic == wanted or not wanted or (wanted.endswith(b"/") and topic.startswith(wanted)):
            return True
    return False


def is_id_bytes(value: bytes) -> bool:
    """Whether an envelope field (client id, key) is a short printable id."""
    return _ID_BYTES.match(value) is not None


def recv_frames(socket: zmq.Socket[bytes], max_frames: int = MAX_FRAMES) -> list[bytes] | None:
    """Read one waiting multipart message without blocking (``zmq.Again`` if none); ``None`` if it had too
    many frames.

    Surplus frames are read and thrown away, never stored, so a hostile peer cannot make us hold them.
    """
    frames = [socket.recv(_NOBLOCK)]
    overflow = False
    while socket.getsockopt(_RCVMORE):
        frame = socket.recv(_NOBLOCK)
        if len(frames) < max_frames:
            frames.append(frame)
        else:
            overflow = True
    return None if overflow else frames


def incoming(socket: zmq.Socket[bytes], deadline: float, budget: int = MAX_BATCH) -> Iterator[list[bytes] | None]:
    """Each message that arrives before the monotonic ``deadline``, at most ``budget`` of them.

    Reads first and polls only when nothing is waiting, so a busy socket costs no poll per message. ``None``
    stands for a message with too many frames.
    """
    while budget:
        try:
            frames = recv_frames(socket)
        except zmq.Again:
            if not socket.poll(timeout_ms(deadline)):
                return
            continue
        budget -= 1
        yield frames


def has_waiting(socket: zmq.Socket[bytes]) -> bool:
    """Whether a message can be read now, without a poll."""
    return bool(int(socket.getsockopt(_EVENTS)) & _POLLIN)


def send_frames(socket: zmq.Socket[bytes], frames: list[bytes], flags: int = 0) -> None:
    """Send one multipart message; a few times faster than ``send_multipart`` for small messages."""
    more = int(flags) | _SNDMORE
    for frame in frames[:-1]:
        socket.send(frame, more)
    socket.send(frames[-1], int(flags))


def timeout_ms(deadline: float) -> int:
    """Milliseconds left until a monotonic ``deadline``, never negative."""
    return max(0, int((deadline - time.monotonic()) * 1000))


def check_timeout(timeout_s: float) -> float:
    if not timeout_s >= 0:
        raise ValueError(f"timeout_s must be >= 0 (never wait forever), got {timeout_s}")
    return timeout_s


class SocketOwner:
    """One ZeroMQ socket with its own context, ZAP authenticator (when it binds with CURVE) and monitor.

    Each binding wrapper owns its context because a context has a single ZAP handler, and two servers may
    authorize different client keys. The monitor turns refused handshakes into counters.
    """

    def __init__(self, kind: int, security: Security, *, binds: bool) -> None:
        if not isinstance(security, Security):
            raise TypeError("security must be a bus.curve.Security (Security.curve(...) or .development())")
        self.security = security
        self._kind = kind
        self._binds = binds
        self._counters = Counters()
        self._connected: list[str] = []
        self._monitor_lock = threading.Lock()  # counters may be read from another thread than the owner's
        self._closed = True  # until the socket is open
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context(io_threads=1)
        self._authenticator = None
        try:
            if binds and security.is_curve and security.authorized_dir is not None:
                self._authenticator = start_authenticator(self._context, security.authorized_dir)
            self._socket, self._monitor = self._open_socket()
        except BaseException:
            self._end_context()
            raise
        self._closed = False

    @property
    def counters(self) -> Counters:
        """This socket's counters; safe to read from any thread."""
        self._drain_monitor()
        return self._counters

    def snapshot(self) -> dict[str, int]:
        return self.counters.snapshot()

    def close(self) -> None:
        """Close the socket (bounded linger), stop the authenticator and end the context."""
        with self._monitor_lock:
            if self._closed:
                return
            self._close_socket(LINGER_MS)
            self._closed = True
        self._end_context()

    def _end_context(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
        self._context.term()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open_socket(self) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
        socket = self._context.socket(self._kind)
        try:
            socket.linger = LINGER_MS
            socket.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            socket.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
            socket.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
            if self._binds:
                self.security.configure_server(socket)
            else:
                self.security.configure_client(socket)
            monitor = socket.get_monitor_socket(sum(_HANDSHAKE_EVENTS))
        except BaseException:
            socket.close(linger=0)  # or the context would wait for it forever
            raise
        return socket, monitor

    def _close_socket(self, linger_ms: int) -> None:
        """Close socket and monitor; the caller holds the monitor lock."""
        self._count_refusals()
        self._socket.disable_monitor()
        self._monitor.close(linger=0)
        self._socket.close(linger=linger_ms)

    def _reopen(self) -> None:
        """Lazy Pirate: drop the socket and whatever it queued, then start a fresh one."""
        with self._monitor_lock:
            self._close_socket(0)
            self._socket, self._monitor = self._open_socket()
        for endpoint in self._connected:
            self._connect(endpoint, remember=False)

    def _bind(self, endpoint: str) -> str:
        """Bind, and return the endpoint actually bound (the port ``*`` chose)."""
        validate_endpoint(endpoint, bind=True)
        self._socket.ipv6 = endpoint.startswith("tcp://[")
        try:
            self._socket.bind(endpoint)
        except zmq.ZMQError as exc:
            self.close()
            raise TransportError(f"cannot bind {endpoint}: {exc}") from None
        return str(self._socket.getsockopt_string(zmq.LAST_ENDPOINT))

    def _connect(self, endpoint: str, *, remember: bool = True) -> None:
        validate_endpoint(endpoint, bind=False)
        if endpoint.startswith("tcp://["):
            self._socket.ipv6 = True
        try:
            self._socket.connect(endpoint)
        except zmq.ZMQError as exc:
            self.close()
            raise TransportError(f"cannot connect to {endpoint}: {exc}") from None
        if remember:
            self._connected.append(endpoint)

    def _drain_monitor(self) -> None:
        with self._monitor_lock:
            if not self._closed:
                self._count_refusals()

    def _count_refusals(self) -> None:
        while has_waiting(self._monitor):
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except zmq.ZMQError:
                return
            reason = _HANDSHAKE_EVENTS.get(int(event["event"]))
            if reason is not None:
                self._counters.refuse(reason)
                first = self._counters.refused_by_reason[reason] == 1
                log.log(logging.WARNING if first else logging.DEBUG, "handshake failed (%s, %s) on %s",
                        reason, event["value"], event["endpoint"].decode(errors="replace"))


def _validate_ipc(endpoint: str) -> str:
    path = endpoint.removeprefix("ipc://")
    if not path or "\x00" in path:
        raise EndpointError(f"ipc endpoint needs a path, got {endpoint!r}")
    if len(path.encode()) > _IPC_PATH_MAX:
        raise EndpointError(f"ipc path is {len(path.encode())} bytes, the limit is {_IPC_PATH_MAX}: {path!r}")
    return endpoint


def _check_ipv6(host: str, endpoint: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise EndpointError(f"{host!r} is not an IPv6 address in {endpoint!r}") from None

"""The ZeroMQ transport on real sockets: pub/sub, request/reply, CURVE, heartbeats and hostile frames."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import zmq

from bus.codec import HEADER, MAX_MESSAGE_BYTES, encode
from bus.curve import Security, SecurityError, generate_keys, load_keypair, load_public
from bus.heartbeat import HeartbeatConfig, HeartbeatSender, PeerLiveness
from bus.messages import (
    GateAck,
    GateCommand,
    Heartbeat,
    Message,
    Telemetry,
    VehiclePassage,
    now_utc,
)
from bus.pubsub import Publisher, Subscriber
from bus.reqrep import Client, RequestTimeout, Server, idempotency_key
from bus.transport import (
    MAX_FRAME_BYTES,
    REQUEST_PROTOCOL,
    STAMP,
    EndpointError,
    TransportError,
    subscription,
    topic_for,
    topic_matches,
    validate_endpoint,
)
from tests.waiting import wait_for

DEV = Security.development()
ANY_PORT = "tcp://127.0.0.1:*"
FAST = HeartbeatConfig(interval_s=0.05, liveness=3)


# --- helpers -----------------------------------------------------------------------------------------------------

def passage(lane: str = "L1-in", passage_id: str = "p-1") -> VehiclePassage:
    t = now_utc()
    return VehiclePassage(passage_id=passage_id, lane_id=lane, direction="in", first_seen_utc=t - 5,
                          last_seen_utc=t)


def command(command_id: str = "cmd-1", action: str = "OPEN") -> GateCommand:
    return GateCommand(command_id=command_id, lane_id="L1-in", passage_id="p-1", action=action,  # type: ignore[arg-type]
                       seq=1, expires_utc=now_utc() + 10)


class GateHandler:
    """A stand-in gate controller: acknowledges every command and remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[Message] = []

    def __call__(self, request: Message) -> Message:
        self.calls.append(request)
        if not isinstance(request, GateCommand):
            raise TypeError(f"not a gate command: {request!r}")
        return GateAck(command_id=request.command_id, lane_id=request.lane_id, seq=request.seq, accepted=True,
                       state="opening")


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    """Run ``server`` in a thread of its own for the duration of the block."""
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(stop,), kwargs={"poll_s": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def sync(publish: Callable[[], object], subscriber: Subscriber) -> None:
    """Beat the slow joiner: publish a probe until one arrives, then drain the probes still in flight."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        publish()
        if subscriber.recv(0.05) is not None:
            while subscriber.recv(0.1) is not None:
                pass
            return
    raise AssertionError("subscriber never connected")


def drain(subscriber: Subscriber, timeout_s: float = 0.2) -> list[Message]:
    received: list[Message] = []
    while (message := subscriber.recv(timeout_s)) is not None:
        received.append(message)
    return received


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Keys for a server, an authorized client and a rogue; only the client's public key is authorized."""
    root = tmp_path_factory.mktemp("curve")
    generate_keys(root / "keys", ["server", "client", "rogue"])
    (root / "authorized").mkdir()
    shutil.copy(root / "keys" / "client.key", root / "authorized")
    return root


def server_security(keys) -> Security:
    return Security.curve(load_keypair(keys / "keys", "server"), authorized_dir=keys / "authorized")


def client_security(keys, name: str = "client") -> Security:
    return Security.curve(load_keypair(keys / "keys", name), server_public=load_public(keys / "keys", "server"))


# --- endpoints and topics ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("endpoint", "bind", "error"),
    [
        ("tcp://127.0.0.1:5555", False, None),
        ("tcp://127.0.0.1:*", True, None),
        ("tcp://*:5555", True, None),
        ("tcp://gate-1.local:5555", False, None),
        ("tcp://[::1]:5555", False, None),
        ("ipc:///run/smartgate/bus.ipc", False, None),
        ("tcp://127.0.0.1:*", False, "only for binding"),
        ("tcp://127.0.0.1:70000", False, "1..65535"),
        ("tcp://127.0.0.1:0", True, "1..65535"),
        ("tcp://127.0.0.1", False, "tcp://host:port"),
        ("udp://127.0.0.1:5555", False, "tcp://host:port"),
        ("tcp://[1::2::3]:5555", False, "IPv6"),
        ("ipc://", False, "needs a path"),
        ("ipc:///" + "x" * 200, False, "limit"),
        ("inproc://bus", False, "tcp://host:port"),
    ],
)
def test_validate_endpoint(endpoint, bind, error):
    if error is None:
        assert validate_endpoint(endpoint, bind=bind) == endpoint
    else:
        with pytest.raises(EndpointError, match=error):
            validate_endpoint(endpoint, bind=bind)


@pytest.mark.parametrize(
    ("message", "topic"),
    [
        (passage("L1-in"), b"VehiclePassage/L1-in"),
        (command(), b"GateCommand/L1-in"),
        (Telemetry(device_id="igv-7", kind="igv", state="idle"), b"Telemetry/*"),
        (Heartbeat(sender="gate", role="server", seq=1), b"Heartbeat/*"),
    ],
)
def test_topic_for(message, topic):
    assert topic_for(message) == topic


@pytest.mark.parametrize(
    ("topic", "subscriptions", "matches"),
    [
        (b"VehiclePassage/L1", {subscription(VehiclePassage, "L1")}, True),
        (b"VehiclePassage/L10", {subscription(VehiclePassage, "L1")}, False),
        (b"VehiclePassage/L10", {subscription(VehiclePassage)}, True),
        (b"Telemetry/*", {subscription(Telemetry, "*")}, True),
        (b"Telemetry/L1", {subscription(Telemetry, "*")}, False),
        (b"GateAck/L1", {subscription(VehiclePassage)}, False),
        (b"GateAck/L1", {b""}, True),
    ],
)
def test_topic_matches_exactly(topic, subscriptions, matches):
    assert topic_matches(topic, frozenset(subscriptions)) is matches


def test_wrappers_insist_on_an_explicit_security():
    with pytest.raises(TypeError, match="Security"):
        Publisher(ANY_PORT, None)  # type: ignore[arg-type]


def test_bad_endpoint_fails_before_opening_anything():
    with pytest.raises(EndpointError):
        Server("tcp://127.0.0.1", GateHandler(), DEV)
    with pytest.raises(EndpointError):
        Subscriber(["tcp://127.0.0.1:1", "nonsense"], [b""], DEV)


def test_bind_conflict_is_a_transport_error():
    with Publisher(ANY_PORT, DEV) as first, pytest.raises(TransportError, match="cannot bind"):
        Publisher(first.endpoint, DEV)


def test_subscriber_refuses_ambiguous_topics():
    with pytest.raises(ValueError, match="Type/"):
        Subscriber("tcp://127.0.0.1:1", [b"VehiclePassage"], DEV)


# --- publish/subscribe -------------------------------------------------------------------------------------------

def test_pubsub_filters_by_type_and_exact_lane():
    topics = [subscription(VehiclePassage, "L1"), subscription(Telemetry)]
    with Publisher(ANY_PORT, DEV) as pub, Subscriber(pub.endpoint, topics, DEV) as sub:
        sync(lambda: pub.publish(passage("L1", "probe")), sub)
        sent = [passage("L1", "a"), passage("L10", "b"), passage("L2", "c"), command(),
                Telemetry(device_id="igv-1", kind="igv", state="idle"),
                Telemetry(device_id="cam-1", kind="camera", state="ok", lane_id="L2")]
        for message in sent:
            pub.publish(message)
        received = drain(sub)
    assert [m.id for m in received] == [sent[0].id, sent[4].id, sent[5].id]
    assert received[0] == sent[0]


def test_pubsub_over_ipc_with_curve(keys, tmp_path):
    endpoint = f"ipc://{tmp_path}/events.ipc"
    with Publisher(endpoint, server_security(keys)) as pub, \
            Subscriber(endpoint, [subscription(VehiclePassage)], client_security(keys)) as sub:
        sync(lambda: pub.publish(passage(passage_id="probe")), sub)
        message = passage(passage_id="real")
        pub.publish(message)
        assert sub.recv(2.0) == message
        assert pub.snapshot()["refused"] == 0


def test_subscriber_reads_several_publishers():
    with Publisher(ANY_PORT, DEV) as first, Publisher(ANY_PORT, DEV) as second, \
            Subscriber([first.endpoint, second.endpoint], [subscription(VehiclePassage)], DEV) as sub:
        sync(lambda: first.publish(passage(passage_id="probe1")), sub)
        sync(lambda: second.publish(passage(passage_id="probe2")), sub)
        first.publish(passage(passage_id="one"))
        second.publish(passage(passage_id="two"))
        got = {m.passage_id for m in drain(sub) if isinstance(m, VehiclePassage)}
    assert got == {"one", "two"}


def test_subscriber_counts_messages_dropped_at_the_high_water_mark():
    with Publisher(ANY_PORT, DEV, hwm=10) as pub, Subscriber(pub.endpoint, [b""], DEV, hwm=10) as sub:
        sync(lambda: pub.publish(Telemetry(device_id="probe", kind="igv", state="x")), sub)
        before = sub.snapshot()
        flood = 20_000
        for i in range(flood):
            pub.publish(Telemetry(device_id="igv-1", kind="igv", state="moving", x=float(i)))
        drain(sub, 0.1)
        pub.publish(Telemetry(device_id="igv-1", kind="igv", state="last"))
        assert drain(sub, 0.5)
        after = sub.snapshot()
    received = after["received"] - before["received"]
    dropped = after["dropped"] - before["dropped"]
    assert dropped > 0
    assert received + dropped == flood + 1


def test_recv_never_blocks_past_its_timeout():
    with Publisher(ANY_PORT, DEV) as pub, Subscriber(pub.endpoint, [b""], DEV) as sub:
        started = time.monotonic()
        assert sub.recv(0.1) is None
        assert time.monotonic() - started < 0.5
        with pytest.raises(ValueError, match="never wait forever"):
            sub.recv(-1)


GOOD = encode(passage(passage_id="good"))
BAD_PAYLOADS = [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(GOOD[:-7], "truncated", id="truncated"),
    pytest.param(b"XX" + GOOD[2:], "bad_magic", id="bad-magic"),
    pytest.param(b"SG\x02" + GOOD[3:], "wrong_version", id="wrong-version"),
    pytest.param(HEADER + b"\xc1\xc1\xc1", "malformed", id="malformed"),
    pytest.param(HEADER + b"\x00" * MAX_MESSAGE_BYTES, "oversized", id="oversized"),
    pytest.param(encode(passage()).replace(b"VehiclePassage.v1", b"VehiclePassage.v9"), "unknown_type",
                 id="unknown-type"),
    pytest.param(encode(passage()).replace(b"L1-in", b"L1/in"), "invalid", id="invalid-field"),
]


@pytest.mark.parametrize(("payload", "reason"), BAD_PAYLOADS)
def test_subscriber_rejects_bad_payloads_and_keeps_going(payload, reason):
    _check_subscriber_rejects([topic_for(passage()), None, payload], reason)


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([b"VehiclePassage/L1-in", GOOD], "bad_envelope", id="missing-stamp"),
        pytest.param([b"VehiclePassage/L1-in", b"short", GOOD], "bad_envelope", id="short-stamp"),
        pytest.param([b"VehiclePassage/L1-in", None, GOOD, GOOD], "bad_envelope", id="extra-frame"),
        pytest.param([b"VehiclePassage/L1-in", None] + [b"x"] * 50, "bad_envelope", id="many-frames"),
        pytest.param([b"GateAck/L1-in", None, GOOD], "topic_mismatch", id="topic-mismatch"),
    ],
)
def test_subscriber_rejects_bad_envelopes_and_keeps_going(frames, reason):
    _check_subscriber_rejects(frames, reason)


def _check_subscriber_rejects(frames: list[bytes | None], reason: str) -> None:
    """Send ``frames`` raw from a plain PUB socket (``None`` stands for a valid stamp), then a good message."""
    context = zmq.Context()
    raw = context.socket(zmq.PUB)
    raw.linger = 0
    port = raw.bind_to_random_port("tcp://127.0.0.1")
    seq = iter(range(1, 1_000_000))

    def send(parts: list[bytes | None]) -> None:
        raw.send_multipart([STAMP.pack(b"rawpeer!", next(seq)) if part is None else part for part in parts])

    try:
        with Subscriber(f"tcp://127.0.0.1:{port}", [b""], DEV) as sub:
            sync(lambda: send([topic_for(passage()), None, encode(passage(passage_id="probe"))]), sub)
            send(frames)
            send([topic_for(passage()), None, GOOD])
            received = sub.recv(2.0)
            assert isinstance(received, VehiclePassage)
            assert received.passage_id == "good"
            assert sub.counters.rejected_by_reason == {reason: 1}
    finally:
        raw.close()
        context.term()


def test_subscriber_rejects_replayed_sequence_numbers():
    _check_subscriber_rejects_replay()


def _check_subscriber_rejects_replay() -> None:
    context = zmq.Context()
    raw = context.socket(zmq.PUB)
    raw.linger = 0
    port = raw.bind_to_random_port("tcp://127.0.0.1")
    topic = topic_for(passage())
    try:
        with Subscriber(f"tcp://127.0.0.1:{port}", [b""], DEV) as sub:
            sync(lambda: raw.send_multipart([topic, STAMP.pack(b"sync0000", 1), GOOD]), sub)
            raw.send_multipart([topic, STAMP.pack(b"replayer", 5), GOOD])
            raw.send_multipart([topic, STAMP.pack(b"replayer", 5), GOOD])
            raw.send_multipart([topic, STAMP.pack(b"replayer", 9), GOOD])
            assert len(drain(sub)) == 2
            assert sub.counters.rejected_by_reason == {"out_of_sequence": 1}
            assert sub.counters.dropped == 3
    finally:
        raw.close()
        context.term()


# --- request/reply -----------------------------------------------------------------------------------------------

def test_request_reply_round_trip():
    handler = GateHandler()
    with serving(Server(ANY_PORT, handler, DEV)) as server, Client(server.endpoint, DEV) as client:
        reply = client.request(command("cmd-7"), timeout_s=2.0)
        assert isinstance(reply, GateAck)
        assert (reply.command_id, reply.accepted) == ("cmd-7", True)
        assert client.snapshot()["received"] == 1
    assert len(handler.calls) == 1


def test_request_reply_over_ipc_with_curve(keys, tmp_path):
    handler = GateHandler()
    endpoint = f"ipc://{tmp_path}/gate.ipc"
    with serving(Server(endpoint, handler, server_security(keys))), \
            Client(endpoint, client_security(keys)) as client:
        reply = client.request(command("cmd-curve"), timeout_s=2.0)
    assert isinstance(reply, GateAck)
    assert reply.command_id == "cmd-curve"
    assert len(handler.calls) == 1


def test_duplicate_request_is_answered_from_the_cache():
    handler = GateHandler()
    with serving(Server(ANY_PORT, handler, DEV)) as server, Client(server.endpoint, DEV) as client:
        first = client.request(command("cmd-dup"), timeout_s=2.0)
        again = client.request(command("cmd-dup"), timeout_s=2.0)  # a new message, same command_id
        other = client.request(command("cmd-other"), timeout_s=2.0)
        assert wait_for(lambda: server.counters.duplicates == 1)
    assert again == first
    assert other != first
    assert [idempotency_key(c) for c in handler.calls] == ["cmd-dup", "cmd-other"]


def test_reply_cache_is_per_client():
    handler = GateHandler()
    with serving(Server(ANY_PORT, handler, DEV)) as server, \
            Client(server.endpoint, DEV, client_id="control-a") as a, \
            Client(server.endpoint, DEV, client_id="control-b") as b:
        a.request(command("same"), timeout_s=2.0)
        b.request(command("same"), timeout_s=2.0)
    assert len(handler.calls) == 2


def test_reply_cache_keeps_types_apart_and_forgets_the_oldest():
    calls: list[str] = []

    def echo(request: Message) -> Message:
        calls.append(f"{type(request).__name__}:{idempotency_key(request)}")
        return request

    same_key_other_type = Telemetry(id="cmd-a", device_id="d", kind="igv", state="s")
    with serving(Server(ANY_PORT, echo, DEV, cache_size=2)) as server, Client(server.endpoint, DEV) as client:
        for request in (command("cmd-a"), same_key_other_type, command("cmd-a"), command("cmd-b"),
                        command("cmd-c"), command("cmd-a")):
            client.request(request, timeout_s=2.0)
    assert calls == ["GateCommand:cmd-a", "Telemetry:cmd-a", "GateCommand:cmd-b", "GateCommand:cmd-c",
                     "GateCommand:cmd-a"]


def test_idempotency_key_prefers_command_id():
    cmd = command("cmd-9")
    assert idempotency_key(cmd) == "cmd-9"
    beat = Heartbeat(sender="x", role="y", seq=1)
    assert idempotency_key(beat) == beat.id


def test_timeout_retries_with_the_same_key_then_raises():
    with Server(ANY_PORT, GateHandler(), DEV) as gone:
        endpoint = gone.endpoint  # nothing listens there once closed
    with Client(endpoint, DEV) as client:
        started = time.monotonic()
        with pytest.raises(RequestTimeout) as caught:
            client.request(command("cmd-lost"), timeout_s=0.05, retries=2)
        elapsed = time.monotonic() - started
        counters = client.snapshot()
    assert caught.value.key == "cmd-lost"
    assert caught.value.attempts == 3
    assert (counters["timeouts"], counters["retries"], counters["sent"]) == (3, 2, 3)
    assert 0.14 < elapsed < 1.0


def test_handler_failure_is_counted_and_the_server_keeps_serving():
    handler = GateHandler()
    with serving(Server(ANY_PORT, handler, DEV)) as server, Client(server.endpoint, DEV) as client:
        with pytest.raises(RequestTimeout):
            client.request(Telemetry(device_id="d", kind="igv", state="s"), timeout_s=0.1, retries=0)
        assert isinstance(client.request(command("after"), timeout_s=2.0), GateAck)
        assert wait_for(lambda: server.counters.rejected_by_reason.get("handler_error") == 1)


def test_client_recovers_when_the_server_restarts():
    handler = GateHandler()
    first = Server(ANY_PORT, handler, DEV)
    endpoint = first.endpoint
    stop = threading.Event()

    def restart_later() -> None:
        time.sleep(0.3)
        with Server(endpoint, handler, DEV) as restarted:
            restarted.serve(stop, poll_s=0.02)

    with Client(endpoint, DEV) as client:
        with serving(first):
            assert isinstance(client.request(command("before"), timeout_s=2.0), GateAck)
        restarter = threading.Thread(target=restart_later)
        restarter.start()
        try:
            reply = client.request(command("during"), timeout_s=0.1, retries=30)
        finally:
            stop.set()
            restarter.join(timeout=5)
        counters = client.snapshot()
    assert isinstance(reply, GateAck)
    assert reply.command_id == "during"
    assert counters["retries"] >= 1
    assert [idempotency_key(c) for c in handler.calls] == ["before", "during"]


@pytest.mark.parametrize(("payload", "reason"), BAD_PAYLOADS)
def test_server_rejects_bad_payloads_and_keeps_serving(payload, reason):
    _check_server_rejects([b"", REQUEST_PROTOCOL, b"raw-client", b"cmd-bad", payload], reason)


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        pytest.param([b"", REQUEST_PROTOCOL, b"raw-client", b"k"], "bad_envelope", id="too-few-frames"),
        pytest.param([b"", REQUEST_PROTOCOL, b"raw-client", b"k"] + [b"x"] * 40, "bad_envelope", id="too-many"),
        pytest.param([b"x", REQUEST_PROTOCOL, b"raw-client", b"cmd-x", encode(command("cmd-x"))], "bad_envelope",
                     id="no-delimiter"),
        pytest.param([b"", b"SGRR9", b"raw-client", b"cmd-x", encode(command("cmd-x"))], "bad_protocol",
                     id="wrong-protocol"),
        pytest.param([b"", REQUEST_PROTOCOL, b"bad client\n", b"cmd-x", encode(command("cmd-x"))],
                     "bad_envelope", id="bad-client-id"),
        pytest.param([b"", REQUEST_PROTOCOL, b"raw-client", b"k" * 65, encode(command("cmd-x"))],
                     "bad_envelope", id="long-key"),
        pytest.param([b"", REQUEST_PROTOCOL, b"raw-client", b"not-its-key", encode(command("cmd-x"))],
                     "key_mismatch", id="key-mismatch"),
    ],
)
def test_server_rejects_bad_envelopes_and_keeps_serving(frames, reason):
    _check_server_rejects(frames, reason)


def _check_server_rejects(frames: list[bytes], reason: str) -> None:
    """Send ``frames`` raw from a plain DEALER, then a good request on the same connection."""
    handler = GateHandler()
    context = zmq.Context()
    raw = context.socket(zmq.DEALER)
    raw.linger = 0
    try:
        with serving(Server(ANY_PORT, handler, DEV)) as server:
            raw.connect(server.endpoint)
            raw.send_multipart(frames)
            raw.send_multipart([b"", REQUEST_PROTOCOL, b"raw-client", b"cmd-good", encode(command("cmd-good"))])
            assert raw.poll(2000)
            reply = raw.recv_multipart()
            assert reply[:3] == [b"", REQUEST_PROTOCOL, b"cmd-good"]
            assert wait_for(lambda: server.counters.rejected_by_reason == {reason: 1})
    finally:
        raw.close()
        context.term()
    assert [idempotency_key(c) for c in handler.calls] == ["cmd-good"]


def test_frame_beyond_the_hard_limit_drops_only_that_connection():
    handler = GateHandler()
    context = zmq.Context()
    raw = context.socket(zmq.DEALER)
    raw.linger = 0
    try:
        with serving(Server(ANY_PORT, handler, DEV)) as server, Client(server.endpoint, DEV) as client:
            raw.connect(server.endpoint)
            raw.send_multipart([b"", REQUEST_PROTOCOL, b"raw", b"k", b"\x00" * (MAX_FRAME_BYTES + 1)])
            time.sleep(0.1)
            assert isinstance(client.request(command("fine"), timeout_s=2.0), GateAck)
    finally:
        raw.close()
        context.term()
    assert len(handler.calls) == 1


def test_client_rejects_bad_replies_and_drops_stale_ones():
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    ack = GateAck(command_id="cmd-1", lane_id="L1-in", seq=1, accepted=True, state="opening")

    def answer_badly() -> None:
        if not router.poll(2000):
            return
        routing_id, *_ = router.recv_multipart()
        for frames in ([b"", REQUEST_PROTOCOL, b"cmd-1", b"garbage"],
                       [b"", b"SGRR9", b"cmd-1", encode(ack)],
                       [b"", REQUEST_PROTOCOL, b"cmd-old", encode(ack)],
                       [b"", REQUEST_PROTOCOL, b"cmd-1", encode(ack)]):
            router.send_multipart([routing_id, *frames])

    try:
        with Client(f"tcp://127.0.0.1:{port}", DEV) as client:
            server = threading.Thread(target=answer_badly)
            server.start()
            reply = client.request(command("cmd-1"), timeout_s=2.0, retries=0)
            server.join()
            counters = client.snapshot()
    finally:
        router.close()
        context.term()
    assert reply == ack
    assert counters["rejected.bad_magic"] == 1
    assert counters["rejected.bad_envelope"] == 1
    assert counters["dropped"] == 1


# --- CURVE -------------------------------------------------------------------------------------------------------

def test_unknown_client_key_is_refused_and_never_reaches_the_handler(keys):
    handler = GateHandler()
    with serving(Server(ANY_PORT, handler, server_security(keys))) as server:
        with Client(server.endpoint, client_security(keys, "rogue")) as rogue, pytest.raises(RequestTimeout):
            rogue.request(command("evil"), timeout_s=0.2, retries=1)
        assert wait_for(lambda: server.counters.refused_by_reason.get("auth", 0) >= 1)
        with Client(server.endpoint, client_security(keys)) as good:
            assert isinstance(good.request(command("fine"), timeout_s=2.0), GateAck)
    assert [idempotency_key(c) for c in handler.calls] == ["fine"]


def test_curve_roles_are_checked_when_a_socket_opens(keys):
    with pytest.raises(SecurityError, match="authorized_dir"):
        Server(ANY_PORT, GateHandler(), client_security(keys))
    with pytest.raises(SecurityError, match="server_public"):
        Client("tcp://127.0.0.1:1", server_security(keys))


def test_plain_client_gets_nothing_from_a_curve_server(keys):
    handler = GateHandler()
    with serving(Server(ANY_PORT, handler, server_security(keys))) as server:
        with Client(server.endpoint, DEV) as plain, pytest.raises(RequestTimeout):
            plain.request(command("plain"), timeout_s=0.2, retries=0)
        # The server sees a mechanism mismatch, or a bare failure when the client hangs up first.
        assert wait_for(lambda: server.counters.refused >= 1)
    assert handler.calls == []


def test_unknown_subscriber_key_receives_nothing(keys):
    with Publisher(ANY_PORT, server_security(keys)) as pub, \
            Subscriber(pub.endpoint, [b""], client_security(keys, "rogue")) as rogue:
        for _ in range(20):
            pub.publish(passage())
            assert rogue.recv(0.02) is None
        assert wait_for(lambda: pub.counters.refused >= 1)
        assert rogue.counters.refused_by_reason.get("auth", 0) >= 1


# --- heartbeats --------------------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("silence_s", "alive"),
    [(0.0, True), (2.9, True), (3.0, True), (3.01, False), (10.0, False)],
)
def test_peer_is_lost_after_liveness_intervals(silence_s, alive):
    clock = FakeClock()
    changes: list[tuple[str, bool]] = []
    peers = PeerLiveness(HeartbeatConfig(1.0, 3), lambda p, a: changes.append((p, a)), clock=clock)
    peers.beat("gate-1")
    clock.now += silence_s
    lost = peers.check()
    assert peers.is_alive("gate-1") is alive
    assert lost == ([] if alive else ["gate-1"])
    assert changes == [("gate-1", True)] + ([] if alive else [("gate-1", False)])


def test_lost_peer_comes_back_and_unknown_peers_are_not_alive():
    clock = FakeClock()
    changes: list[tuple[str, bool]] = []
    peers = PeerLiveness(HeartbeatConfig(1.0, 3), lambda p, a: changes.append((p, a)), clock=clock, max_peers=2)
    assert not peers.is_alive("nobody")
    peers.beat("a")
    clock.now += 5
    peers.check()
    peers.check()
    peers.beat("a")
    assert changes == [("a", True), ("a", False), ("a", True)]
    peers.beat("b")
    peers.beat("c")
    assert set(peers.state()) == {"b", "c"}


def test_heartbeat_sender_is_due_once_per_interval():
    clock = FakeClock()
    sender = HeartbeatSender("gate", "server", HeartbeatConfig(1.0, 3), clock=clock)
    assert sender.due()
    assert sender.next_message().seq == 1
    assert not sender.due()
    clock.now += 1.0
    assert sender.due()
    assert sender.next_message().seq == 2


@pytest.mark.parametrize(("interval", "liveness"), [(0.0, 3), (-1.0, 3), (1.0, 0)])
def test_heartbeat_config_is_checked(interval, liveness):
    with pytest.raises(ValueError, match="must be"):
        HeartbeatConfig(interval, liveness)


def test_client_detects_server_loss_and_return():
    changes: list[bool] = []
    server = Server(ANY_PORT, GateHandler(), DEV, heartbeat=FAST)
    endpoint = server.endpoint
    with Client(endpoint, DEV, heartbeat=FAST, on_server_change=changes.append) as client:
        with serving(server):
            assert wait_for(lambda: client.server_alive, step=client.tick)
        assert wait_for(lambda: not client.server_alive, step=client.tick)
        assert changes == [True, False]
        with serving(Server(endpoint, GateHandler(), DEV, heartbeat=FAST)):
            assert wait_for(lambda: client.server_alive, step=client.tick)
    assert changes == [True, False, True]


def test_server_detects_client_loss_without_calling_the_handler():
    changes: list[tuple[str, bool]] = []
    handler = GateHandler()
    server = Server(ANY_PORT, handler, DEV, heartbeat=FAST, on_peer_change=lambda p, a: changes.append((p, a)))
    with serving(server), Client(server.endpoint, DEV, client_id="control-1", heartbeat=FAST) as client:
        assert wait_for(lambda: ("control-1", True) in changes, step=client.tick)
        # The client stops ticking, as a crashed controller would.
        assert wait_for(lambda: ("control-1", False) in changes)
    assert changes == [("control-1", True), ("control-1", False)]
    assert handler.calls == []


def test_counters_snapshot_names():
    with Client("tcp://127.0.0.1:1", DEV) as client:
        snapshot = client.snapshot()
    assert set(snapshot) == {"sent", "received", "dropped", "rejected", "refused", "retries", "timeouts",
                             "duplicates"}

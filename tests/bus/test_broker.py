"""The event broker on real sockets: many publishers in, many subscribers out, CURVE on both sides."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import zmq

from bus.broker import Broker
from bus.curve import Security
from bus.messages import Telemetry, VehiclePassage
from bus.pubsub import Publisher, Subscriber
from bus.transport import subscription
from tests.bus.test_transport import client_security, drain, keys, passage, server_security, sync
from tests.waiting import wait_for

__all__ = ["keys"]  # the module-scoped CURVE key fixture, shared with test_transport


@pytest.fixture
def broker(keys) -> Iterator[Broker]:
    stop = threading.Event()
    with Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", server_security(keys)) as running:
        thread = threading.Thread(target=running.serve, args=(stop,), kwargs={"poll_s": 0.02}, daemon=True)
        thread.start()
        yield running
        stop.set()
        thread.join(5)


def test_messages_from_several_publishers_reach_every_subscriber(broker, keys):
    client = client_security(keys)
    with Publisher(broker.publish_endpoint, client, connect=True) as lane, \
            Publisher(broker.publish_endpoint, client, connect=True) as yard, \
            Subscriber(broker.subscribe_endpoint, [subscription(VehiclePassage)], client) as clearance, \
            Subscriber(broker.subscribe_endpoint, [b""], client) as journal:
        sync(lambda: lane.publish(passage(passage_id="probe")), clearance)
        sync(lambda: yard.publish(Telemetry(device_id="probe", kind="igv", state="idle")), journal)
        drain(journal)
        lane.publish(passage(passage_id="real"))
        yard.publish(Telemetry(device_id="igv-1", kind="igv", state="driving"))
        to_clearance = drain(clearance)
        to_journal = drain(journal)
    assert [m.passage_id for m in to_clearance if isinstance(m, VehiclePassage)] == ["real"]
    assert {type(m) for m in to_journal} == {VehiclePassage, Telemetry}
    assert broker.snapshot()["sent"] >= 2


def test_unknown_keys_are_refused_on_both_sides(broker, keys):
    rogue = client_security(keys, "rogue")
    with Publisher(broker.publish_endpoint, rogue, connect=True), \
            Subscriber(broker.subscribe_endpoint, [b""], rogue) as sub:
        assert sub.recv(0.3) is None
        assert wait_for(lambda: broker.snapshot()["refused"] >= 2)
    assert broker.snapshot()["sent"] == 0


def test_plain_publisher_cannot_inject_into_a_curve_broker(broker):
    with Publisher(broker.publish_endpoint, Security.development(), connect=True) as plain:
        for _ in range(20):
            plain.publish(passage(passage_id="spoofed"))
        assert wait_for(lambda: broker.snapshot()["refused"] >= 1)
    assert broker.snapshot()["received"] == 0


def test_bad_envelopes_are_counted_and_forwarding_goes_on(broker, keys):
    client = client_security(keys)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    raw = context.socket(zmq.PUB)
    client.configure_client(raw)
    raw.connect(broker.publish_endpoint)
    try:
        with Publisher(broker.publish_endpoint, client, connect=True) as pub, \
                Subscriber(broker.subscribe_endpoint, [b""], client) as sub:
            sync(lambda: pub.publish(passage(passage_id="probe")), sub)
            assert wait_for(lambda: (raw.send(b"one frame only"), broker.snapshot().get("rejected", 0) >= 1)[1])
            pub.publish(passage(passage_id="after"))
            got = [m.passage_id for m in drain(sub) if isinstance(m, VehiclePassage)]
    finally:
        raw.close(linger=0)
    assert "after" in got
    assert broker.snapshot()["rejected.bad_envelope"] >= 1

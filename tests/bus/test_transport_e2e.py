"""End to end: a real second process talks to this one over CurveZMQ, both pub/sub and request/reply.

The peer plays a gate controller: it answers ``GateCommand`` with ``GateAck`` on a CURVE ROUTER, subscribes to
this process's ``VehiclePassage`` events, and publishes a ``Telemetry`` for every passage it sees.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from bus.curve import Security, generate_keys, load_keypair, load_public
from bus.messages import GateAck, GateCommand, Message, Telemetry, VehiclePassage, now_utc
from bus.pubsub import Publisher, Subscriber
from bus.reqrep import Client, RequestTimeout, Server
from bus.transport import subscription

ANY_PORT = "tcp://127.0.0.1:*"


def gate_process(keys: Path, control_events: str, report: Connection, stop: Event) -> None:
    """The peer's main loop: serve commands and turn passages seen into telemetry until told to stop."""
    pair = load_keypair(keys / "keys", "gate")
    served = Security.curve(pair, authorized_dir=keys / "authorized")
    handled: list[str] = []

    def acknowledge(request: Message) -> Message:
        if not isinstance(request, GateCommand):
            raise TypeError("the gate takes only GateCommand")
        handled.append(request.command_id)
        return GateAck(command_id=request.command_id, lane_id=request.lane_id, seq=len(handled),
                       accepted=True, state="opening")

    listening = Security.curve(pair, server_public=load_public(keys / "keys", "control"))
    with Server(ANY_PORT, acknowledge, served) as server, Publisher(ANY_PORT, served) as telemetry, \
            Subscriber(control_events, [subscription(VehiclePassage)], listening) as passages:
        report.send((server.endpoint, telemetry.endpoint))
        while not stop.is_set():
            server.poll(0.01)
            seen = passages.recv(0.01)
            if isinstance(seen, VehiclePassage):
                telemetry.publish(Telemetry(device_id="gate-1", kind="barrier", state=f"saw:{seen.passage_id}",
                                            lane_id=seen.lane_id))
        report.send((server.snapshot(), handled))


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate_keys(tmp_path / "keys", ["control", "gate", "stranger"])
    (tmp_path / "authorized").mkdir()
    for name in ("control", "gate"):
        shutil.copy(tmp_path / "keys" / f"{name}.key", tmp_path / "authorized")
    return tmp_path


@pytest.mark.slow
def test_two_processes_exchange_messages_over_curve(keys):
    control = load_keypair(keys / "keys", "control")
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    stop = context.Event()
    events = Publisher(ANY_PORT, Security.curve(control, authorized_dir=keys / "authorized"))
    peer = context.Process(target=gate_process, args=(keys, events.endpoint, sender, stop), daemon=True)
    peer.start()
    try:
        assert receiver.poll(30), "the gate process did not start"
        gate_endpoint, telemetry_endpoint = receiver.recv()
        to_gate = Security.curve(control, server_public=load_public(keys / "keys", "gate"))
        with Client(gate_endpoint, to_gate, client_id="control-1") as client, \
                Subscriber(telemetry_endpoint, [subscription(Telemetry, "L1-in")], to_gate) as telemetry:
            _check_commands(client)
            _check_events(events, telemetry)
            assert client.snapshot()["refused"] == 0
        stranger = Security.curve(load_keypair(keys / "keys", "stranger"),
                                  server_public=load_public(keys / "keys", "gate"))
        with Client(gate_endpoint, stranger) as intruder, pytest.raises(RequestTimeout):
            intruder.request(_command("intruder"), timeout_s=0.2, retries=0)
        stop.set()
        assert receiver.poll(10)
        gate_counters, handled = receiver.recv()
    finally:
        stop.set()
        peer.join(timeout=10)
        if peer.is_alive():
            peer.kill()
        events.close()
    assert peer.exitcode == 0
    assert handled == ["cmd-1", "cmd-2"]  # neither the retry nor the intruder reached the handler
    assert gate_counters["duplicates"] == 1
    assert gate_counters["refused.auth"] >= 1


def _command(command_id: str) -> GateCommand:
    return GateCommand(command_id=command_id, lane_id="L1-in", passage_id="p-1", action="OPEN", seq=1,
                       expires_utc=now_utc() + 10)


def _check_commands(client: Client) -> None:
    first = client.request(_command("cmd-1"), timeout_s=5.0)
    assert isinstance(first, GateAck)
    assert (first.command_id, first.accepted, first.seq) == ("cmd-1", True, 1)
    assert client.request(_command("cmd-1"), timeout_s=5.0) == first  # a retry: answered from the cache
    second = client.request(_command("cmd-2"), timeout_s=5.0)
    assert isinstance(second, GateAck)
    assert second.seq == 2  # the handler ran once per command, not once per request


def _check_events(events: Publisher, telemetry: Subscriber) -> None:
    """Publish passages until the gate's telemetry reports one seen (both subscriptions start late)."""
    deadline = time.monotonic() + 20
    count = 0
    while time.monotonic() < deadline:
        count += 1
        t = now_utc()
        events.publish(VehiclePassage(passage_id=f"p-{count}", lane_id="L1-in", direction="in",
                                      first_seen_utc=t - 4, last_seen_utc=t))
        seen = telemetry.recv(0.1)
        if isinstance(seen, Telemetry):
            assert seen.state.startswith("saw:p-")
            assert seen.device_id == "gate-1"
            return
    raise AssertionError("no telemetry came back from the gate process")

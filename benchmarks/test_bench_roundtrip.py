"""Bus transport speed: GateCommand→GateAck round trip and VehiclePassage pub/sub throughput, CURVE and plain.

The gate controller runs in a separate process (as in the field), so the figure includes both processes'
Python work, the loopback TCP hop and, for CURVE, the encryption; it is not flattered by sharing one GIL or
penalised by it. Each command is new (a fresh ``command_id``), so the server's handler runs every time instead
of its reply cache answering.
"""

from __future__ import annotations

import multiprocessing
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from bus.curve import Security, generate_keys, load_keypair, load_public
from bus.messages import GateAck, GateCommand, Message, new_id, now_utc
from bus.pubsub import Publisher, Subscriber
from bus.reqrep import Client, Server
from bus.transport import subscription
from tests.bus.samples import vehicle_passage

ANY_PORT = "tcp://127.0.0.1:*"
BATCH = 2000


@dataclass(frozen=True)
class Link:
    """Both ends' security for one mode."""

    server: Security
    client: Security


def _links(keys: Path) -> dict[str, Link]:
    curve = Link(Security.curve(load_keypair(keys / "keys", "gate"), authorized_dir=keys / "authorized"),
                 Security.curve(load_keypair(keys / "keys", "control"),
                                server_public=load_public(keys / "keys", "gate")))
    plain = Link(Security.development(), Security.development())
    return {"curve": curve, "plain": plain}


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Path:
    root: Path = tmp_path_factory.mktemp("bench-keys")
    generate_keys(root / "keys", ["gate", "control"])
    (root / "authorized").mkdir()
    shutil.copy(root / "keys" / "control.key", root / "authorized")
    return root


def _acknowledge(request: Message) -> Message:
    if not isinstance(request, GateCommand):
        raise TypeError("the gate takes only GateCommand")
    return GateAck(command_id=request.command_id, lane_id=request.lane_id, seq=request.seq, accepted=True,
                   state="opening")


def gate_server(keys: Path, mode: str, report: Connection, stop: Event) -> None:
    """The gate controller process: answer commands until told to stop."""
    with Server(ANY_PORT, _acknowledge, _links(keys)[mode].server) as server:
        report.send(server.endpoint)
        while not stop.is_set():
            server.poll(0.05)


@pytest.fixture(params=["curve", "plain"])
def gate_client(request, keys) -> Iterator[Client]:
    mode = request.param
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    stop = context.Event()
    process = context.Process(target=gate_server, args=(keys, mode, sender, stop), daemon=True)
    process.start()
    try:
        if not receiver.poll(30):
            raise RuntimeError("the gate server process did not start")
        with Client(receiver.recv(), _links(keys)[mode].client) as client:
            yield client
    finally:
        stop.set()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()


def _command() -> GateCommand:
    return GateCommand(command_id=new_id(), lane_id="in-1", passage_id="in-1-000042", action="OPEN", seq=1,
                       expires_utc=now_utc() + 10)


@pytest.mark.benchmark(group="bus-roundtrip")
def test_gate_command_round_trip(benchmark, gate_client: Client) -> None:
    gate_client.request(_command(), timeout_s=10.0)  # warm-up: connection and CURVE handshake
    reply = benchmark.pedantic(lambda: gate_client.request(_command(), timeout_s=5.0, retries=0),
                               rounds=500, warmup_rounds=20)
    assert isinstance(reply, GateAck)
    assert gate_client.snapshot()["timeouts"] == 0


@pytest.mark.parametrize("mode", ["curve", "plain"])
@pytest.mark.benchmark(group="bus-pubsub")
def test_vehicle_passage_publish_throughput(benchmark, keys, mode: str) -> None:
    link = _links(keys)[mode]
    passage = vehicle_passage()
    with Publisher(ANY_PORT, link.server) as pub, \
            Subscriber(pub.endpoint, [subscription(type(passage))], link.client) as sub:
        while sub.recv(0.05) is None:  # the slow joiner: wait until the subscription is in place
            pub.publish(passage)
        while sub.recv(0.1) is not None:
            pass

        def publish_and_receive_batch() -> int:
            for _ in range(BATCH):
                pub.publish(passage)
            return sum(1 for _ in range(BATCH) if sub.recv(5.0) is not None)

        received = benchmark.pedantic(publish_and_receive_batch, rounds=5, warmup_rounds=1)
        assert received == BATCH
        assert sub.snapshot()["dropped"] == 0
    benchmark.extra_info["messages_per_round"] = BATCH
    if benchmark.stats is not None:
        benchmark.extra_info["messages_per_s"] = round(BATCH / benchmark.stats.stats.median)

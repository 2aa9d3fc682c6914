"""The gate link on real ZeroMQ sockets with CURVE on loopback: GateLink (clearance side) against the gate
controller (field side) and against misbehaving stand-ins for it."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
import pytest
import zmq

from bus.codec import decode, encode
from bus.curve import Security, generate_keys, load_keypair, load_public, start_authenticator
from bus.heartbeat import HeartbeatConfig
from bus.messages import GateAck, GateCommand, Heartbeat, Telemetry, now_utc
from bus.reqrep import Client
from bus.transport import REQUEST_PROTOCOL
from control.barrier import Barrier, BarrierConfig, BarrierState, Motion, SimulatedBarrier
from control.gate_controller import ControllerConfig, GateController, GateControllerServer
from control.gate_link import GateLink, GateLinkConfig, GateReplyError, GateTimeoutError
from tests.waiting import wait_for

LANE = "in-1"
ANY_PORT = "tcp://127.0.0.1:*"
SLOW = HeartbeatConfig(interval_s=0.5, liveness=3)
"""For tests that do not tick heartbeats: the link stays alive for 1.5 s of silence."""
FAST = HeartbeatConfig(interval_s=0.1, liveness=3)
TRAVEL = BarrierConfig(opening_s=0.1, closing_s=0.1, clear_delay_s=0.05, max_open_s=30.0)


# --- keys and helpers -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The controller's key, the clearance service's (the only one authorized) and a rogue's."""
    root = tmp_path_factory.mktemp("gate-keys")
    generate_keys(root / "keys", [f"gate-{LANE}", "clearance", "rogue"])
    (root / "authorized").mkdir()
    shutil.copy(root / "keys" / "clearance.key", root / "authorized")
    return root


def server_security(keys) -> Security:
    return Security.curve(load_keypair(keys / "keys", f"gate-{LANE}"), authorized_dir=keys / "authorized")


def client_security(keys, name: str = "clearance") -> Security:
    return Security.curve(load_keypair(keys / "keys", name), server_public=load_public(keys / "keys", f"gate-{LANE}"))


@dataclass
class Gate:
    """A running controller: its server (in a thread), controller, barrier and simulated boom."""

    server: GateControllerServer
    controller: GateController
    barrier: Barrier
    sim: SimulatedBarrier
    thread: threading.Thread
    halt: threading.Event

    def stop(self) -> None:
        """Stop serving and close the socket, as a controller that goes away."""
        self.halt.set()
        self.thread.join(timeout=5)
        self.server.close()

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def counters(self) -> dict[str, int]:
        return self.server.snapshot()

    def drives(self, motion: Motion) -> int:
        return self.sim.drives.count(motion)


@contextlib.contextmanager
def gate(keys, *, heartbeat: HeartbeatConfig = SLOW, barrier: Barrier | None = None) -> Iterator[Gate]:
    sim = SimulatedBarrier(opening_s=TRAVEL.opening_s, closing_s=TRAVEL.closing_s)
    barrier = barrier or Barrier(sim, TRAVEL)
    controller = GateController(ControllerConfig(lane_id=LANE), barrier)
    server = GateControllerServer(controller, ANY_PORT, server_security(keys), heartbeat=heartbeat)
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(stop,), kwargs={"tick_s": 0.01}, daemon=True)
    thread.start()
    running = Gate(server, controller, barrier, sim, thread, stop)
    try:
        yield running
    finally:
        running.stop()


def link_to(endpoint: str, keys, *, name: str = "clearance", client_id: str = "clearance-in-1",
            lane: str = LANE, heartbeat: HeartbeatConfig = SLOW, timeout_s: float = 1.0, retries: int = 2,
            last_seq: int = 0) -> GateLink:
    config = GateLinkConfig(timeout_s=timeout_s, retries=retries, heartbeat=heartbeat)
    return GateLink(lane, endpoint, client_security(keys, name), client_id=client_id, last_seq=last_seq,
                    config=config)


def command(seq: int = 1, *, command_id: str = "cmd-1", lane: str = LANE, action: str = "OPEN",
            expires_in_s: float = 10.0, age_s: float = 0.0) -> GateCommand:
    now = now_utc()
    return GateCommand(command_id=command_id, lane_id=lane, passage_id="p-1", action=action,  # type: ignore[arg-type]
                       seq=seq, expires_utc=now + expires_in_s, ts_utc=now - age_s)


# --- the ordinary path ------------------------------------------------------------------------------------------

def test_open_is_acked_and_the_barrier_opens(keys):
    with gate(keys) as g, link_to(g.endpoint, keys) as link:
        ack = link.send("OPEN", "p-1", 10.0)
        assert (ack.accepted, ack.state, ack.lane_id, ack.seq, ack.error) == (True, "opening", LANE, 1, None)
        assert wait_for(lambda: g.barrier.state is BarrierState.OPEN)
        close = link.send("CLOSE", "p-1", 10.0)
        assert (close.accepted, close.state, close.seq) == (True, "closing", 2)
        assert wait_for(lambda: g.barrier.state is BarrierState.CLOSED)
        counters = g.counters()
    assert (counters["commands"], counters["executed"], counters["refused"], counters["faults"]) == (2, 2, 0, 0)
    assert g.controller.last_seq == 2


def test_hold_keeps_the_barrier_closed(keys):
    with gate(keys) as g, link_to(g.endpoint, keys) as link:
        ack = link.send("HOLD", "p-1", 10.0)
        assert (ack.accepted, ack.state) == (True, "closed")
        assert g.barrier.held
        assert g.drives(Motion.UP) == 0


def test_seq_increases_per_lane_from_the_callers_start():
    with GateLink(LANE, "tcp://127.0.0.1:1", Security.development(), last_seq=41) as link:
        first = link.prepare("OPEN", "p-1", 5.0)
        second = link.prepare("CLOSE", "p-1", 5.0, command_id="c-2")
        assert (first.seq, second.seq, link.last_seq) == (42, 43, 43)
        assert first.command_id != second.command_id
        assert second.command_id == "c-2"
        assert first.expires_utc == pytest.approx(first.ts_utc + 5.0)
        with pytest.raises(ValueError, match="expires_in_s"):
            link.prepare("OPEN", "p-1", 0.0)
        with pytest.raises(ValueError, match="lane"):
            link.deliver(command(lane="out-1"))
    with pytest.raises(ValueError, match="last_seq"):
        GateLink(LANE, "tcp://127.0.0.1:1", Security.development(), last_seq=-1)


# --- duplicates: answered from a cache, executed once -------------------------------------------------------------

def test_duplicate_from_the_same_client_is_answered_from_the_cache(keys):
    with gate(keys) as g, link_to(g.endpoint, keys) as link:
        cmd = link.prepare("OPEN", "p-1", 10.0)
        first = link.deliver(cmd)
        again = link.deliver(cmd)
        assert again == first
        assert g.drives(Motion.UP) == 1
        counters = g.counters()
    assert counters["executed"] == 1
    assert counters["bus.duplicates"] == 1  # the bus's reply cache (same client id) answered it


def test_duplicate_across_reconnects_is_answered_from_the_command_id_cache(keys):
    with gate(keys) as g:
        with link_to(g.endpoint, keys, client_id="clearance-run-1") as link:
            cmd = link.prepare("OPEN", "p-1", 10.0)
            first = link.deliver(cmd)
        # The clearance service restarts (new client id) and delivers its journalled command again, rebuilt.
        rebuilt = msgspec.structs.replace(cmd, id="rebuilt-message", ts_utc=now_utc())
        for run, again in (("run-2", cmd), ("run-3", rebuilt)):
            with link_to(g.endpoint, keys, client_id=f"clearance-{run}", last_seq=cmd.seq) as link:
                assert link.deliver(again) == first
        assert wait_for(lambda: g.barrier.state is BarrierState.OPEN)
        counters = g.counters()
    assert g.drives(Motion.UP) == 1
    assert (counters["executed"], counters["duplicates"], counters["refused"]) == (1, 2, 0)


def test_command_id_reused_for_another_command_is_refused(keys):
    with gate(keys) as g, link_to(g.endpoint, keys) as link, \
            link_to(g.endpoint, keys, client_id="clearance-other") as other:
        assert link.deliver(command(1, command_id="same")).accepted
        with pytest.raises(GateReplyError, match="not the ack"):  # the bus cache answers with the first ack
            link.deliver(command(2, command_id="same", action="CLOSE"))
        ack = other.deliver(command(2, command_id="same", action="CLOSE"))
        assert not ack.accepted
        assert ack.error is not None
        assert ack.error.startswith("command_id_reuse")
        assert g.counters()["refused.command_id_reuse"] == 1
        assert g.drives(Motion.DOWN) == 0


# --- refusals ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"seq": 5, "command_id": "expired", "expires_in_s": -1.0}, "expired"),
        ({"seq": 5, "command_id": "too-far", "expires_in_s": 3600.0}, "expiry_too_far"),
        ({"seq": 5, "command_id": "old", "age_s": 120.0}, "stale"),
        ({"seq": 5, "command_id": "future", "age_s": -60.0}, "stale"),
        ({"seq": 3, "command_id": "behind"}, "out_of_order"),
        ({"seq": 4, "command_id": "equal"}, "out_of_order"),
    ],
    ids=["expired", "expiry-too-far", "stale", "from-the-future", "seq-behind", "seq-equal"],
)
def test_bad_commands_are_refused_and_counted(keys, bad, reason):
    bad = command(**bad)  # made now, not at collection: a suite running long before it must not age it
    with gate(keys) as g, link_to(g.endpoint, keys) as link:
        assert link.deliver(command(4, command_id="first")).accepted
        assert wait_for(lambda: g.barrier.state is BarrierState.OPEN)
        ups = g.drives(Motion.UP)
        ack = link.deliver(msgspec.structs.replace(bad, ts_utc=bad.ts_utc))
        assert (ack.accepted, ack.command_id, ack.seq) == (False, bad.command_id, bad.seq)
        assert ack.error is not None
        assert ack.error.startswith(reason)
        counters = g.counters()
        assert counters[f"refused.{reason}"] == 1
        assert counters["executed"] == 1
        assert g.drives(Motion.UP) == ups
        assert link.deliver(bad) == ack  # a retry gets the same refusal
        if reason == "expired":  # out of step: the barrier returns closed and a fault is reported
            assert wait_for(lambda: g.barrier.state is BarrierState.CLOSED)
            assert counters["faults.command_expired"] == 1
            assert "command_expired" in g.controller.faults
            assert link.deliver(command(6, command_id="fresh")).accepted
            assert g.controller.faults == {}
        else:
            assert g.barrier.state is BarrierState.OPEN


def test_command_for_another_lane_is_refused(keys):
    with gate(keys) as g, link_to(g.endpoint, keys, lane="out-1") as wrong:
        with pytest.raises(GateReplyError, match="not the ack"):
            wrong.send("OPEN", "p-1", 10.0)
        counters = g.counters()
    assert counters["refused.wrong_lane"] == 1
    assert counters["executed"] == 0
    assert g.drives(Motion.UP) == 0


def test_messages_that_are_not_commands_are_refused_and_counted(keys):
    with gate(keys) as g, Client(g.endpoint, client_security(keys)) as client:
        reply = client.request(Telemetry(device_id="x", kind="service", state="up"), timeout_s=1.0)
        assert isinstance(reply, GateAck)
        assert not reply.accepted
        assert reply.error is not None
        assert reply.error.startswith("malformed")
        assert g.counters()["refused.malformed"] == 1


def test_garbage_frames_are_counted_and_the_controller_keeps_serving(keys):
    with gate(keys) as g:
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        try:
            raw = context.socket(zmq.DEALER)
            raw.linger = 0
            client_security(keys).configure_client(raw)
            raw.connect(g.endpoint)
            raw.send_multipart([b"", REQUEST_PROTOCOL, b"raw", b"k-1", b"SG\x01\xff\xfe garbage"])
            raw.send_multipart([b"", b"NOTPROTO", b"raw", b"k-2", encode(command())])
            raw.send_multipart([b"just one frame"])
            assert wait_for(lambda: g.counters()["bus.rejected"] >= 3)
            raw.close()
        finally:
            context.term()
        with link_to(g.endpoint, keys) as link:
            assert link.send("OPEN", "p-1", 10.0).accepted
        counters = g.counters()
    assert counters["bus.rejected.bad_protocol"] == 1
    assert counters["executed"] == 1


@pytest.mark.parametrize("who", ["rogue", "plain"])
def test_unauthenticated_client_gets_nothing_and_is_refused(keys, who):
    with gate(keys) as g:
        security = client_security(keys, "rogue") if who == "rogue" else Security.development()
        config = GateLinkConfig(timeout_s=0.2, retries=1, heartbeat=SLOW)
        with GateLink(LANE, g.endpoint, security, config=config) as intruder:
            with pytest.raises(GateTimeoutError) as caught:
                intruder.send("OPEN", "p-evil", 10.0)
            assert caught.value.attempts == 2
            assert not intruder.controller_alive
        assert wait_for(lambda: g.counters()["bus.refused"] >= 1)
        counters = g.counters()
    assert (counters["commands"], counters["executed"]) == (0, 0)
    assert g.drives(Motion.UP) == 0


# --- fail safe --------------------------------------------------------------------------------------------------

def test_link_sees_the_controller_and_its_status(keys):
    with contextlib.ExitStack() as stack:
        g = stack.enter_context(gate(keys, heartbeat=FAST))
        link = stack.enter_context(link_to(g.endpoint, keys, heartbeat=FAST))
        assert not link.controller_alive
        assert link.controller_fault
        assert wait_for(lambda: link.controller_status is not None, step=link.tick)
        status = link.controller_status
        assert status is not None
        assert (status.status, status.detail, status.role) == ("ok", "state=closed", "server")
        assert status.sender.startswith("gate-")
        assert link.controller_alive
        assert not link.controller_fault
        g.stop()  # the controller goes away
        assert wait_for(lambda: not link.controller_alive, step=link.tick)
        assert link.controller_fault


def test_heartbeat_loss_closes_the_barrier_and_reports_a_fault(keys):
    with gate(keys, heartbeat=FAST) as g, link_to(g.endpoint, keys, heartbeat=FAST) as link:
        assert wait_for(lambda: link.controller_alive, step=link.tick)
        assert link.send("OPEN", "p-1", 10.0).accepted
        assert wait_for(lambda: g.barrier.state is BarrierState.OPEN, step=link.tick)
        # The clearance side falls silent (it stops ticking, as a crashed process would).
        assert wait_for(lambda: g.barrier.state is BarrierState.CLOSED)
        assert "link_lost" in g.controller.faults
        assert g.counters()["faults.link_lost"] == 1
        # It comes back: the first heartbeat it gets reports the fault, and a fresh command clears it.
        assert wait_for(lambda: link.controller_status is not None and link.controller_status.status == "fault",
                        step=link.tick)
        status = link.controller_status
        assert status is not None
        assert status.detail.startswith("state=closed; faults=link_lost")
        refused = link.deliver(command(1, command_id="replayed-old-seq"))
        assert refused.error is not None
        assert "[faults: link_lost]" in refused.error
        assert link.send("CLOSE", "p-1", 10.0).accepted
        assert g.controller.faults == {}
        assert wait_for(lambda: link.controller_status is not None and link.controller_status.status == "ok",
                        step=link.tick)


def test_heartbeat_loss_with_a_vehicle_under_the_boom_holds_open_until_clear(keys):
    with gate(keys, heartbeat=FAST) as g, link_to(g.endpoint, keys, heartbeat=FAST) as link:
        assert wait_for(lambda: link.controller_alive, step=link.tick)
        assert link.send("OPEN", "p-1", 10.0).accepted
        assert wait_for(lambda: g.barrier.state is BarrierState.OPEN, step=link.tick)
        g.sim.vehicle_present = True
        assert wait_for(lambda: "link_lost" in g.controller.faults)
        time.sleep(0.3)
        assert g.barrier.state is BarrierState.OPEN
        g.sim.vehicle_present = False
        assert wait_for(lambda: g.barrier.state is BarrierState.CLOSED)
    assert not g.sim.lowered_on_vehicle


def test_barrier_fault_refuses_open_until_a_close_clears_it(keys):
    with gate(keys, heartbeat=FAST) as g, link_to(g.endpoint, keys, heartbeat=FAST) as link:
        g.sim.fail_reads = True
        assert wait_for(lambda: g.barrier.state is BarrierState.FAULT)
        g.sim.fail_reads = False
        ack = link.send("OPEN", "p-1", 10.0)
        assert (ack.accepted, ack.state) == (False, "fault")
        assert ack.error is not None
        assert ack.error.startswith("barrier_fault: barrier fault: sensor read failed")
        assert wait_for(lambda: link.controller_status is not None and link.controller_status.status == "fault",
                        step=link.tick)
        close = link.send("CLOSE", "p-1", 10.0)
        assert (close.accepted, close.state) == (True, "closed")
        assert link.send("OPEN", "p-1", 10.0).accepted
        counters = g.counters()
    assert (counters["faults.barrier"], counters["refused.barrier_fault"]) == (1, 1)


def test_internal_error_refuses_the_command_and_faults_the_barrier(keys):
    class BrokenBarrier(Barrier):
        def command(self, action):
            raise RuntimeError("bug")

    sim = SimulatedBarrier(opening_s=0.1, closing_s=0.1)
    with gate(keys, barrier=BrokenBarrier(sim, TRAVEL)) as g, link_to(g.endpoint, keys) as link:
        ack = link.send("OPEN", "p-1", 10.0)
        assert (ack.accepted, ack.state) == (False, "fault")
        assert ack.error is not None
        assert ack.error.startswith("internal_error")
        counters = g.counters()
    assert (counters["faults.internal_error"], counters["refused.internal_error"]) == (1, 1)
    assert sim.drives.count(Motion.UP) == 0


# --- controllers that misbehave ---------------------------------------------------------------------------------

class FakeController:
    """A bare CURVE ROUTER that answers as told: ``never``, ``drop_first`` (the first request of each key goes
    unanswered), ``late_first`` (answered after the link gave up on it) or ``twice`` (every answer sent twice)."""

    def __init__(self, keys, mode: str) -> None:
        self.mode = mode
        self.keys_seen: list[bytes] = []
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._auth = start_authenticator(self._context, keys / "authorized")
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.linger = 0
        server_security(keys).configure_server(self._socket)
        port = self._socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakeController:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()
        self._auth.stop()
        self._context.term()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._socket.poll(20):
                continue
            routing, _, _, _, key, payload = self._socket.recv_multipart()
            request = decode(payload)
            if isinstance(request, Heartbeat) or not isinstance(request, GateCommand):
                continue
            first = key not in self.keys_seen
            self.keys_seen.append(key)
            if self.mode == "never" or (self.mode == "drop_first" and first):
                continue
            if self.mode == "late_first" and first:
                time.sleep(0.3)
            ack = encode(GateAck(command_id=request.command_id, lane_id=request.lane_id, seq=request.seq,
                                 accepted=True, state="opening"))
            for _ in range(2 if self.mode == "twice" else 1):
                with contextlib.suppress(zmq.ZMQError):
                    self._socket.send_multipart([routing, b"", REQUEST_PROTOCOL, key, ack])


def test_controller_that_never_answers_gives_a_typed_timeout(keys):
    with FakeController(keys, "never") as fake, link_to(fake.endpoint, keys, timeout_s=0.1, retries=2) as link:
        started = time.monotonic()
        with pytest.raises(GateTimeoutError) as caught:
            link.send("OPEN", "p-1", 10.0)
        elapsed = time.monotonic() - started
        assert wait_for(lambda: len(fake.keys_seen) == 3)
    error = caught.value
    assert (error.attempts, error.command.seq, error.command.action) == (3, 1, "OPEN")
    assert fake.keys_seen == [error.command.command_id.encode()] * 3  # every retry with the same key
    assert elapsed < 1.0
    assert link.snapshot()["timeouts"] == 3


def test_retry_after_a_dropped_reply_uses_the_same_key(keys):
    with FakeController(keys, "drop_first") as fake, link_to(fake.endpoint, keys, timeout_s=0.1) as link:
        ack = link.send("OPEN", "p-1", 10.0)
        assert ack.accepted
        assert fake.keys_seen == [ack.command_id.encode()] * 2
        assert link.snapshot()["retries"] == 1


def test_controller_that_answers_late_is_retried_and_the_late_answer_ignored(keys):
    # The first answer comes at 0.3 s, after the first attempt gave up (0.2 s), during the second.
    with FakeController(keys, "late_first") as fake, link_to(fake.endpoint, keys, timeout_s=0.2) as link:
        ack = link.send("OPEN", "p-1", 10.0)
        assert ack.accepted
        assert fake.keys_seen == [ack.command_id.encode()] * 2
        second = link.send("CLOSE", "p-1", 10.0)
        assert (second.seq, second.command_id) != (ack.seq, ack.command_id)


def test_controller_that_answers_twice_does_not_confuse_the_next_command(keys):
    with FakeController(keys, "twice") as fake, link_to(fake.endpoint, keys, timeout_s=0.5) as link:
        first = link.send("OPEN", "p-1", 10.0)
        second = link.send("CLOSE", "p-1", 10.0)
        third = link.send("OPEN", "p-2", 10.0)
        assert [a.seq for a in (first, second, third)] == [1, 2, 3]
        assert len({a.command_id for a in (first, second, third)}) == 3
        assert len(fake.keys_seen) == 3
        assert wait_for(lambda: link.snapshot()["dropped"] >= 2, step=link.tick)

"""Crash safety with real processes: `smartgate clearance` killed with SIGKILL between every two steps of the
journal-before-send protocol, restarted on the same SQLite journal, against a real `smartgate gate-controller` and
a real site broker. Every journalled decision must end exactly once at the gate: one command, one journalled ack,
executed by the controller at most once (its log names each command it executes).

The kill points come from ``SMARTGATE_CRASH_AT`` (test only, read by `smartgate.services.clearance`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq

from bus.codec import encode
from bus.curve import Security, generate_keys, load_keypair, load_public
from bus.journal import Journal
from bus.messages import ClearanceDecision, GateAck, Message, OperatorAction
from bus.pubsub import Publisher
from bus.transport import STAMP
from control.clearance import AFTER_ACK, AFTER_JOURNAL, AFTER_RECEIVE, AFTER_SEND, command_id_for
from control.decide import decision_id_for
from smartgate import cli
from smartgate.services.clearance import CRASH_ENV, ClearanceOptions, ClearanceService, crash_hook_from_env
from smartgate.site import Site, load_site
from smartgate.wiring import event_publisher
from tests.control.test_clearance import declaration, passage, settled_once
from tests.ports import loopback_endpoints
from tests.smartgate.test_site import endpoints, write_site
from tests.waiting import wait_for as _wait_for

LANE = "in-1"
REPO = Path(__file__).resolve().parents[2]
HEARTBEAT_S = "0.2"


@dataclass
class Plant:
    """A site with its broker and lane in-1's gate controller running, a journal path and a publisher."""

    root: Path
    site_file: Path
    site: Site
    keys: Path
    journal_url: str
    controller_log: Path
    publisher: Publisher

    def start_clearance(self, crash_at: str | None = None, *, journal: str | None = None,
                        validity_s: float = 20.0) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.root / f"clearance-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
        if crash_at is not None:
            env[CRASH_ENV] = crash_at
        command = [sys.executable, "-m", "smartgate.cli", "--log-level", "INFO", "clearance", "--site",
                   str(self.site_file), "--keys", str(self.keys), "--journal", journal or self.journal_url,
                   "--heartbeat-s", HEARTBEAT_S, "--command-validity-s", str(validity_s), "--operator", "nguyen.an"]
        with log.open("wb") as out:
            return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT), log

    def executed(self, command_id: str) -> int:
        """How many times the controller executed this command (it logs each execution once)."""
        return len(re.findall(rf"executed \w+ {re.escape(command_id)} ", self.controller_log.read_text()))


def _start(args: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    root = tmp_path_factory.mktemp("clearance-crash")
    feed = root / "declarations.jsonl"
    lines = [declaration("DEC-GREEN"), declaration("DEC-YELLOW", tractor="12C-567.89", channel="yellow")]
    feed.write_bytes(b"".join(msgspec.json.encode(d) + b"\n" for d in lines))

    def loopback(data: dict[str, Any]) -> None:
        loopback_endpoints(endpoints(data))
        data["declarations"] = {"feed": {"kind": "jsonl_file", "path": str(feed)}, "from_bus": True}

    site_file = write_site(root, loopback)
    keys = root / "var" / "keys"
    assert cli.main(["keys", "--site", str(site_file), "--dir", str(keys)]) == 0
    site = load_site(site_file, data_dir=root / "var")
    controller_log = root / "controller.log"
    children = [
        _start(["-m", "smartgate.services", "broker", "--site", str(site_file), "--data-dir", str(root / "var")],
               root / "broker.log", REPO),
        _start(["-m", "smartgate.cli", "--log-level", "INFO", "gate-controller", "--lane", LANE, "--site",
                str(site_file), "--keys", str(keys), "--heartbeat-s", HEARTBEAT_S, "--travel-s", "0.2"],
               controller_log, REPO),
    ]
    publisher = event_publisher(site, "demo")
    try:
        yield Plant(root, site_file, site, keys, f"sqlite:///{root / 'journal.sqlite'}", controller_log, publisher)
    finally:
        publisher.close()
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def keep_publishing(plant: Plant, message: Message, until: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    """Publish ``message`` again and again (a subscriber may join late) until ``until()`` holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        plant.publisher.publish(message)
        if until():
            return True
        time.sleep(0.2)
    return until()


def wait_for_slow(condition: Callable[[], bool]) -> bool:
    """Processes start and recover slowly on a loaded machine: up to 15 s."""
    return _wait_for(condition, timeout_s=15.0, poll_s=0.05)


def killed(process: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: process.poll() is not None


def journal_has(plant: Plant, key: str) -> bool:
    with Journal.open(plant.journal_url) as journal:
        return journal.get(key) is not None


def acked(plant: Plant, decision_id: str) -> GateAck | None:
    with Journal.open(plant.journal_url) as journal:
        acks = [e.message for e in journal.query(types=GateAck, limit=10_000)
                if isinstance(e.message, GateAck) and e.message.command_id == command_id_for(decision_id)]
    assert len(acks) <= 1
    return acks[0] if acks else None


def assert_died(process: subprocess.Popen[bytes], log: Path) -> None:
    assert wait_for_slow(killed(process)), log.read_text()
    assert process.returncode == -signal.SIGKILL, log.read_text()


def test_sigkill_between_every_two_steps_ends_each_decision_exactly_once(plant: Plant) -> None:
    truck = passage("p-crash-1")
    decision, command = decision_id_for("p-crash-1"), command_id_for(decision_id_for("p-crash-1"))

    # Killed after taking the passage in, before anything was journalled: the passage is not lost to its lane,
    # which sends it again (as the lane reader's publisher would be asked to) and it is decided once.
    process, log = plant.start_clearance(f"{AFTER_RECEIVE}:1")
    assert keep_publishing(plant, truck, killed(process)), log.read_text()
    assert_died(process, log)
    assert not journal_has(plant, decision)

    # Killed with decision and command journalled, nothing sent.
    process, log = plant.start_clearance(f"{AFTER_JOURNAL}:1")
    assert keep_publishing(plant, truck, killed(process)), log.read_text()
    assert_died(process, log)
    assert journal_has(plant, decision)
    assert acked(plant, decision) is None
    assert plant.executed(command) == 0

    # Restarted: recovery sends the journalled command (unchanged); killed after the controller executed it,
    # before the ack was journalled.
    process, log = plant.start_clearance(f"{AFTER_SEND}:1")
    assert_died(process, log)
    assert acked(plant, decision) is None
    assert plant.executed(command) == 1

    # Restarted: the same command again, answered from the cache, not executed again; killed after the ack.
    process, log = plant.start_clearance(f"{AFTER_ACK}:1")
    assert_died(process, log)
    ack = acked(plant, decision)
    assert ack is not None
    assert ack.accepted
    assert plant.executed(command) == 1
    assert "re-delivering OPEN" in log.read_text()

    # Restarted for good: nothing is sent again; a replayed passage is dropped; a HOLD and its override go through.
    process, log = plant.start_clearance()
    try:
        held = passage("p-crash-2", tractor="12C-567.89")
        assert keep_publishing(plant, held, lambda: acked(plant, decision_id_for("p-crash-2")) is not None), \
            log.read_text()
        plant.publisher.publish(truck)
        action = OperatorAction(action_id="act-crash-1", operator="nguyen.an", action="OVERRIDE_OPEN",
                                reason="seal checked by hand", passage_id="p-crash-2", lane_id=LANE)
        assert keep_publishing(plant, action, lambda: acked(plant, "ovr-act-crash-1") is not None), log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, log.read_text()
    with Journal.open(plant.journal_url) as journal:
        acks = settled_once(journal)
        outcomes = [e.message.outcome for e in journal.query(types=ClearanceDecision)
                    if isinstance(e.message, ClearanceDecision)]
    assert outcomes[-3:] == ["OPEN", "HOLD", "OPEN"]
    assert all(ack.accepted for ack in acks.values())
    for passage_decision in (decision, decision_id_for("p-crash-2"), "ovr-act-crash-1"):
        assert plant.executed(command_id_for(passage_decision)) == 1
    assert "dropped: replayed" in log.read_text()


def test_a_command_outliving_its_validity_while_down_is_reported_expired(plant: Plant) -> None:
    truck = passage("p-crash-3")
    decision = decision_id_for("p-crash-3")
    process, log = plant.start_clearance(f"{AFTER_JOURNAL}:1", validity_s=0.5)
    assert keep_publishing(plant, truck, killed(process)), log.read_text()
    assert_died(process, log)
    time.sleep(0.6)

    process, log = plant.start_clearance()
    try:
        assert wait_for_slow(lambda: acked(plant, decision) is not None), log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    ack = acked(plant, decision)
    assert ack is not None
    assert not ack.accepted
    assert ack.error is not None
    assert ack.error.startswith("expired")
    assert plant.executed(command_id_for(decision)) == 0


def test_without_a_journal_the_service_runs_and_commands_no_barrier(plant: Plant) -> None:
    unusable = plant.root / "not-a-journal"
    unusable.mkdir()
    process, log = plant.start_clearance(journal=str(unusable))
    try:
        refused = lambda: "refused: no journal" in log.read_text()  # noqa: E731
        assert keep_publishing(plant, passage("p-crash-4"), refused), log.read_text()
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    text = log.read_text()
    assert "journal unavailable, no barrier will be commanded" in text
    assert "is a directory" in text
    assert plant.executed(command_id_for(decision_id_for("p-crash-4"))) == 0


def test_bad_and_unauthenticated_bus_messages_are_counted_and_dropped(plant: Plant) -> None:
    unusable = plant.root / "no-journal-here"
    unusable.mkdir(exist_ok=True)
    service = ClearanceService(plant.site, ClearanceOptions(journal_url=str(unusable)))
    generate_keys(plant.root / "rogue", ["rogue"])
    rogue_security = Security.curve(load_keypair(plant.root / "rogue", "rogue"),
                                    server_public=load_public(plant.keys, "broker"))
    demo_security = Security.curve(load_keypair(plant.keys, "demo"), server_public=load_public(plant.keys, "broker"))
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    raw, rogue = context.socket(zmq.PUB), context.socket(zmq.PUB)
    demo_security.configure_client(raw)
    rogue_security.configure_client(rogue)
    for sock in (raw, rogue):
        sock.linger = 0
        sock.connect(plant.site.bus.endpoints.publish)
    topic, good = b"VehiclePassage/" + LANE.encode(), encode(passage("p-crash-5"))
    frames = {"bad_magic": b"XX\x01junk", "truncated": b"SG", "topic_mismatch": encode(OperatorAction(
        action_id="a", operator="o", action="OVERRIDE_OPEN", reason="why not", passage_id="p"))}
    try:
        def send_all(seq: int) -> None:
            rogue.send_multipart([topic, STAMP.pack(b"rogue-id", seq), good])
            for i, payload in enumerate(frames.values()):
                raw.send_multipart([topic, STAMP.pack(b"raw-pub1", seq * 10 + i), payload])
            raw.send_multipart([topic, STAMP.pack(b"raw-pub1", seq * 10), good])  # a replayed stamp

        def counted() -> bool:
            send_all(int(time.monotonic() * 10))
            service.step(0.1)
            metrics = service.metrics()
            return all(metrics.get(f"sub.rejected.{reason}", 0) > 0 for reason in [*frames, "out_of_sequence"])

        assert wait_for_slow(counted), service.metrics()
        # The rogue key never got through the broker: nothing but the junk above reached the service.
        assert service.counters["refused.journal_unavailable"] == 0
        assert service.engine is None
    finally:
        raw.close()
        rogue.close()
        context.term()
        service.close()


@pytest.mark.parametrize(("value", "points"), [
    ("", None), (AFTER_SEND, [AFTER_SEND]), (f"{AFTER_ACK}:2", [AFTER_ACK, AFTER_ACK]),
    ("nowhere", ValueError), (f"{AFTER_ACK}:0", ValueError), (f"{AFTER_ACK}:x", ValueError),
])
def test_the_test_only_crash_switch(value: str, points: list[str] | type[Exception] | None) -> None:
    """The hook dies (SIGKILL) at the n-th visit of its point; checked here without dying, by counting visits."""
    if points is ValueError:
        with pytest.raises(ValueError, match=CRASH_ENV):
            crash_hook_from_env({CRASH_ENV: value})
        return
    hook = crash_hook_from_env({CRASH_ENV: value})
    if points is None:
        assert hook is None
        return
    assert hook is not None
    hook(AFTER_RECEIVE)  # other points never kill
    assert isinstance(points, list)
    for _ in points[:-1]:
        hook(points[-1])  # earlier visits of the point do not kill either


def test_clearance_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site_file = write_site(tmp_path)
    assert cli.main(["clearance", "--site", str(site_file), "--heartbeat-s", "0"]) == 2
    assert cli.main(["clearance", "--site", str(site_file), "--command-validity-s", "31"]) == 2
    assert "--command-validity-s within (0, 30]" in capsys.readouterr().err

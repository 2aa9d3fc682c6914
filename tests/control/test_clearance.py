"""The clearance engine against a real gate controller (CURVE, loopback, in a thread) and a real SQLite journal:
journal before send, recovery after a crash at every step, expiry, a silent controller, and a journal that fails."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bus.curve import Security, generate_keys, load_keypair, load_public
from bus.heartbeat import HeartbeatConfig
from bus.journal import Journal, JournalEntry, JournalError
from bus.journal_sql import create_engine, parse_url
from bus.messages import (
    ClearanceDecision,
    ContainerRead,
    Declaration,
    DeclarationRejected,
    DeclarationSubmitted,
    DeclaredContainer,
    GateAck,
    GateCommand,
    Heartbeat,
    Message,
    PlateRead,
    SealRead,
    VehiclePassage,
)
from control.barrier import Barrier, BarrierConfig, BarrierState, SimulatedBarrier
from control.clearance import (
    AFTER_ACK,
    AFTER_JOURNAL,
    AFTER_SEND,
    NO_ACK_ERROR,
    ClearanceConfig,
    ClearanceEngine,
    command_id_for,
    feed_submission,
    gate_action_for,
)
from control.clearance_rules import ClearanceRules
from control.gate_controller import ControllerConfig, GateController, GateControllerServer
from control.gate_link import GateLink, GateLinkConfig
from control.operator_actions import OperatorPolicy

LANE = "in-1"
RULES = ClearanceRules()
LINK = GateLinkConfig(timeout_s=0.3, retries=0, heartbeat=HeartbeatConfig(interval_s=0.5, liveness=3))
TRAVEL = BarrierConfig(opening_s=0.05, closing_s=0.05, clear_delay_s=0.02, max_open_s=30.0)
CONTAINER, SEAL = "MSKU3605161", "VN1234567"
CHANNEL_OUTCOME = {"green": "OPEN", "yellow": "HOLD", "red": "INSPECT"}


# --- samples ------------------------------------------------------------------------------------------------------


def declaration(declaration_id: str = "DEC-1", tractor: str = "12C-123.45", channel: str = "green") -> Declaration:
    now = time.time()
    return Declaration(declaration_id=declaration_id, customs_declaration_no="305512345678", tractor_plate=tractor,
                       trailer_plate="12R-041.39", containers=(DeclaredContainer(number=CONTAINER, seal_number=SEAL),),
                       channel=channel, valid_from_utc=now - 3600, valid_until_utc=now + 3600)  # type: ignore[arg-type]


def passage(passage_id: str, tractor: str = "12C-123.45", lane: str = LANE, age_s: float = 0.0) -> VehiclePassage:
    """A truck read perfectly: with ``declaration(tractor=...)`` in the book it is decided by the channel alone."""
    now = time.time() - age_s
    return VehiclePassage(
        passage_id=passage_id, lane_id=lane, direction="in", first_seen_utc=now - 5, last_seen_utc=now - 1, ts_utc=now,
        plates=(PlateRead(text=tractor, role="tractor", confidence=0.97),
                PlateRead(text="12R-041.39", role="trailer", confidence=0.97)),
        containers=(ContainerRead(number=CONTAINER, check_digit_ok=True, confidence=0.95, position="single"),),
        seals=(SealRead(container_number=CONTAINER, state="present", number=SEAL, confidence=0.9),))


# --- a real controller, keys and journals ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clearance-keys")
    generate_keys(root / "keys", [f"gate-{LANE}", "clearance"])
    (root / "authorized").mkdir()
    shutil.copy(root / "keys" / "clearance.key", root / "authorized")
    return root


@dataclass
class Gate:
    """A gate controller serving in a thread, as the field side of one lane."""

    server: GateControllerServer
    controller: GateController
    thread: threading.Thread
    halt: threading.Event

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def gate(keys: Path) -> Iterator[Gate]:
    barrier = Barrier(SimulatedBarrier(opening_s=TRAVEL.opening_s, closing_s=TRAVEL.closing_s), TRAVEL)
    controller = GateController(ControllerConfig(lane_id=LANE), barrier)
    security = Security.curve(load_keypair(keys / "keys", f"gate-{LANE}"), authorized_dir=keys / "authorized")
    server = GateControllerServer(controller, "tcp://127.0.0.1:*", security, heartbeat=LINK.heartbeat)
    halt = threading.Event()
    thread = threading.Thread(target=server.serve, args=(halt,), kwargs={"tick_s": 0.01}, daemon=True)
    thread.start()
    started = Gate(server, controller, thread, halt)
    yield started
    started.stop()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite") as opened:
        yield opened


def free_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


class Crash(BaseException):
    """Raised by a test hook to stop the engine between two steps, as SIGKILL would."""


def crash_at(point: str) -> Callable[[str], None]:
    def hook(at: str) -> None:
        if at == point:
            raise Crash(point)
    return hook


def make_engine(journal: Journal, keys: Path, endpoint: str, *, hook: Callable[[str], None] | None = None,
                config: ClearanceConfig | None = None, operators: tuple[str, ...] = (),
                declarations: tuple[Declaration, ...] = ()) -> ClearanceEngine:
    """An engine for one lane, recovered from ``journal``; ``declarations`` are taken in first."""
    security = Security.curve(load_keypair(keys / "keys", "clearance"),
                              server_public=load_public(keys / "keys", f"gate-{LANE}"))

    def open_link(lane: str, last_seq: int) -> GateLink:
        return GateLink(lane, endpoint, security, client_id=f"clearance-{lane}", last_seq=last_seq, config=LINK)

    engine = ClearanceEngine(journal, open_link, [LANE], RULES, config=config,
                             policy=OperatorPolicy(frozenset(operators)), hook=hook)
    engine.recover()
    for item in declarations:
        engine.take_declaration(feed_submission(item))
    return engine


def crash_on_the_way(engine: ClearanceEngine, item: VehiclePassage) -> None:
    engine.take_passage(item)
    drain(engine)


def drain(engine: ClearanceEngine, timeout_s: float = 5.0) -> list[Message]:
    """Pump until nothing is waiting (or the time is up); the acks journalled."""
    acks: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while engine.pending() and time.monotonic() < deadline:
        acks += engine.pump()
        time.sleep(0.01)
    return acks


def passage_id_of(entry: JournalEntry) -> str:
    assert isinstance(entry.message, VehiclePassage)
    return entry.key


def journalled(journal: Journal, kind: type[Message]) -> list[Any]:
    return [entry.message for entry in journal.query(types=kind, limit=10_000)]


def settled_once(journal: Journal) -> dict[str, GateAck]:
    """Every journalled decision has exactly one command and exactly one ack; the acks by passage."""
    decisions: list[ClearanceDecision] = journalled(journal, ClearanceDecision)
    commands: list[GateCommand] = journalled(journal, GateCommand)
    acks: list[GateAck] = journalled(journal, GateAck)
    assert sorted(c.command_id for c in commands) == sorted(command_id_for(d.decision_id) for d in decisions)
    assert sorted(a.command_id for a in acks) == sorted(c.command_id for c in commands)
    by_command = {a.command_id: a for a in acks}
    return {d.passage_id: by_command[command_id_for(d.decision_id)] for d in decisions}


# --- the protocol ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "action"), [("OPEN", "OPEN"), ("HOLD", "HOLD"), ("INSPECT", "HOLD"),
                                                 ("REJECT", "HOLD")])
def test_only_open_opens_the_barrier(outcome: str, action: str) -> None:
    assert gate_action_for(outcome) == action  # type: ignore[arg-type]


@pytest.mark.parametrize("channel", ["green", "yellow", "red", None])
def test_each_decision_is_journalled_with_its_command_before_it_is_sent(journal: Journal, keys: Path,
                                                                      gate: Gate, channel: str | None) -> None:
    seen: dict[str, Any] = {}

    def check(point: str) -> None:
        seen[point] = (gate.controller.counters.commands, len(journalled(journal, GateAck)))

    books = (declaration(channel=channel),) if channel else ()
    engine = make_engine(journal, keys, gate.endpoint, hook=check, declarations=books)
    published = engine.take_passage(passage("p-1"))

    decision, command = published
    assert isinstance(decision, ClearanceDecision)
    assert isinstance(command, GateCommand)
    assert decision.outcome == (CHANNEL_OUTCOME[channel] if channel else "REJECT")
    assert command.action == gate_action_for(decision.outcome)
    assert (command.command_id, command.seq, command.passage_id) == (command_id_for(decision.decision_id), 1, "p-1")
    # One transaction (one recorded_utc): passage, decision and command stored together, the controller not asked.
    entries = journal.query(types=[VehiclePassage, ClearanceDecision, GateCommand])
    assert [e.key for e in entries] == [passage_id_of(entries[0]), decision.id, command.id]
    assert len({e.recorded_utc for e in entries}) == 1
    assert seen[AFTER_JOURNAL] == (0, 0)

    acks = drain(engine)
    assert seen[AFTER_SEND] == (1, 0)  # delivered, ack not yet journalled
    assert seen[AFTER_ACK] == (1, 1)
    (ack,) = acks
    assert isinstance(ack, GateAck)
    assert ack.accepted
    assert ack.command_id == command.command_id
    assert settled_once(journal)["p-1"] == ack
    assert gate.controller.counters.executed == 1
    engine.close()


@pytest.mark.parametrize("point", [AFTER_JOURNAL, AFTER_SEND, AFTER_ACK])
def test_after_a_crash_each_decision_ends_exactly_once_at_the_gate(journal: Journal, keys: Path, gate: Gate,
                                                                   point: str) -> None:
    first = make_engine(journal, keys, gate.endpoint, hook=crash_at(point), declarations=(declaration(),))
    with pytest.raises(Crash):
        crash_on_the_way(first, passage("p-1"))
    first.close()
    executed_before = gate.controller.counters.executed

    second = make_engine(journal, keys, gate.endpoint)
    assert second.pending() == (0 if point == AFTER_ACK else 1)
    assert second.take_passage(passage("p-1")) == []  # a replayed passage is not decided again
    assert second.counters["dropped.replayed"] == 1
    drain(second)

    ack = settled_once(journal)["p-1"]
    assert ack.accepted
    assert ack.state in ("opening", "open")
    assert gate.controller.counters.executed == 1
    assert executed_before == (0 if point == AFTER_JOURNAL else 1)
    # The re-delivery after a crash past the send is answered from a cache (the bus's, same client id), not run.
    answered_from_cache = gate.controller.counters.duplicates + gate.server.snapshot()["bus.duplicates"]
    assert answered_from_cache == (1 if point == AFTER_SEND else 0)
    # The lane's seq goes on from the journal: the next command is newer than every one the controller ran.
    _, command = second.take_passage(passage("p-2"))
    assert isinstance(command, GateCommand)
    assert command.seq == 2
    drain(second)
    assert settled_once(journal)["p-2"].accepted
    second.close()


def test_a_command_journalled_then_expired_is_refused_and_reported_never_executed(journal: Journal, keys: Path,
                                                                                 gate: Gate) -> None:
    short = ClearanceConfig(command_validity_s=0.2)
    first = make_engine(journal, keys, gate.endpoint, hook=crash_at(AFTER_JOURNAL), config=short,
                        declarations=(declaration(),))
    with pytest.raises(Crash):
        first.take_passage(passage("p-1"))
    first.close()
    time.sleep(0.3)

    second = make_engine(journal, keys, gate.endpoint)
    drain(second)
    ack = settled_once(journal)["p-1"]
    assert not ack.accepted
    assert ack.error is not None
    assert ack.error.startswith("expired")
    assert gate.controller.counters.executed == 0
    assert gate.controller.barrier.state is BarrierState.CLOSED
    second.close()


def test_a_silent_controller_gets_the_same_command_until_it_expires_then_it_is_reported(journal: Journal,
                                                                                       keys: Path) -> None:
    config = ClearanceConfig(command_validity_s=0.3, ack_grace_s=0.2, retry_s=0.05, max_retry_s=0.1)
    engine = make_engine(journal, keys, free_endpoint(), config=config, declarations=(declaration(),))
    engine.take_passage(passage("p-1"))
    assert engine.pump() == []
    assert engine.pending() == 1

    drain(engine, timeout_s=5.0)
    ack = settled_once(journal)["p-1"]
    assert (ack.accepted, ack.state) == (False, "fault")
    assert ack.error is not None
    assert ack.error.startswith(NO_ACK_ERROR)
    assert engine.counters["gate.no_answer"] >= 2
    engine.close()


def test_a_controller_gone_silent_is_not_waited_on_and_its_command_is_reported_at_expiry(
        journal: Journal, keys: Path, gate: Gate) -> None:
    config = ClearanceConfig(command_validity_s=1.0, ack_grace_s=0.2, retry_s=0.05, max_retry_s=0.1)
    engine = make_engine(journal, keys, gate.endpoint, config=config, declarations=(declaration(),))
    link = engine.links[LANE]
    deadline = time.monotonic() + 5
    while link.controller_status is None and time.monotonic() < deadline:
        engine.tick()
        time.sleep(0.02)
    assert link.controller_alive
    gate.stop()
    while not link.controller_lost and time.monotonic() < deadline + 5:
        engine.tick()
        time.sleep(0.05)
    assert link.controller_lost

    engine.take_passage(passage("p-1"))
    started = time.monotonic()
    assert engine.pump() == []
    assert time.monotonic() - started < LINK.timeout_s / 2  # no delivery attempt that would block the loop
    assert engine.pending() == 1
    assert engine.counters["gate.controller_lost"] >= 1
    assert engine.counters["gate.no_answer"] == 0

    drain(engine, timeout_s=5.0)
    ack = settled_once(journal)["p-1"]
    assert (ack.accepted, ack.state) == (False, "fault")
    assert ack.error is not None
    assert ack.error.startswith(NO_ACK_ERROR)
    engine.close()


def test_a_replayed_stale_or_unknown_lane_passage_is_dropped_and_counted(journal: Journal, keys: Path,
                                                                       gate: Gate) -> None:
    engine = make_engine(journal, keys, gate.endpoint)
    assert len(engine.take_passage(passage("p-1"))) == 2
    assert engine.take_passage(passage("p-1")) == []
    assert engine.take_passage(passage("p-old", age_s=120)) == []
    assert engine.take_passage(passage("p-x", lane="out-9")) == []
    assert {k: engine.counters[k] for k in ("dropped.replayed", "dropped.stale", "dropped.unknown_lane")} == {
        "dropped.replayed": 1, "dropped.stale": 1, "dropped.unknown_lane": 1}
    assert journal.count(types=ClearanceDecision) == 1
    engine.close()


# --- declarations ------------------------------------------------------------------------------------------------


def test_declarations_are_validated_journalled_and_rebuilt_after_a_restart(journal: Journal, keys: Path,
                                                                          gate: Gate) -> None:
    engine = make_engine(journal, keys, gate.endpoint)
    good = feed_submission(declaration())
    assert engine.take_declaration(good)
    assert not engine.take_declaration(good)  # the same line read again
    bad = DeclarationSubmitted(declaration=declaration("DEC-2", tractor="not a plate"), source="api")
    assert not engine.take_declaration(bad)
    overlapping = DeclarationSubmitted(declaration=declaration("DEC-3"), source="api")  # same tractor, same window
    assert not engine.take_declaration(overlapping)
    assert engine.counters["declarations.refused.bad_plate"] == 1
    assert engine.counters["declarations.refused.validity_overlap"] == 1
    assert [m.id for m in journalled(journal, DeclarationSubmitted)] == [good.id]
    rejected = {m.declaration_id: m for m in journalled(journal, DeclarationRejected)}
    assert set(rejected) == {"DEC-2", "DEC-3"}  # each refusal on record, with its reasons
    assert [p.code for p in rejected["DEC-2"].problems] == ["bad_plate"]
    assert rejected["DEC-2"].problems[0].field == "tractor_plate"
    assert [p.code for p in rejected["DEC-3"].problems] == ["validity_overlap"]
    assert rejected["DEC-3"].source == "api"
    engine.close()

    restarted = make_engine(journal, keys, gate.endpoint)
    assert [d.declaration_id for d in restarted.book] == ["DEC-1"]
    decision, _ = restarted.take_passage(passage("p-1"))
    assert isinstance(decision, ClearanceDecision)
    assert decision.outcome == "OPEN"
    restarted.close()


# --- a journal that fails -------------------------------------------------------------------------------------------


class SwitchableJournal(Journal):
    """A real journal whose writes can be made to fail, as a full or read-only disk would (injected JournalError)."""

    fail: tuple[type[Message], ...] = ()

    def append_many(self, messages: Any) -> list[int]:
        batch = list(messages)
        if any(isinstance(m, self.fail) for m in batch):
            raise JournalError("cannot append to journal: disk I/O error (injected)")
        return super().append_many(batch)


class CheckpointCountingJournal(Journal):
    """A real journal that counts its explicit checkpoints."""

    checkpoints = 0

    def checkpoint(self) -> int:
        self.checkpoints += 1
        return super().checkpoint()


def test_the_journal_is_checkpointed_only_while_no_command_waits(tmp_path: Path, keys: Path, gate: Gate) -> None:
    config = ClearanceConfig(checkpoint_every_s=0.01)
    with CheckpointCountingJournal.open(tmp_path / "journal.sqlite", autocheckpoint=False) as journal:
        assert isinstance(journal, CheckpointCountingJournal)
        engine = make_engine(journal, keys, gate.endpoint, config=config, declarations=(declaration(),))
        engine.take_passage(passage("p-1"))
        time.sleep(0.02)
        engine.tick()  # a command waits: its delivery must not queue behind a checkpoint
        assert journal.checkpoints == 0
        drain(engine)
        time.sleep(0.02)
        engine.tick()
        assert journal.checkpoints == 1
        assert settled_once(journal)["p-1"].accepted
        engine.close()


def test_without_a_record_nothing_is_sent_and_the_engine_keeps_running(tmp_path: Path, keys: Path,
                                                                      gate: Gate) -> None:
    with SwitchableJournal.open(tmp_path / "journal.sqlite") as journal:
        assert isinstance(journal, SwitchableJournal)
        engine = make_engine(journal, keys, gate.endpoint, declarations=(declaration(),))
        journal.fail = (ClearanceDecision,)
        assert engine.take_passage(passage("p-1")) == []
        assert engine.pump() == []
        assert (engine.counters["refused.journal"], engine.pending(), gate.controller.counters.commands) == (1, 0, 0)

        journal.fail = ()  # the disk is back: the same passage (re-sent by its lane) is decided now
        assert len(engine.take_passage(passage("p-1"))) == 2
        journal.fail = (GateAck,)  # the ack cannot be stored: the lane waits, nothing is sent twice
        assert engine.pump() == []
        assert engine.pending() == 1
        journal.fail = ()
        time.sleep(ClearanceConfig().retry_s)
        drain(engine)
        assert settled_once(journal)["p-1"].accepted
        assert (gate.controller.counters.commands, gate.controller.counters.executed) == (1, 1)
        engine.close()


def fill_until_full(journal: Journal) -> None:
    """Append until the journal refuses (at once when read-only; when its pages are used up when "full")."""
    for i in range(1000):
        try:
            journal.append(Heartbeat(sender="filler", role="test", seq=i, detail="x" * 256))
        except JournalError:
            return
    pytest.fail("the journal never refused a write")


@pytest.mark.parametrize("pragma", ["PRAGMA query_only = 1", "PRAGMA max_page_count = 1"],
                         ids=["read_only", "disk_full"])
def test_a_real_read_only_or_full_sqlite_journal_opens_no_barrier(tmp_path: Path, keys: Path, gate: Gate,
                                                                 pragma: str) -> None:
    path = tmp_path / "journal.sqlite"
    Journal.open(path).close()
    url = parse_url(str(path))
    engine_sql = create_engine(url, synchronous="FULL", busy_timeout_s=1.0)
    sa.event.listen(engine_sql, "connect", lambda dbapi, _record: dbapi.execute(pragma))
    journal = Journal(engine_sql, str(path), None)
    fill_until_full(journal)
    engine = make_engine(journal, keys, gate.endpoint)
    engine.take_declaration(feed_submission(declaration()))
    assert engine.take_passage(passage("p-1")) == []
    assert engine.counters["refused.journal"] == 1
    assert engine.counters["declarations.refused.journal"] == 1
    assert gate.controller.counters.commands == 0
    engine.close()
    journal.close()

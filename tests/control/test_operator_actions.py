"""Operator overrides: the transition table, who may act and why, and the engine journalling who, when and why in the
same transaction as the new decision and its gate command, before the command is sent (real controller, real
journal)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from bus.journal import Journal
from bus.messages import ClearanceDecision, GateCommand, OperatorAction, Reason
from control.clearance import AFTER_JOURNAL, command_id_for
from control.operator_actions import (
    ALLOWED_FROM,
    OperatorActionError,
    OperatorPolicy,
    override,
    override_decision_id,
)
from tests.control import test_clearance as engine_tests
from tests.control.test_clearance import (
    Crash,
    Gate,
    crash_at,
    declaration,
    drain,
    journalled,
    make_engine,
    passage,
    settled_once,
)

# The engine tests' fixtures: a real controller in a thread, its keys, and a SQLite journal.
keys, gate, journal = engine_tests.keys, engine_tests.gate, engine_tests.journal
POLICY = OperatorPolicy(frozenset({"nguyen.an", "tran.binh"}))
OUTCOMES = ("OPEN", "HOLD", "INSPECT", "REJECT")
ACTIONS = {"OVERRIDE_OPEN": "OPEN", "OVERRIDE_HOLD": "HOLD", "OVERRIDE_INSPECT": "INSPECT"}


def current(outcome: str = "HOLD", decision_id: str = "dec-p-1") -> ClearanceDecision:
    return ClearanceDecision(decision_id=decision_id, passage_id="p-1", lane_id="in-1", outcome=outcome,  # type: ignore[arg-type]
                             reasons=(Reason(code="yellow_channel", en="Yellow channel", vi="Luồng vàng"),),
                             declaration_id="DEC-1", confidence=0.9)


def action(kind: str = "OVERRIDE_OPEN", **changes: Any) -> OperatorAction:
    fields: dict[str, Any] = {"action_id": "act-1", "operator": "nguyen.an", "action": kind,
                              "reason": "documents checked at the booth", "passage_id": "p-1",
                              "decision_id": "dec-p-1", "lane_id": "in-1", "ts_utc": time.time()}
    fields.update(changes)
    return OperatorAction(**fields)


TRANSITIONS = [(old, kind, ACTIONS[kind] if old in ALLOWED_FROM[ACTIONS[kind]] else None)  # type: ignore[index]
               for old in OUTCOMES for kind in ACTIONS]


@pytest.mark.parametrize(("old", "kind", "new"), TRANSITIONS, ids=[f"{o}-{k}" for o, k, _ in TRANSITIONS])
def test_transition_table(old: str, kind: str, new: str | None) -> None:
    if new is None:
        with pytest.raises(OperatorActionError) as refused:
            override(action(kind), current(old), POLICY, authenticated_as=None, now_utc=time.time())
        assert refused.value.code == ("no_change" if ACTIONS[kind] == old else "not_allowed_transition")
        return
    decision = override(action(kind), current(old), POLICY, authenticated_as="nguyen.an", now_utc=time.time())
    assert (decision.outcome, decision.passage_id, decision.lane_id, decision.declaration_id) == (
        new, "p-1", "in-1", "DEC-1")
    assert decision.decision_id == decision.id == override_decision_id("act-1")
    first = decision.reasons[0]
    assert first.code == "operator_override"
    assert "nguyen.an" in first.en
    assert "documents checked at the booth" in first.en
    assert f"to {new}" in first.en
    assert "Cán bộ nguyen.an" in first.vi
    assert decision.reasons[1:] == current(old).reasons


def test_a_reject_is_never_opened_by_an_override() -> None:
    assert "REJECT" not in ALLOWED_FROM["OPEN"]


@pytest.mark.parametrize(("changes", "authenticated_as", "code"), [
    ({"operator": "mallory"}, None, "not_allowed"),
    ({}, "tran.binh", "identity_mismatch"),
    ({"reason": "   \t "}, None, "no_reason"),
    ({"ts_utc": time.time() - 3600}, None, "stale"),
    ({"ts_utc": time.time() + 3600}, None, "stale"),
    ({"passage_id": None, "decision_id": None}, None, "no_target"),
    ({"decision_id": "dec-older"}, None, "superseded"),
    ({"passage_id": "p-2"}, None, "wrong_target"),
    ({"lane_id": "out-1"}, None, "wrong_target"),
    ({"action": "ACK_ALARM"}, None, "not_an_override"),
], ids=["unknown operator", "in another's name", "blank reason", "old", "future", "no target", "superseded",
        "other passage", "other lane", "not an override"])
def test_refused_actions_say_why(changes: dict[str, Any], authenticated_as: str | None, code: str) -> None:
    with pytest.raises(OperatorActionError) as refused:
        override(action(**changes), current(), POLICY, authenticated_as=authenticated_as, now_utc=time.time())
    assert refused.value.code == code


def test_no_decision_to_override_and_no_operators_allowed_by_default() -> None:
    with pytest.raises(OperatorActionError, match="unknown_decision"):
        override(action(), None, POLICY, authenticated_as=None, now_utc=time.time())
    with pytest.raises(OperatorActionError, match="not_allowed"):
        override(action(), current(), OperatorPolicy(), authenticated_as=None, now_utc=time.time())
    with pytest.raises(ValueError, match="max_age_s"):
        OperatorPolicy(max_age_s=0)


# --- through the engine --------------------------------------------------------------------------------------------


def test_an_override_is_journalled_with_who_when_why_before_its_command_is_sent(journal: Journal, keys: Path,
                                                                               gate: Gate) -> None:
    asked: list[int] = []
    engine = make_engine(journal, keys, gate.endpoint, operators=("nguyen.an",),
                         hook=lambda point: asked.append(gate.controller.counters.commands) if point == AFTER_JOURNAL
                         else None, declarations=(declaration(channel="yellow"),))
    engine.take_passage(passage("p-1"))
    drain(engine)
    assert gate.controller.barrier.held

    act = action(decision_id=None)
    new_decision, command = engine.take_action(act, authenticated_as="nguyen.an")
    assert asked == [0, 1]  # at each commit the controller had not yet been sent the new command
    entries = journal.query(types=[OperatorAction, ClearanceDecision, GateCommand], after_seq=0)[-3:]
    assert [e.message for e in entries] == [act, new_decision, command]
    assert len({e.recorded_utc for e in entries}) == 1  # one transaction: who, when, why with what it caused
    assert isinstance(command, GateCommand)
    assert (command.action, command.seq) == ("OPEN", 2)
    assert command.command_id == command_id_for(override_decision_id("act-1"))

    drain(engine)
    assert gate.controller.counters.executed == 2
    assert not gate.controller.barrier.held
    assert engine.take_action(act) == []  # the same action again (a replay) changes nothing
    assert engine.counters["actions.replayed"] == 1
    # Back to HOLD, by another officer who saw the override.
    back = action("OVERRIDE_HOLD", action_id="act-2", operator="nguyen.an", decision_id=new_decision.id)
    assert [type(m).__name__ for m in engine.take_action(back)] == ["ClearanceDecision", "GateCommand"]
    drain(engine)
    assert gate.controller.barrier.held
    commands = [c for c in journalled(journal, GateCommand) if c.passage_id == "p-1"]
    assert [c.action for c in commands] == ["HOLD", "OPEN", "HOLD"]
    engine.close()


def test_a_refused_action_is_journalled_for_audit_and_sends_nothing(journal: Journal, keys: Path,
                                                                  gate: Gate) -> None:
    engine = make_engine(journal, keys, gate.endpoint, operators=("nguyen.an",))
    engine.take_passage(passage("p-1"))  # no declaration: REJECT
    drain(engine)
    rogue = action(action_id="act-9", operator="mallory")
    assert engine.take_action(rogue) == []
    reopen = action(action_id="act-10", decision_id=None)
    assert engine.take_action(reopen) == []  # a REJECT is not opened
    assert engine.counters["actions.refused.not_allowed"] == 1
    assert engine.counters["actions.refused.not_allowed_transition"] == 1
    assert [m.action_id for m in journalled(journal, OperatorAction)] == ["act-9", "act-10"]
    assert gate.controller.counters.commands == 1
    engine.close()


def test_an_override_interrupted_by_a_crash_is_delivered_once_after_recovery(journal: Journal, keys: Path,
                                                                          gate: Gate) -> None:
    first = make_engine(journal, keys, gate.endpoint, operators=("nguyen.an",),
                        declarations=(declaration(channel="red"),))
    first.take_passage(passage("p-1"))
    drain(first)
    first.close()
    second = make_engine(journal, keys, gate.endpoint, operators=("nguyen.an",), hook=crash_at(AFTER_JOURNAL))
    with pytest.raises(Crash):
        second.take_action(action(decision_id=None))
    second.close()

    third = make_engine(journal, keys, gate.endpoint, operators=("nguyen.an",))
    assert third.ledger.current("p-1", None) is not None
    assert third.ledger.current("p-1", None).outcome == "OPEN"  # type: ignore[union-attr]
    drain(third)
    assert third.take_action(action(decision_id=None)) == []
    acks = settled_once(journal)
    assert acks["p-1"].accepted
    assert gate.controller.counters.executed == 2  # HOLD for the red channel, then the override's OPEN, once
    third.close()

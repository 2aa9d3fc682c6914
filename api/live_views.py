"""The JSON shapes the API and its stream show, built from bus messages: one function per shape, pure.

Kept apart from `api.live` so the REST routes (which read old messages from the journal) and the live state (which
sees them as they arrive) render a passage or a decision the same way, field for field.
"""

from __future__ import annotations

from typing import Any

from bus.messages import (
    ClearanceDecision,
    EvidenceRef,
    GateAck,
    GateCommand,
    IGVState,
    JobUpdate,
    OperatorAction,
    Telemetry,
    VehiclePassage,
)

Json = dict[str, Any]
OVERRIDE_REASON_CODE = "operator_override"
"""The reason code `control.operator_actions.override_reason` puts first on an operator's decision."""


def evidence_paths(passage: VehiclePassage) -> list[str]:
    """The passage's saved crops in URL order: plates, containers, seals; each path once, crops without a file
    (a failed write) left out, so ``n`` in ``/evidence/{n}`` always names a file the reader saved."""
    paths: list[str] = []
    refs = [r.evidence for r in passage.plates] + [r.evidence for r in passage.containers] \
        + [r.evidence for r in passage.seals]
    for group in refs:
        for ref in group:
            if ref.path and ref.path not in paths:
                paths.append(ref.path)
    return paths


def _urls(passage_id: str, refs: tuple[EvidenceRef, ...], order: list[str]) -> list[str]:
    return [f"/api/v1/passages/{passage_id}/evidence/{order.index(ref.path)}" for ref in refs if ref.path]


def passage_out(passage: VehiclePassage) -> Json:
    """PassageOut: the reads with their confidences and the URLs of their crops."""
    order = evidence_paths(passage)
    pid = passage.passage_id
    return {
        "passage_id": pid, "lane_id": passage.lane_id, "direction": passage.direction,
        "first_seen_utc": passage.first_seen_utc, "last_seen_utc": passage.last_seen_utc,
        "plates": [{"text": p.text, "format": p.format, "confidence": p.confidence,
                    "evidence": _urls(pid, p.evidence, order)} for p in passage.plates],
        "containers": [{"number": c.number, "check_digit_ok": c.check_digit_ok, "size_type": c.size_type,
                        "confidence": c.confidence, "evidence": _urls(pid, c.evidence, order)}
                       for c in passage.containers],
        "seals": [{"state": s.state, "number": s.number, "confidence": s.confidence,
                   "evidence": _urls(pid, s.evidence, order)} for s in passage.seals],
    }


def is_override(decision: ClearanceDecision) -> bool:
    return bool(decision.reasons) and decision.reasons[0].code == OVERRIDE_REASON_CODE


def override_out(decision: ClearanceDecision, action: OperatorAction | None) -> Json | None:
    """Who overrode and why; from the action when it is known, else from the decision's own first reason."""
    if not is_override(decision):
        return None
    if action is not None:
        return {"operator": action.operator, "action": action.action, "reason": action.reason}
    return {"operator": "", "action": f"OVERRIDE_{decision.outcome}", "reason": decision.reasons[0].en}


def decision_out(decision: ClearanceDecision, action: OperatorAction | None = None) -> Json:
    """DecisionOut: the outcome, every reason in both languages, and the override that made it, if any."""
    return {
        "decision_id": decision.decision_id, "passage_id": decision.passage_id, "lane_id": decision.lane_id,
        "outcome": decision.outcome,
        "reasons": [{"code": r.code, "en": r.en, "vi": r.vi} for r in decision.reasons],
        "declaration_id": decision.declaration_id, "confidence": decision.confidence, "ts_utc": decision.ts_utc,
        "override": override_out(decision, action),
    }


def ack_out(ack: GateAck, command: GateCommand | None = None) -> Json:
    return {"command_id": ack.command_id, "lane_id": ack.lane_id, "seq": ack.seq, "accepted": ack.accepted,
            "state": ack.state, "error": ack.error, "ts_utc": ack.ts_utc,
            "action": command.action if command is not None else None}


def barrier_out(ack: GateAck) -> Json:
    return {"lane_id": ack.lane_id, "state": ack.state, "accepted": ack.accepted, "ts_utc": ack.ts_utc}


def igv_state_name(state: IGVState) -> str:
    """One word for the map: a fault outranks driving, driving outranks an order being held."""
    if state.errors:
        return "fault"
    if state.driving:
        return "driving"
    return "busy" if state.order_id is not None and state.remaining_nodes > 0 else "idle"


def igv_out(state: IGVState) -> Json:
    return {"igv_id": state.igv_id, "x": state.x, "y": state.y, "state": igv_state_name(state),
            "battery": state.battery, "load": state.load}


def igv_from_telemetry(telemetry: Telemetry, previous: Json | None) -> Json:
    old = previous or {}
    return {"igv_id": telemetry.device_id, "x": _or(telemetry.x, old.get("x")), "y": _or(telemetry.y, old.get("y")),
            "state": "fault" if telemetry.errors else telemetry.state,
            "battery": _or(telemetry.battery, old.get("battery")), "load": telemetry.load}


def crane_from_telemetry(telemetry: Telemetry, previous: Json | None) -> Json:
    old = previous or {}
    return {"crane_id": telemetry.device_id, "x": _or(telemetry.x, old.get("x")),
            "state": "fault" if telemetry.errors else telemetry.state, "load": _or(telemetry.load, old.get("load"))}


def job_out(update: JobUpdate) -> Json:
    return {"job_id": update.job_id, "kind": update.kind, "state": update.state,
            "container_number": update.container_number, "igv_id": update.igv_id, "bay_id": update.bay_id,
            "crane_id": update.crane_id, "passage_id": update.passage_id, "ts_utc": update.ts_utc}


def _or(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value

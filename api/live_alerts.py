"""What the control room is alerted to, as pure rules over bus messages: a seal missing on a passage, a decision
that found a mismatch, a barrier that faulted or refused, an IGV that reports errors, a lane reader gone silent.

Each alert has a stable ``alert_id`` derived from what caused it, so the same cause seen twice (live and again from
the journal, or a decision re-sent) raises one alert, not two.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from bus.messages import ClearanceDecision, GateAck, VehiclePassage

AlertKind = Literal["seal_missing", "mismatch", "barrier_fault", "igv_fault", "reader_down"]
Alert = dict[str, Any]

MISMATCH_CODES: Final = frozenset({
    "tractor_plate_mismatch", "trailer_plate_mismatch", "seal_number_mismatch", "direction_mismatch",
    "undeclared_container", "declared_container_not_seen", "trailer_plate_undeclared", "seal_undeclared"})
"""Reason codes of `control.clearance_reasons` that mean the truck does not match its declaration."""
SEAL_MISSING_CODE: Final = "seal_missing"
_MAX_TEXT: Final = 300


def alert(kind: AlertKind, alert_id: str, lane_id: str | None, ts_utc: float, en: str, vi: str) -> Alert:
    return {"alert_id": alert_id[:200], "kind": kind, "lane_id": lane_id, "text_en": _clip(en), "text_vi": _clip(vi),
            "ts_utc": ts_utc}


def passage_alerts(passage: VehiclePassage) -> list[Alert]:
    """A seal read as absent: the camera saw the door without one."""
    absent = [s for s in passage.seals if s.state == "absent"]
    if not absent:
        return []
    which = ", ".join(s.container_number or "?" for s in absent)
    return [alert("seal_missing", f"seal_missing:{passage.passage_id}", passage.lane_id, passage.ts_utc,
                  f"Lane {passage.lane_id}: no seal seen on container {which} (passage {passage.passage_id})",
                  f"Làn {passage.lane_id}: không thấy niêm phong trên container {which} "
                  f"(lượt {passage.passage_id})")]


def decision_alerts(decision: ClearanceDecision) -> list[Alert]:
    """A decision whose reasons say the seal is missing or the truck does not match its declaration."""
    out: list[Alert] = []
    codes = {r.code for r in decision.reasons}
    if SEAL_MISSING_CODE in codes:
        text = next(r for r in decision.reasons if r.code == SEAL_MISSING_CODE)
        out.append(alert("seal_missing", f"seal_missing:{decision.passage_id}", decision.lane_id, decision.ts_utc,
                         f"Lane {decision.lane_id}: {text.en}", f"Làn {decision.lane_id}: {text.vi}"))
    mismatches = [r for r in decision.reasons if r.code in MISMATCH_CODES]
    if mismatches:
        out.append(alert("mismatch", f"mismatch:{decision.decision_id}", decision.lane_id, decision.ts_utc,
                         f"Lane {decision.lane_id}, {decision.outcome}: " + "; ".join(r.en for r in mismatches),
                         f"Làn {decision.lane_id}, {decision.outcome}: " + "; ".join(r.vi for r in mismatches)))
    return out


def barrier_alerts(ack: GateAck) -> list[Alert]:
    """A barrier in fault, or a command it refused (expired, out of order, no answer)."""
    if ack.state != "fault" and ack.accepted:
        return []
    why = ack.error or ack.state
    return [alert("barrier_fault", f"barrier_fault:{ack.command_id}", ack.lane_id, ack.ts_utc,
                  f"Lane {ack.lane_id}: barrier {ack.state}, command refused: {why}" if not ack.accepted
                  else f"Lane {ack.lane_id}: barrier fault: {why}",
                  f"Làn {ack.lane_id}: barie {ack.state}, lệnh bị từ chối: {why}" if not ack.accepted
                  else f"Làn {ack.lane_id}: barie bị lỗi: {why}")]


def igv_alert(igv_id: str, errors: tuple[str, ...], ts_utc: float, serial: int) -> Alert:
    text = "; ".join(errors)
    return alert("igv_fault", f"igv_fault:{igv_id}:{serial}", None, ts_utc,
                 f"IGV {igv_id}: {text}", f"Xe IGV {igv_id}: {text}")


def reader_alert(lane_id: str, silent_s: float, ts_utc: float, serial: int) -> Alert:
    return alert("reader_down", f"reader_down:{lane_id}:{serial}", lane_id, ts_utc,
                 f"Lane {lane_id}: the lane reader has been silent for {silent_s:.0f} s",
                 f"Làn {lane_id}: bộ đọc làn không phản hồi {silent_s:.0f} giây")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"

"""Bus messages for the live-state, route and stream tests: a truck's passage, its decision, the barrier's ack."""

from __future__ import annotations

import time
from typing import Any, cast

from fastapi.testclient import TestClient

from api.live import LiveState
from bus.messages import (
    ClearanceDecision,
    ContainerRead,
    EvidenceRef,
    GateAck,
    GateCommand,
    PlateRead,
    Reason,
    SealRead,
    VehiclePassage,
)

CONTAINER = "MSKU3605161"


def ref(path: str, frame: int = 1) -> EvidenceRef:
    return EvidenceRef(camera="front", frame=frame, ts_utc=time.time(), path=path)


def passage(passage_id: str = "in-1-000001", lane_id: str = "in-1", *, t: float | None = None,
            seal: str = "present", evidence: tuple[str, ...] = ()) -> VehiclePassage:
    t = time.time() if t is None else t
    refs = tuple(ref(path, i) for i, path in enumerate(evidence))
    return VehiclePassage(
        passage_id=passage_id, lane_id=lane_id, direction="in" if lane_id.startswith("in") else "out",
        first_seen_utc=t - 5.0, last_seen_utc=t, ts_utc=t,
        plates=(PlateRead(text="12C-123.45", format="vn", role="tractor", confidence=0.97, evidence=refs[:1]),),
        containers=(ContainerRead(number=CONTAINER, check_digit_ok=True, size_type="22G1", confidence=0.95,
                                  evidence=refs[1:2]),),
        seals=(SealRead(container_number=CONTAINER, state=seal,  # type: ignore[arg-type]
                        number="VN1234567" if seal == "present" else None, confidence=0.9, evidence=refs[2:]),),
    )


def decision(p: VehiclePassage, outcome: str = "HOLD", *, codes: tuple[str, ...] = ("channel_yellow",),
             t: float | None = None, decision_id: str | None = None) -> ClearanceDecision:
    t = p.last_seen_utc + 0.2 if t is None else t
    reasons = tuple(Reason(code=c, en=f"reason {c}", vi=f"lý do {c}") for c in codes)
    did = decision_id or f"dec-{p.passage_id}"
    return ClearanceDecision(id=did, ts_utc=t, decision_id=did, passage_id=p.passage_id, lane_id=p.lane_id,
                             outcome=outcome, reasons=reasons, declaration_id="DEC-1",  # type: ignore[arg-type]
                             confidence=0.9)


def command(d: ClearanceDecision, seq: int = 1) -> GateCommand:
    return GateCommand(command_id=f"cmd-{d.decision_id}", lane_id=d.lane_id, passage_id=d.passage_id,
                       action="OPEN" if d.outcome == "OPEN" else "HOLD", seq=seq, expires_utc=d.ts_utc + 10,
                       ts_utc=d.ts_utc)


def ack(c: GateCommand, state: str = "opening", accepted: bool = True, error: str | None = None) -> GateAck:
    return GateAck(command_id=c.command_id, lane_id=c.lane_id, seq=c.seq, accepted=accepted,
                   state=state, error=error, ts_utc=c.ts_utc + 0.1)  # type: ignore[arg-type]


def live_of(client: TestClient) -> LiveState:
    """The live state of a started test app."""
    app: Any = client.app
    return cast(LiveState, app.state.ctx.live)

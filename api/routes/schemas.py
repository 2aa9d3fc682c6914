"""Public response shapes, for the OpenAPI document and for checking what the routes answer.

The routes build plain dicts (`api.live_views`); these models describe them, so the schema the fuzzer and the page
read is the one the code keeps to. Input shapes live with their routes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Outcome = Literal["OPEN", "HOLD", "INSPECT", "REJECT"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class PlateOut(_Out):
    text: str
    format: str
    confidence: float
    evidence: list[str]


class ContainerOut(_Out):
    number: str
    check_digit_ok: bool
    size_type: str | None
    confidence: float
    evidence: list[str]


class SealOut(_Out):
    state: Literal["present", "absent", "unknown"]
    number: str | None
    confidence: float
    evidence: list[str]


class PassageOut(_Out):
    passage_id: str
    lane_id: str
    direction: Literal["in", "out"]
    first_seen_utc: float
    last_seen_utc: float
    plates: list[PlateOut]
    containers: list[ContainerOut]
    seals: list[SealOut]


class ReasonOut(_Out):
    code: str
    en: str
    vi: str


class OverrideOut(_Out):
    operator: str
    action: str
    reason: str


class DecisionOut(_Out):
    decision_id: str
    passage_id: str
    lane_id: str
    outcome: Outcome
    reasons: list[ReasonOut]
    declaration_id: str | None
    confidence: float
    ts_utc: float
    override: OverrideOut | None


class BarrierOut(_Out):
    state: Literal["closed", "opening", "open", "closing", "fault", "unknown"]
    ts_utc: float | None


class LaneStateOut(_Out):
    lane_id: str
    direction: Literal["in", "out"]
    updated_utc: float | None
    stale: bool
    reader_alive: bool
    fps: float | None
    barrier: BarrierOut
    passage: PassageOut | None
    decision: DecisionOut | None
    queue: int


class LaneOut(_Out):
    lane_id: str
    direction: Literal["in", "out"]
    description: str


class AckOut(_Out):
    command_id: str
    lane_id: str
    seq: int
    accepted: bool
    state: str
    error: str | None
    ts_utc: float
    action: str | None


class PassageDetail(_Out):
    passage: PassageOut
    decisions: list[DecisionOut]
    acks: list[AckOut]


class PassagePage(_Out):
    items: list[PassageOut]
    next_cursor: str | None


class DecisionPage(_Out):
    items: list[DecisionOut]
    next_cursor: str | None


class ProblemOut(_Out):
    field: str
    code: str
    message: str


class DeclarationItem(_Out):
    declaration_id: str
    status: Literal["submitted", "rejected", "cancelled"]
    ts_utc: float
    source: str
    declaration: dict[str, object] | None
    problems: list[ProblemOut]
    cancelled: dict[str, object] | None


class DeclarationPage(_Out):
    items: list[DeclarationItem]
    next_cursor: str | None


class Accepted(_Out):
    """202: handed to the bus; the clearance service applies it (and journals it) shortly."""


class ActionAccepted(Accepted):
    action_id: str


class DeclarationAccepted(Accepted):
    declaration_id: str


class SlotOut(_Out):
    slot_id: str
    zone: str
    state: str
    x: float | None
    y: float | None
    w: float | None
    h: float | None


class OccupancyOut(_Out):
    slots: list[SlotOut]
    queues: dict[str, int]
    ts_utc: float | None


class ContainerItem(_Out):
    container_number: str
    slot_id: str
    zone: str
    since_utc: float


class ContainerPage(_Out):
    items: list[ContainerItem]
    next_cursor: str | None


class IgvOut(_Out):
    igv_id: str
    x: float | None
    y: float | None
    state: str
    battery: float | None
    load: str | None


class CraneOut(_Out):
    crane_id: str
    x: float | None
    state: str
    load: str | None


class JobOut(_Out):
    job_id: str
    kind: str
    state: str
    container_number: str
    igv_id: str | None
    bay_id: str | None


class JobPage(_Out):
    items: list[JobOut]
    next_cursor: str | None


class Percentiles(_Out):
    p50: float | None
    p95: float | None


class KpiSeries(_Out):
    trucks_per_hour: list[list[float]]
    queue_length: list[list[float]]


class KpisOut(_Out):
    trucks_per_hour: int
    time_at_gate_s: Percentiles
    queue_length: int
    decisions: dict[str, int]
    series: KpiSeries


class AlertOut(_Out):
    alert_id: str
    kind: Literal["seal_missing", "mismatch", "barrier_fault", "igv_fault", "reader_down"]
    lane_id: str | None
    text_en: str
    text_vi: str
    ts_utc: float


class ConfigOut(_Out):
    stale_after_s: float
    environment: Literal["development", "production"]
    site_name: str
    lanes: list[LaneOut]


class ErrorDetail(BaseModel):
    detail: object


_ERROR_WORDS: dict[int, str] = {
    400: "Bad cursor, window or request", 404: "Not found", 409: "Refused by the rules (the reason says which)",
    422: "Invalid input (the detail names the fields)", 503: "Journal or bus unavailable",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all shaped ``{"detail": ...}``."""
    return {code: {"model": ErrorDetail, "description": _ERROR_WORDS[code]} for code in codes}

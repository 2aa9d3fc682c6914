"""What the demo prints for a person: one line per passage, decision, barrier ack and lane; the clearance summary."""

from __future__ import annotations

import pytest

from bus.messages import (
    ClearanceDecision,
    ContainerRead,
    GateAck,
    GateCommand,
    Outcome,
    PlateRead,
    SealRead,
    Telemetry,
    VehiclePassage,
)
from control.clearance import Ledger, unanswered_ack
from control.clearance_reasons import reason
from smartgate.demo import (
    Observed,
    ack_kind,
    ack_line,
    clearance_lines,
    decision_line,
    lane_vision_line,
    passage_line,
)

SEEN = 1_790_000_000.0


def _passage(**fields: object) -> VehiclePassage:
    return VehiclePassage(passage_id="in-1-1", lane_id="in-1", direction="in", first_seen_utc=SEEN - 8,
                          last_seen_utc=SEEN, ts_utc=SEEN + 1.25, frames_seen=12, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, "  passage in-1: plates none | containers none | seals none | 12 frames, latency 1.2 s"),
    ({"plates": (PlateRead(text="29C-123.45", format="vn", role="tractor", confidence=0.97),
                 PlateRead(text="桂A·8970挂", format="cn", role="trailer", confidence=0.814))},
     "plates 29C-123.45 (tractor, 0.97), 桂A·8970挂 (trailer, 0.81) |"),
    ({"containers": (ContainerRead(number="HALU9127595", check_digit_ok=True, size_type="42U1", confidence=0.9),
                     ContainerRead(number="DOLU4315960", check_digit_ok=False, confidence=0.37))},
     "containers HALU9127595 ✓ 42U1 (0.90), DOLU4315960 ✗ (0.37) |"),
    ({"seals": (SealRead(state="present", number="TG4471", confidence=0.93),
                SealRead(state="absent", confidence=0.8))},
     "seals present TG4471 (0.93), absent (0.80) |"),
    ({"plates": (PlateRead(text="\x1b[2J29C", confidence=0.5),)}, "plates ?[2J29C (unknown, 0.50) |"),
], ids=["empty", "plates", "check-digit-marks", "seals", "terminal-escape"])
def test_a_passage_is_one_readable_line(fields: dict[str, object], expected: str) -> None:
    line = passage_line(_passage(**fields))
    assert expected in line
    assert "\n" not in line
    assert line.endswith("12 frames, latency 1.2 s")


def test_a_lane_line_shows_reads_drops_passages_and_stage_times() -> None:
    telemetry = Telemetry(device_id="lane-in-1", kind="service", state="running", metrics={
        "vision.frames": 61, "vision.dropped": 1379, "vision.passages": 2, "vision.ms.detect": 1412.4,
        "vision.ms.ocr": 101.2, "bus.sent": 9})
    assert lane_vision_line("in-1", telemetry) == (
        "  lane in-1   read 61 frames, dropped 1379 stale, 2 passages; ms/frame: detect 1412, ocr 101")
    assert lane_vision_line("out-1", None).endswith("0 passages; ms/frame: n/a")


READ = {"plates": (PlateRead(text="29C-123.45", format="vn", role="tractor", confidence=0.97),
                   PlateRead(text="29R-001.23", format="vn", role="trailer", confidence=0.99)),
        "containers": (ContainerRead(number="HALU9127595", check_digit_ok=True, confidence=0.9),
                       ContainerRead(number="MSKU3605161", check_digit_ok=True, confidence=0.8))}
NO_SEAL = reason("seal_missing", container="HALU9127595", seal="TG4471")


def _decision(outcome: Outcome, *reasons: str, passage_id: str = "in-1-1") -> ClearanceDecision:
    given = [reason("cleared", declaration="DEC-1")] if outcome == "OPEN" else [NO_SEAL]
    given += [reason(code) for code in reasons]
    return ClearanceDecision(decision_id=f"dec-{passage_id}-{outcome}", passage_id=passage_id, lane_id="in-1",
                             outcome=outcome, reasons=tuple(given))


def _command(command_id: str = "cmd-1", action: str = "OPEN") -> GateCommand:
    return GateCommand(command_id=command_id, lane_id="in-1", passage_id="in-1-1", action=action,  # type: ignore[arg-type]
                       seq=1, expires_utc=SEEN + 10)


@pytest.mark.parametrize(("decision", "passage", "expected"), [
    (_decision("OPEN"), _passage(**READ), "  decision in-1: in-1-1 29C-123.45 HALU9127595 MSKU3605161 → OPEN"),
    (_decision("INSPECT"), _passage(),
     "  decision in-1: in-1-1 no plate no container → INSPECT: No seal on container HALU9127595 (declared seal "
     "TG4471)"),
    (_decision("INSPECT", "channel_red"), None,
     "  decision in-1: in-1-1 → INSPECT: No seal on container HALU9127595 (declared seal TG4471) (+1 more)"),
    (_decision("HOLD", passage_id="in-1-\x1b[2J"), None, "  decision in-1: in-1-?[2J → HOLD: No seal"),
], ids=["open-shows-no-reason", "first-reason-in-english", "more-reasons-counted", "terminal-escape"])
def test_a_decision_is_one_line_next_to_its_passage(decision: ClearanceDecision, passage: VehiclePassage | None,
                                                    expected: str) -> None:
    line = decision_line(decision, passage)
    assert line.startswith(expected)
    assert "\n" not in line


@pytest.mark.parametrize(("ack", "kind", "shown"), [
    (GateAck(command_id="cmd-1", lane_id="in-1", seq=1, accepted=True, state="opening"), "accepted",
     "  barrier in-1: OPEN for in-1-1 accepted, barrier opening"),
    (GateAck(command_id="cmd-1", lane_id="in-1", seq=1, accepted=False, state="closed",
             error="out_of_order: seq 1 <= last executed 4"), "refused",
     "  barrier in-1: OPEN for in-1-1 refused: out_of_order: seq 1 <= last executed 4"),
    (GateAck(command_id="cmd-1", lane_id="in-1", seq=1, accepted=False, state="closed",
             error="expired: OPEN expired 1.5 s ago [faults: command_expired]"), "expired",
     "  barrier in-1: OPEN for in-1-1 expired: OPEN expired 1.5 s ago"),
    (unanswered_ack(_command()), "expired", "  barrier in-1: OPEN for in-1-1 expired: no ack before expiry"),
], ids=["accepted", "refused", "expired-at-the-controller", "never-answered"])
def test_a_barrier_ack_is_accepted_refused_or_expired(ack: GateAck, kind: str, shown: str) -> None:
    assert ack_kind(ack) == kind
    assert ack_line(ack, _command()).startswith(shown)
    assert ack_line(ack, None).startswith("  barrier in-1: command cmd-1 ")


def test_the_supervisor_matches_decisions_to_passages_and_acks_to_commands_in_any_order() -> None:
    observed = Observed()
    first, second = _passage(**READ), VehiclePassage(passage_id="in-1-2", lane_id="in-1", direction="in",
                                                     first_seen_utc=SEEN, last_seen_utc=SEEN, ts_utc=SEEN)
    assert observed.take(first) == passage_line(first)
    assert observed.take(_decision("INSPECT", passage_id="in-1-2")) is not None  # decision before its passage
    observed.take(second)
    observed.take(_command("cmd-1"))
    assert observed.waiting() == "1 passages undecided, 1 gate commands unacknowledged"
    line = observed.take(_decision("OPEN"))
    assert line is not None
    assert "29C-123.45" in line
    observed.take(GateAck(command_id="cmd-1", lane_id="in-1", seq=1, accepted=True, state="opening"))
    assert observed.waiting() == ""
    assert observed.messages["ClearanceDecision"] == 2


def test_the_clearance_summary_counts_outcomes_reasons_commands_and_acks() -> None:
    record = Ledger()
    decisions = [_decision("OPEN", passage_id="p1"), _decision("INSPECT", "channel_red", passage_id="p2"),
                 _decision("INSPECT", passage_id="p3")]
    commands = [_command("c1", "OPEN"), _command("c2", "HOLD"), _command("c3", "HOLD")]
    acks = [GateAck(command_id="c1", lane_id="in-1", seq=1, accepted=True, state="opening"),
            GateAck(command_id="c2", lane_id="in-1", seq=2, accepted=False, state="closed", error="expired: x"),
            GateAck(command_id="c2", lane_id="in-1", seq=2, accepted=True, state="closed")]  # the first ack counts
    for message in [*decisions, *commands, *acks]:
        record.record(message)
    telemetry = Telemetry(device_id="clearance", kind="service", state="running", metrics={
        "feed.declarations": 8, "declarations.accepted": 7, "declarations.refused.validity_overlap": 1,
        "dropped.stale": 2})
    assert clearance_lines(record, telemetry) == [
        "  decisions journalled this run: 3 (OPEN 1, HOLD 0, INSPECT 2, REJECT 0)",
        "    by reason (a decision may give several): channel_red 1, cleared 1, seal_missing 2",
        "  gate commands journalled this run: 3 (HOLD 2, OPEN 1); acks: accepted 1, refused 0, expired 1, "
        "none yet for 1",
        "  clearance: declarations read 8, held 7, refused 1; passages dropped 2"]

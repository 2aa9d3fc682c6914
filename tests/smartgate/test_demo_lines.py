"""What the demo prints for a person: one line per passage, one line per lane's pipeline."""

from __future__ import annotations

import pytest

from bus.messages import ContainerRead, PlateRead, SealRead, Telemetry, VehiclePassage
from smartgate.demo import lane_vision_line, passage_line

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

"""Replay scoring: passages matched by time overlap, the three scores, and the misses laid out for a person."""

from __future__ import annotations

from bus.messages import ContainerRead, PlateRead, SealRead, VehiclePassage
from datasets.recording import ContainerTruth, PassageTruth, PlateTruth, SealTruth
from vision.replay import (
    confidence_table,
    container_hits,
    match_passages,
    passage_misses,
    plate_hits,
    seal_hits,
    share,
)

EPOCH = 1_800_000_000.0


def truth(pid: str, t: float, plate: str, *boxes: tuple[str, str, bool]) -> PassageTruth:
    """A truth passage from t to t + 6 s with `boxes` as (number, position, sealed)."""
    return PassageTruth(passage_id=pid, lane_id="in-1", direction="in", t_enter=t, t_exit=t + 6,
                        tractor_plate=PlateTruth(text=plate, format="vn", color="white", lines=1),
                        containers=[ContainerTruth(number=n, size_type="22G1", length_ft=20, position=pos,  # type: ignore[arg-type]
                                                   seal=SealTruth(present=sealed)) for n, pos, sealed in boxes],
                        conditions=["rain"] if pid == "b" else [])


def emitted(t: float, plate: str, numbers: list[str], seals: list[tuple[str, str]]) -> VehiclePassage:
    return VehiclePassage(
        passage_id=f"e{t}", lane_id="in-1", direction="in", first_seen_utc=EPOCH + t + 1, last_seen_utc=EPOCH + t + 5,
        plates=(PlateRead(text=plate, format="vn", role="tractor", confidence=0.9),),
        containers=tuple(ContainerRead(number=n, check_digit_ok=True, confidence=0.9) for n in numbers),
        seals=tuple(SealRead(container_number=n, state=s, confidence=0.9) for n, s in seals))  # type: ignore[arg-type]


TRUTH = [
    truth("a", 0, "29C-123.45", ("MSKU3605161", "single", True)),
    truth("b", 20, "29C-555.55", ("CSQU3054383", "front", False), ("TGHU1234561", "rear", True)),
    truth("c", 40, "30A-111.11", ("MSKU0000001", "single", True)),
]
EMITTED = [
    emitted(0, "29C12345", ["MSKU3605161"], [("MSKU3605161", "present")]),  # all right; separators aside
    emitted(20, "29C-555.56", ["CSQU3054383"], [("CSQU3054383", "unknown"), ("TGHU1234561", "absent")]),
]


def test_scores_and_misses_agree() -> None:
    pairs = match_passages(TRUTH, EMITTED, EPOCH)
    assert set(pairs) == {0, 1}  # passage c was never emitted
    assert plate_hits(TRUTH, pairs) == [True, False, False]
    assert container_hits(TRUTH, pairs) == [True, True, False, False]
    assert seal_hits(TRUTH, pairs) == [True, False, False]  # the front box's doors are out of sight: not scored
    assert seal_hits(TRUTH, pairs, seen=False) == [True]  # ... and reported unknown, which is right
    assert share(plate_hits(TRUTH, pairs)) == 0.3333

    misses = passage_misses(TRUTH, pairs)

    assert [m["passage"] for m in misses] == ["b", "c"]
    b, c = misses
    assert b["wrong"] == ["plate", "container", "seal"]
    assert b["conditions"] == ["rain"]
    assert b["plates_read"] == ["29C-555.56"]
    assert b["containers"] == ["CSQU3054383", "TGHU1234561"]
    assert b["containers_read"] == ["CSQU3054383"]
    assert b["seals"] == ["present"]
    assert c["wrong"] == ["not found", "plate", "container", "seal"]
    assert c["plates_read"] == []


def test_no_truth_no_misses() -> None:
    assert passage_misses([], {}) == []
    assert share([]) == 0.0


def test_confidence_table_counts_right_and_wrong_reads_at_each_threshold() -> None:
    pairs = match_passages(TRUTH, EMITTED, EPOCH)
    table = confidence_table(TRUTH, pairs, thresholds=(0.5, 0.95))
    assert table["plate"] == {"0.50": [1, 1], "0.95": [0, 0]}  # every read here has confidence 0.9
    assert table["container"] == {"0.50": [2, 0], "0.95": [0, 0]}
    assert table["seal"] == {"0.50": [1, 1], "0.95": [0, 0]}  # the front box's unseen door is not counted

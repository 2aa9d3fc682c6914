"""Replay scoring: passages matched by time overlap, the three scores, and the misses laid out for a person."""

from __future__ import annotations

import msgspec

from bus.messages import ContainerRead, PlateRead, SealRead, VehiclePassage
from datasets.recording import ContainerTruth, PassageTruth, PlateTruth, SealTruth
from vision.replay import (
    ReplayReport,
    confidence_table,
    container_hits,
    match_passages,
    number_hidden,
    passage_misses,
    plate_hidden,
    plate_hits,
    readable,
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


def hide(t: PassageTruth, *, plate: bool = False, numbers: tuple[str, ...] = ()) -> PassageTruth:
    """The truth passage with its tractor plate and the given container numbers marked hidden by occlusion."""
    return msgspec.structs.replace(
        t, tractor_plate=msgspec.structs.replace(t.tractor_plate, hidden=plate),
        containers=[msgspec.structs.replace(c, number_hidden=c.number in numbers) for c in t.containers])


HIDDEN = [TRUTH[0], hide(TRUTH[1], plate=True, numbers=("TGHU1234561",)), hide(TRUTH[2], numbers=("MSKU0000001",))]


def test_readable_scores_leave_out_hidden_texts() -> None:
    pairs = match_passages(HIDDEN, EMITTED, EPOCH)
    plates, numbers = plate_hits(HIDDEN, pairs), container_hits(HIDDEN, pairs)
    assert plates == plate_hits(TRUTH, pairs)  # hiding changes no hit, only what the readable scores count
    assert numbers == container_hits(TRUTH, pairs)
    assert plate_hidden(HIDDEN) == [False, True, False]
    assert number_hidden(HIDDEN) == [False, False, True, True]
    assert share(readable(plates, plate_hidden(HIDDEN))) == 0.5  # a right, c missed; b's hidden plate left out
    assert share(readable(numbers, number_hidden(HIDDEN))) == 1.0  # only the hidden numbers were missed
    assert plate_hidden(TRUTH) == [False] * 3  # truth without the marks: every text readable


def test_misses_say_which_wrong_fields_were_hidden() -> None:
    pairs = match_passages(HIDDEN, EMITTED, EPOCH)
    b, c = passage_misses(HIDDEN, pairs)
    assert b["wrong"] == ["plate", "container", "seal"]
    assert b["hidden"] == ["plate", "container"]  # the one number missed was hidden
    assert c["hidden"] == ["container"]  # c's plate was readable: the miss is the pipeline's (c was never found)
    assert [m["hidden"] for m in passage_misses(TRUTH, pairs)] == [[], []]
    mixed = [TRUTH[0], hide(TRUTH[1], numbers=("CSQU3054383",))]  # a hidden number read, a readable one missed
    assert passage_misses(mixed, match_passages(mixed, EMITTED, EPOCH))[0]["hidden"] == []


def test_report_shows_the_readable_scores_beside_the_others() -> None:
    pairs = match_passages(HIDDEN, EMITTED, EPOCH)
    report = ReplayReport(
        recording="r", passages_truth=3, passages_found=2, passages_emitted=2, plate_accuracy=0.3333,
        container_accuracy=0.5, seal_accuracy=0.3333, frames=10, corrupt_frames=0, wall_s=1.0, fps=10.0,
        latency_ms={"p50": 1.0, "p99": 2.0}, stage_ms={}, plate_accuracy_readable=0.5,
        container_accuracy_readable=1.0, plates_hidden=1, containers_hidden=2,
        misses=tuple(passage_misses(HIDDEN, pairs)))
    data = report.to_json()
    assert data["plate_accuracy"] == 0.3333
    assert data["container_accuracy"] == 0.5
    assert {k: data[k] for k in ("plate_accuracy_readable", "container_accuracy_readable", "plates_hidden",
                                 "containers_hidden")} == {"plate_accuracy_readable": 0.5,
                                                           "container_accuracy_readable": 1.0,
                                                           "plates_hidden": 1, "containers_hidden": 2}
    assert data["misses"][0]["hidden"] == ["plate", "container"]
    summary = report.summary()
    assert "readable only (1 plates, 2 numbers hidden by occlusion): plate 50.0%, container 100.0%" in summary
    assert "miss b (rain): plate (hidden), container (hidden), seal" in summary


def test_an_unnamed_seal_is_the_seen_doors_not_the_unread_front_box_s() -> None:
    """Of two 20 ft boxes neither number was read; the rear doors' seal came unnamed. It scores for the rear box
    (doors seen), and the front box, of which nothing was said, is not taken to have a seal read."""
    pairs = {0: emitted(20, "29C-555.55", [], [("", "present")])}
    pair_truth = [TRUTH[1]]
    assert seal_hits(pair_truth, pairs) == [True]
    assert seal_hits(pair_truth, pairs, seen=False) == [True]
    wrong = {0: emitted(20, "29C-555.55", [], [("", "present"), ("", "present")])}
    assert seal_hits(pair_truth, wrong, seen=False) == [False]  # a second unnamed read would be the front box's

"""The crane bank on one rail: spacing and no crossing, moves and their times, faults that close a bay and block the
way, utilisation, and the bus command for a move."""

from __future__ import annotations

import math

import pytest

from bus.codec import MessageError, decode_as, encode
from bus.messages import CraneCommand
from control.cranes import CraneBank, CraneError, CraneMove, CraneSpec, CraneTiming, MoveKind

SPECS = [CraneSpec("crane-c", "bay-c", 100.0), CraneSpec("crane-a", "bay-a", 0.0), CraneSpec("crane-b", "bay-b", 50.0)]


def lift(bay: str, job: str = "j1", kind: MoveKind = "truck_to_igv", stand: int | None = None) -> CraneMove:
    return CraneMove(kind, job, "MSCU1234565", bay, stand)


@pytest.fixture
def bank() -> CraneBank:
    return CraneBank(SPECS, CraneTiming(), safety_gap_m=20.0)


def test_cranes_are_kept_in_rail_order(bank: CraneBank) -> None:
    assert bank.positions() == {"crane-a": 0.0, "crane-b": 50.0, "crane-c": 100.0}
    assert list(bank.positions()) == bank.idle() == ["crane-a", "crane-b", "crane-c"]
    assert bank.open_bays() == ["bay-a", "bay-b", "bay-c"]
    assert [bank.crane_of(bay) for bay in bank.open_bays()] == ["crane-a", "crane-b", "crane-c"]


@pytest.mark.parametrize(("specs", "gap", "message"), [
    ([], 20.0, "at least one crane"),
    ([CraneSpec("c1", "b1", 0.0), CraneSpec("c1", "b2", 50.0)], 20.0, r"duplicate crane id\(s\) \['c1'\]"),
    ([CraneSpec("c1", "b1", 0.0), CraneSpec("c2", "b1", 50.0)], 20.0, r"duplicate bay id\(s\) \['b1'\]"),
    ([CraneSpec("c1", "b1", 0.0), CraneSpec("c2", "b2", 19.5)], 20.0,
     "cranes 'c1' .x=0. and 'c2' .x=19.5. are closer than the safety gap of 20 m"),
    ([CraneSpec("c2", "b2", 30.0), CraneSpec("c1", "b1", 30.0)], 0.5, "closer than the safety gap"),
    ([CraneSpec("c1", "b1", 0.0)], -1.0, "safety_gap_m must be a finite number >= 0"),
    ([CraneSpec("c1", "b1", 0.0)], math.nan, "safety_gap_m must be a finite number"),
    (["c1"], 20.0, "cranes must be CraneSpec, got str"),
])
def test_bad_crane_layouts_are_refused(specs, gap, message) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        CraneBank(specs, safety_gap_m=gap)
    assert "\n" not in str(caught.value)


def test_cranes_exactly_one_gap_apart_are_allowed() -> None:
    bank = CraneBank([CraneSpec("c1", "b1", 0.0), CraneSpec("c2", "b2", 20.0)], safety_gap_m=20.0)
    assert bank.reachable("c1", 0.0)
    assert bank.reachable("c2", 20.0)


def test_a_move_at_its_own_bay_takes_the_lift_time_and_frees_the_crane(bank: CraneBank) -> None:
    move = lift("bay-b")
    assert bank.start("crane-b", move, 10.0) == 90.0
    assert bank.idle() == ["crane-a", "crane-c"]
    assert bank.crane_of("bay-b") == "crane-b"  # busy, but still the bay's working crane
    with pytest.raises(CraneError, match=r"crane 'crane-b' is busy with truck_to_igv of job 'j1' until t=90"):
        bank.start("crane-b", lift("bay-b", "j2"), 20.0)
    with pytest.raises(CraneError, match=r"finishes at t=90, not t=89"):
        bank.finish("crane-b", 89.0)
    assert bank.finish("crane-b", 90.0) is move
    assert bank.idle() == ["crane-a", "crane-b", "crane-c"]
    with pytest.raises(CraneError, match="crane 'crane-b' has no move in progress"):
        bank.finish("crane-b", 95.0)


@pytest.mark.parametrize(("crane", "x", "expected"), [
    ("crane-b", 50.0, True), ("crane-b", 30.0, True), ("crane-b", 20.0, True), ("crane-b", 19.0, False),
    ("crane-b", 80.0, True), ("crane-b", 81.0, False), ("crane-b", -10.0, False), ("crane-b", 150.0, False),
    ("crane-a", -500.0, True), ("crane-a", 30.0, True), ("crane-a", 31.0, False), ("crane-a", 120.0, False),
    ("crane-c", 70.0, True), ("crane-c", 69.0, False), ("crane-c", 1e4, True), ("crane-c", 0.0, False),
])
def test_reachable_keeps_the_gap_and_never_crosses(bank: CraneBank, crane, x, expected) -> None:
    assert bank.reachable(crane, x) is expected


def test_no_crane_can_enter_a_neighbour_bay_while_that_crane_is_there(bank: CraneBank) -> None:
    with pytest.raises(CraneError, match=r"crane 'crane-a' cannot reach bay 'bay-b' at x=50 m"):
        bank.start("crane-a", lift("bay-b"), 0.0)
    bank.fault("crane-b", 0.0)
    assert not bank.reachable("crane-a", 50.0)  # a faulted crane blocks its bay


def test_travel_holds_its_span_and_a_fault_stops_the_crane_on_the_way() -> None:
    bank = CraneBank([CraneSpec("west", "bay-w", 0.0), CraneSpec("east", "bay-e", 100.0)],
                     CraneTiming(gantry_m_s=2.0), safety_gap_m=0.0)
    assert bank.start("west", lift("bay-e"), 0.0) == 50.0 + 80.0  # 100 m at 2 m/s, then the lift
    assert bank.positions()["west"] == 100.0
    assert not bank.reachable("east", 99.0)  # inside the span west is travelling
    aborted = bank.fault("west", 20.0)
    assert aborted == lift("bay-e")
    assert bank.positions()["west"] == 40.0  # stopped 40 m along its way
    assert not bank.reachable("east", 0.0)  # the faulted crane sits on the way to bay-w
    assert bank.reachable("east", 40.0)
    assert bank.reachable("east", 100.0)
    bank.repair("west", 30.0)
    assert bank.start("west", lift("bay-w"), 30.0) == 30.0 + 20.0 + 80.0  # back 40 m, then the lift
    assert bank.busy_fraction(130.0)["west"] == pytest.approx((20.0 + 100.0) / 130.0)


def test_a_fault_aborts_the_move_closes_the_bay_until_every_fault_is_repaired(bank: CraneBank) -> None:
    move = lift("bay-a", kind="stand_to_igv", stand=1)
    bank.start("crane-a", move, 0.0)
    assert bank.fault("crane-a", 30.0) == move
    assert bank.fault("crane-a", 40.0) is None  # an overlapping second fault: nothing left to abort
    assert (bank.crane_of("bay-a"), bank.open_bays(), bank.idle()) == (None, ["bay-b", "bay-c"],
                                                                      ["crane-b", "crane-c"])
    with pytest.raises(CraneError, match="crane 'crane-a' is faulted"):
        bank.start("crane-a", lift("bay-a"), 50.0)
    with pytest.raises(CraneError, match="has no move in progress"):
        bank.finish("crane-a", 50.0)
    bank.repair("crane-a", 60.0)
    assert bank.crane_of("bay-a") is None  # one fault still open
    bank.repair("crane-a", 70.0)
    assert (bank.crane_of("bay-a"), bank.open_bays()[0], bank.idle()[0]) == ("crane-a", "bay-a", "crane-a")
    with pytest.raises(CraneError, match="crane 'crane-a' is not faulted"):
        bank.repair("crane-a", 80.0)
    assert bank.positions()["crane-a"] == 0.0


def test_busy_fraction_integrates_finished_aborted_and_running_moves(bank: CraneBank) -> None:
    assert bank.busy_fraction(0.0) == {"crane-a": 0.0, "crane-b": 0.0, "crane-c": 0.0}
    bank.start("crane-a", lift("bay-a"), 0.0)
    bank.finish("crane-a", 100.0)  # finished late: busy only the 80 s the move took
    bank.start("crane-b", lift("bay-b"), 0.0)
    bank.fault("crane-b", 20.0)  # aborted after 20 s
    bank.start("crane-c", lift("bay-c"), 140.0)  # running: 20 s by t=160
    assert bank.busy_fraction(160.0) == pytest.approx({"crane-a": 0.5, "crane-b": 0.125, "crane-c": 0.125})
    assert bank.busy_fraction(300.0)["crane-c"] == pytest.approx(80.0 / 300.0)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda b: b.start("crane-z", lift("bay-a"), 0.0), CraneError, r"unknown crane 'crane-z'; cranes are \["),
    (lambda b: b.start("crane-a", lift("bay-z"), 0.0), CraneError, "unknown bay 'bay-z'; bays are"),
    (lambda b: b.crane_of("bay-z"), CraneError, "unknown bay 'bay-z'"),
    (lambda b: b.fault("crane-z", 0.0), CraneError, "unknown crane 'crane-z'"),
    (lambda b: b.repair("crane-z", 0.0), CraneError, "unknown crane 'crane-z'"),
    (lambda b: b.reachable("crane-z", 0.0), CraneError, "unknown crane 'crane-z'"),
    (lambda b: b.reachable("crane-a", math.nan), ValueError, "x_m must be a finite number"),
    (lambda b: b.start("crane-a", lift("bay-a"), -1.0), ValueError, "now_s must be a finite number >= 0"),
    (lambda b: b.start("crane-a", lift("bay-a"), math.inf), ValueError, "now_s must be a finite number"),
    (lambda b: b.start("crane-a", "lift", 0.0), ValueError, "move must be a CraneMove, got str"),
    (lambda b: b.fault("crane-a", math.nan), ValueError, "now_s must be a finite number"),
    (lambda b: b.busy_fraction(-5.0), ValueError, "now_s must be a finite number >= 0"),
])
def test_hostile_calls_get_a_typed_one_line_error(bank: CraneBank, call, error, message) -> None:
    with pytest.raises(error, match=message) as caught:
        call(bank)
    assert "\n" not in str(caught.value)
    assert bank.idle() == ["crane-a", "crane-b", "crane-c"]


def test_time_never_goes_back_for_one_crane(bank: CraneBank) -> None:
    bank.start("crane-a", lift("bay-a"), 100.0)
    bank.finish("crane-a", 180.0)
    with pytest.raises(CraneError, match=r"crane 'crane-a': time goes backwards \(t=150 after t=180\)"):
        bank.start("crane-a", lift("bay-a"), 150.0)
    bank.start("crane-b", lift("bay-b"), 150.0)  # other cranes keep their own time


@pytest.mark.parametrize(("move", "slot"), [
    (lift("bay-b", "job-7", "stand_to_igv", 1), "bay-b:S1"),
    (lift("bay-b", "job-7", "truck_to_stand", 0), "bay-b:S0"),
    (lift("bay-b", "job-7", "truck_to_igv"), None),
])
def test_command_for_a_move_is_a_valid_pick_at_the_bay(bank: CraneBank, move, slot) -> None:
    command = bank.command_for("crane-b", move, seq=42, expires_utc=1.7e9)
    assert (command.crane_id, command.job_id, command.action, command.position_m, command.slot_id) == \
        ("crane-b", "job-7", "PICK", 50.0, slot)
    assert (command.container_number, command.seq, command.expires_utc) == ("MSCU1234565", 42, 1.7e9)
    assert decode_as(encode(command), CraneCommand) == command
    assert bank.command_for("crane-b", move, 43, 1.7e9).command_id != command.command_id


@pytest.mark.parametrize(("crane", "move", "seq", "expires", "error", "message"), [
    ("crane-z", lift("bay-a"), 1, 1.7e9, CraneError, "unknown crane 'crane-z'"),
    ("crane-a", lift("bay-z"), 1, 1.7e9, CraneError, "unknown bay 'bay-z'"),
    ("crane-a", lift("bay-a"), -1, 1.7e9, ValueError, "seq must be an integer >= 0, got -1"),
    ("crane-a", lift("bay-a"), True, 1.7e9, ValueError, "seq must be an integer"),
    ("crane-a", lift("bay-a"), 1, math.nan, ValueError, "expires_utc must be a finite number"),
    ("crane-a", lift("bay-a"), 1, 5e9, ValueError, "expires_utc must be UTC seconds"),
    ("crane-a", CraneMove("truck_to_igv", "job 1", "M", "bay-a"), 1, 1.7e9, MessageError, "job_id"),
    ("crane-a", CraneMove("truck_to_igv", "j1", "X" * 17, "bay-a"), 1, 1.7e9, MessageError,
     "container_number"),
])
def test_command_for_refuses_what_a_device_would_refuse(bank: CraneBank, crane, move, seq, expires, error,
                                                        message) -> None:
    with pytest.raises(error, match=message):
        bank.command_for(crane, move, seq, expires)

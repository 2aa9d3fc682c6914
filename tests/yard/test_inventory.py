"""Container inventory: stacking rules, crane commands, gate reads joined with trucks in the bays, alerts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bus.messages import ContainerRead, CraneCommand, OccupancyUpdate, SlotState, VehiclePassage
from yard.inventory import Inventory, InventoryError, Location
from yard.slot_changes import SlotChange, SlotKind

T = 1_700_000_000.0
TIERS = {"buffer-a:B01R1": 3, "buffer-a:B01R2": 1, "bay-1:S1": 1, "bay-2:S1": 1}
BAYS = ("bay-1:S1", "bay-2:S1")
ZONE = {"buffer-a:B01R1": "buffer-a", "buffer-a:B01R2": "buffer-a", "bay-1:S1": "bay-1", "bay-2:S1": "bay-2"}


def inventory() -> Inventory:
    return Inventory(TIERS, BAYS)


def crane(action: str, container: str | None, slot: str | None, k: int = 0) -> CraneCommand:
    return CraneCommand(command_id=f"c{k}-{action}", crane_id="crane-1", job_id="job-1", action=action,  # type: ignore[arg-type]
                        slot_id=slot, container_number=container, seq=k, expires_utc=T + 60, ts_utc=T + k)


def passage(passage_id: str, *numbers: str, direction: str = "in") -> VehiclePassage:
    reads = tuple(ContainerRead(number=n, check_digit_ok=True, confidence=0.9) for n in numbers)
    return VehiclePassage(passage_id=passage_id, lane_id="in-1", direction=direction,  # type: ignore[arg-type]
                          first_seen_utc=T, last_seen_utc=T + 1, containers=reads)


def change(slot: str, new: SlotKind, old: SlotKind = "empty", t: float = T) -> SlotChange:
    return SlotChange(slot_id=slot, zone_id=ZONE[slot], old_kind=old, new_kind=new, t_utc=t, since_utc=t - 1)


# -- stacking rules --------------------------------------------------------------------------------------------

def test_places_stack_tier_by_tier_and_picks_take_the_top() -> None:
    inv = inventory()
    assert [inv.place(n, "buffer-a:B01R1", T) for n in ("MSCU1", "MSCU2", "MSCU3")] == [
        Location("buffer-a:B01R1", 1), Location("buffer-a:B01R1", 2), Location("buffer-a:B01R1", 3)]
    assert inv.where("mscu2") == Location("buffer-a:B01R1", 2)
    inv.pick("MSCU3", "buffer-a:B01R1", T + 1)
    assert inv.stack("buffer-a:B01R1") == ("MSCU1", "MSCU2")
    assert inv.where("MSCU3") is None
    assert inv.snapshot().lifted == ("MSCU3",)
    inv.place("MSCU3", "buffer-a:B01R2", T + 2)
    assert inv.where("MSCU3") == Location("buffer-a:B01R2", 1)
    assert inv.snapshot().lifted == ()


@pytest.mark.parametrize(("setup", "move", "reason", "message"), [
    ([("MSCU1", "buffer-a:B01R2")], lambda inv: inv.place("MSCU2", "buffer-a:B01R2", T), "stack_full",
     r"cannot place MSCU2 in buffer-a:B01R2: its 1 tier\(s\) are full \(MSCU1\)"),
    ([("MSCU1", "buffer-a:B01R1")], lambda inv: inv.place("MSCU1", "buffer-a:B01R2", T), "already_placed",
     "MSCU1 in buffer-a:B01R2: it is already in buffer-a:B01R1"),
    ([], lambda inv: inv.pick("MSCU9", "buffer-a:B01R1", T), "not_there",
     r"cannot pick MSCU9 from buffer-a:B01R1: it is not there \(stack: empty\)"),
    ([("MSCU1", "buffer-a:B01R1")], lambda inv: inv.pick("MSCU1", "buffer-a:B01R2", T), "not_there",
     "cannot pick MSCU1 from buffer-a:B01R2"),
    ([("MSCU1", "buffer-a:B01R1"), ("MSCU2", "buffer-a:B01R1")],
     lambda inv: inv.pick("MSCU1", "buffer-a:B01R1", T), "not_on_top", "MSCU1 .* it is under MSCU2"),
    ([], lambda inv: inv.place("MSCU1", "buffer-z:B09R9", T), "unknown_slot", "unknown slot 'buffer-z:B09R9'"),
    ([], lambda inv: inv.place("MSCU 1/", "buffer-a:B01R1", T), "bad_container", "1-16 letters or digits"),
    ([], lambda inv: inv.place("", "buffer-a:B01R1", T), "bad_container", "1-16 letters or digits"),
    ([], lambda inv: inv.on_crane_command(crane("PLACE", None, "buffer-a:B01R1")), "incomplete_command",
     "names no container"),
    ([("MSCU1", "buffer-a:B01R2")], lambda inv: inv.on_crane_command(crane("PLACE", "MSCU2", "buffer-a:B01R2")),
     "stack_full", "its 1 tier"),
])
def test_refused_moves_raise_count_and_leave_the_state_alone(setup: list[tuple[str, str]],
                                                            move: Callable[[Inventory], object],
                                                            reason: str, message: str) -> None:
    inv = inventory()
    for number, slot in setup:
        inv.place(number, slot, T)
    before = inv.snapshot()
    with pytest.raises(InventoryError, match=message) as caught:
        move(inv)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)
    assert inv.counters[f"refused.{reason}"] == 1
    assert inv.snapshot() == before


def test_tiers_are_validated() -> None:
    with pytest.raises(ValueError, match="tiers must be an integer"):
        Inventory({"s": 0})
    with pytest.raises(ValueError, match="transfer slots not among the slots"):
        Inventory({"s": 1}, ["t"])


# -- crane commands --------------------------------------------------------------------------------------------

def test_crane_commands_move_containers_and_other_actions_are_ignored() -> None:
    inv = inventory()
    assert inv.on_crane_command(crane("PLACE", "MSCU1", "buffer-a:B01R1", 1)) == Location("buffer-a:B01R1", 1)
    assert inv.on_crane_command(crane("MOVE", None, None, 2)) is None
    assert inv.on_crane_command(crane("STOP", None, None, 3)) is None
    inv.on_crane_command(crane("PICK", "MSCU1", "buffer-a:B01R1", 4))
    inv.on_crane_command(crane("PLACE", "MSCU1", None, 5))   # onto an IGV: it leaves the yard's stacks
    assert inv.snapshot().stacks == {}
    assert inv.snapshot().lifted == ()
    assert inv.counters["handover.place"] == 1


# -- gate reads and cameras ------------------------------------------------------------------------------------

def test_truck_in_a_bay_claims_the_oldest_expected_arrival_and_the_crane_unloads_it() -> None:
    inv = inventory()
    inv.on_passage(passage("p1", "MSCU1234565", "TGHU7654321"))
    inv.on_passage(passage("p2", "CSQU3054383"))
    assert inv.on_passage(passage("p0", "HLXU2988801", direction="out")) is None  # leaving: not an arrival
    (seen_truck,) = inv.on_changes([change("bay-1:S1", "truck")])
    assert seen_truck.container_number == "MSCU1234565"
    assert [a.passage_id for a in inv.snapshot().expected] == ["p2"]  # p1 claimed; p0 never expected
    inv.on_crane_command(crane("PICK", "MSCU1234565", "bay-1:S1", 1))
    assert inv.on_crane_command(crane("PLACE", "MSCU1234565", "buffer-a:B01R1", 2)) == Location("buffer-a:B01R1", 1)
    assert inv.snapshot().trucks["bay-1:S1"].containers == ("TGHU7654321",)
    (second,) = inv.on_changes([change("bay-2:S1", "container")])   # seen from above: a container on a truck
    assert second.container_number == "CSQU3054383"
    inv.on_changes([change("bay-1:S1", "empty", old="truck")])
    assert set(inv.snapshot().trucks) == {"bay-2:S1"}
    assert inv.counters["trucks.left_loaded"] == 1
    assert inv.alerts() == []


def test_duplicate_passages_are_counted_once() -> None:
    inv = inventory()
    assert inv.on_passage(passage("p1", "MSCU1")) is not None
    assert inv.on_passage(passage("p1", "MSCU1")) is None
    assert inv.counters["passages.duplicate"] == 1
    assert len(inv.snapshot().expected) == 1


def test_expected_arrivals_are_bounded() -> None:
    inv = Inventory(TIERS, BAYS, max_expected=3)
    for k in range(5):
        inv.on_passage(passage(f"p{k}", f"MSCU{k}"))
    assert [a.passage_id for a in inv.snapshot().expected] == ["p2", "p3", "p4"]
    assert inv.counters["expected.dropped"] == 2


@pytest.mark.parametrize(("moves", "slot", "kind", "number", "alert"), [
    ([("MSCU1", "buffer-a:B01R1"), ("MSCU2", "buffer-a:B01R1")], "buffer-a:B01R1", "container", "MSCU2", None),
    ([], "buffer-a:B01R1", "container", None, "unknown_container"),
    ([], "bay-1:S1", "container", None, "unknown_container"),        # no truck expected at the gate
    ([], "buffer-a:B01R1", "truck", None, None),
    ([], "buffer-a:B01R1", "igv", None, None),
    ([("MSCU1", "buffer-a:B01R2")], "buffer-a:B01R2", "empty", None, "missing_container"),
    ([], "buffer-z:B09R9", "container", None, None),                # a slot the inventory does not hold
])
def test_camera_changes_are_joined_with_moves(moves: list[tuple[str, str]], slot: str, kind: SlotKind,
                                               number: str | None, alert: str | None) -> None:
    inv = inventory()
    for container, where in moves:
        inv.place(container, where, T)
    observed = SlotChange(slot_id=slot, zone_id="z", old_kind="empty", new_kind=kind, t_utc=T, since_utc=T)
    (joined,) = inv.on_changes([observed])
    assert joined.container_number == number
    assert [a.kind for a in inv.alerts()] == ([alert] if alert else [])
    if alert:
        assert inv.counters[f"alerts.{alert}"] == 1
        assert inv.alerts()[0].slot_id == slot


def test_apply_goes_on_after_a_refused_move() -> None:
    inv = inventory()
    inv.apply(crane("PICK", "MSCU1", "buffer-a:B01R1", 1))        # not there: refused, counted
    inv.apply(crane("PLACE", "MSCU2", "buffer-a:B01R1", 2))
    inv.apply(OccupancyUpdate(zone_id="buffer-a", seq=1, ts_utc=T, slots=(
        SlotState(slot_id="buffer-a:B01R1", occupied=True, kind="container", since_utc=T),)))
    assert inv.counters["refused.not_there"] == 1
    assert inv.stack("buffer-a:B01R1") == ("MSCU2",)
    assert inv.alerts() == []

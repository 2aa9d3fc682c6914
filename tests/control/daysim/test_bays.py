"""A transfer bay's bookkeeping: IGV places, stand reservations, the crane's view, which trucks it serves."""

from __future__ import annotations

from typing import get_args

import pytest

from bus.messages import JobKind
from control.cranes import IGVAtBay, StandLoad
from control.daysim.bays import EXPORT_STANDS, IMPORT_STANDS, UNDER_CRANE, Bay, Cargo, TruckVisit

TRANSFER = 500
STAGING = (498, 496)


def bay(stands: int = 6, *, staging: tuple[int, ...] = STAGING) -> Bay:
    return Bay(bay_id="bay-1", crane_id="crane-1", transfer_cell=TRANSFER, staging_cells=staging,
               stands=[None] * stands)


def load(kind: JobKind, job_id: str = "j") -> StandLoad:
    return StandLoad(job_id=job_id, kind=kind, container_number=f"C-{job_id}", since_s=1.0)


def truck(truck_id: str, kind: JobKind = "export", jobs: int = 1, *, done: tuple[int, ...] = ()) -> TruckVisit:
    cargo = [Cargo(f"{truck_id}-{k + 1}", f"N{truck_id}{k + 1}") for k in range(jobs)]
    return TruckVisit(truck_id=truck_id, kind=kind, arrived_s=0.0, cargo=cargo, bay_id="bay-1", at_bay_s=10.0,
                      done={f"{truck_id}-{k + 1}" for k in done})


def igv(kind: JobKind, job_id: str = "igv-job") -> IGVAtBay:
    return IGVAtBay(igv_id="igv-01", job_id=job_id, kind=kind, container_number=f"C-{job_id}", since_s=5.0)


# --- IGV places ----------------------------------------------------------------------------------------------------
def test_the_transfer_point_goes_first_then_the_staging_spots_in_order() -> None:
    b = bay()
    assert b.staging == [None, None]
    assert b.has_free_place()
    assert [b.reserve(c) for c in ("a", "b", "c")] == [TRANSFER, *STAGING]
    assert (b.transfer_holder, b.staging, list(b.staged_order)) == ("a", ["b", "c"], ["b", "c"])
    assert not b.has_free_place()
    assert b.reserve("d") is None
    assert (b.transfer_holder, b.staging) == ("a", ["b", "c"])      # a refused call changes nothing


def test_a_spot_an_igv_still_stands_on_is_taken_last_and_never_strictly() -> None:
    """An IGV sent from nearby to a spot the leaving IGV still stands on would meet it head on at the entrance."""
    b = bay()
    assert [b.reserve(c) for c in ("a", "b")] == [TRANSFER, STAGING[0]]
    assert b.reserve("c", frozenset({STAGING[0]})) == STAGING[1]
    assert b.free_transfer() == "b"                # "b" moves up; its IGV still stands on the first spot
    leaving = frozenset({STAGING[0]})
    assert b.has_free_place()
    assert not b.has_free_place(leaving)
    assert b.reserve("d", leaving, strict=True) is None
    assert b.staging == [None, "c"]                # a refused call changes nothing
    assert b.reserve("d", leaving) == STAGING[0]   # an import loading in China may take it: it comes much later


def test_freeing_the_transfer_point_moves_the_longest_staged_call_up() -> None:
    b = bay()
    for call in ("a", "b", "c"):
        b.reserve(call)
    assert b.free_transfer() == "b"
    assert (b.transfer_holder, b.staging, list(b.staged_order)) == ("b", [None, "c"], ["c"])
    assert b.reserve("d") == STAGING[0]          # the freed spot is reused
    assert list(b.staged_order) == ["c", "d"]    # ... but "c" was staged first and moves up first
    assert b.free_transfer() == "c"
    assert b.free_transfer() == "d"
    assert (b.transfer_holder, b.staging) == ("d", [None, None])
    assert b.free_transfer() is None
    assert b.transfer_holder is None
    assert b.reserve("e") == TRANSFER


@pytest.mark.parametrize(("staging", "places"), [((), 1), ((498,), 2), ((498, 496, 494), 4)])
def test_a_bay_has_one_place_per_cell(staging: tuple[int, ...], places: int) -> None:
    b = bay(staging=staging)
    cells = [b.reserve(f"call-{k}") for k in range(places)]
    assert cells == [TRANSFER, *staging]
    assert not b.has_free_place()
    assert b.reserve("one too many") is None


# --- stands --------------------------------------------------------------------------------------------------------
def test_the_stand_reserves_leave_room_for_both_flows() -> None:
    assert EXPORT_STANDS >= 1
    assert IMPORT_STANDS >= 1
    assert UNDER_CRANE >= 1


@pytest.mark.parametrize(("on_stands", "reserved", "count", "ok"), [
    ([], 0, 1, True),
    ([], 0, 6 - EXPORT_STANDS, True),
    ([], 0, 6 - EXPORT_STANDS + 1, False),      # the last EXPORT_STANDS stay for exports
    ([], 3, 1, True),
    ([], 4, 1, False),
    (["import", "import"], 0, 2, True),
    (["import", "import"], 0, 3, False),
    (["import", "import"], 2, 1, False),
    (["export", "export", "export"], 0, 3, True),
    (["export", "export", "export"], 0, 4, False),  # only three stands free
    (["export"] * 5, 0, 1, True),
    (["export"] * 6, 0, 1, False),
    (["export", "export", "export", "import"], 1, 1, True),
    (["export", "export", "export", "import"], 2, 1, False),  # free stands all reserved
])
def test_can_reserve_stand(on_stands: list[JobKind], reserved: int, count: int, ok: bool) -> None:
    b = bay()
    for index, kind in enumerate(on_stands):
        b.stands[index] = load(kind, f"s{index}")
    b.reserved.update(f"r{k}" for k in range(reserved))
    assert b.can_reserve_stand(count) is ok


def test_reserve_stands_is_all_or_none() -> None:
    b = bay()
    assert not b.reserve_stands(["a", "b", "c", "d", "e"])
    assert b.reserved == set()
    assert b.reserve_stands(["a", "b", "c"])
    assert b.reserved == {"a", "b", "c"}
    assert not b.reserve_stands(["d", "e"])       # one would fit, two do not: neither is reserved
    assert b.reserved == {"a", "b", "c"}
    assert b.reserve_stands(["d"])
    assert b.reserved == {"a", "b", "c", "d"}
    assert not b.can_reserve_stand()
    assert b.reserve_stands([])                    # nothing asked, nothing reserved
    assert b.reserved == {"a", "b", "c", "d"}


# --- the crane's view ----------------------------------------------------------------------------------------------
def shown_free(b: Bay, lane: int = 0) -> list[int]:
    return [index for index, stand in enumerate(b.view(lane).stands) if stand is None]


@pytest.mark.parametrize(("on_stands", "reserved", "free"), [
    ({}, 0, [0, 1, 2, 3]),                          # IMPORT_STANDS kept back from export trucks
    ({}, 3, [0, 1, 2]),                             # free minus reserved
    ({}, 6, []),
    ({0: "export", 1: "export"}, 0, [2, 3]),
    ({0: "export", 1: "export", 2: "export", 3: "export"}, 0, []),
    ({0: "import", 5: "import"}, 2, [1, 2]),
    ({1: "import"}, 0, [0, 2, 3, 4]),
])
def test_the_view_hides_stands_exports_may_not_fill(on_stands: dict[int, JobKind], reserved: int,
                                                    free: list[int]) -> None:
    b = bay()
    for index, kind in on_stands.items():
        b.stands[index] = load(kind, f"s{index}")
    b.reserved.update(f"r{k}" for k in range(reserved))
    view = b.view()
    assert shown_free(b) == free
    assert len(view.stands) == len(b.stands)
    for index, kind in on_stands.items():            # real loads are shown as they are
        shown = view.stands[index]
        assert shown == b.stands[index]
        assert shown is not None
        assert shown.kind == kind
    hidden = [s for i, s in enumerate(view.stands) if i not in on_stands and s is not None]
    assert all(s.job_id == "reserved" for s in hidden)
    assert b.stands.count(None) == 6 - len(on_stands)    # the view never changes the bay


@pytest.mark.parametrize(("reserved", "free"), [(0, [0]), (4, [0]), (6, [0])])
def test_an_import_igv_under_the_crane_sees_exactly_one_stand(reserved: int, free: list[int]) -> None:
    """Its stand was reserved before it was loaded in China, so one free stand is always its own."""
    b = bay()
    b.reserved.update(f"r{k}" for k in range(reserved))
    b.igv = igv("import")
    assert shown_free(b) == free
    assert b.view().igv == b.igv


def test_an_import_igv_sees_no_stand_when_all_are_taken() -> None:
    b = bay()
    b.stands = [load("export", f"s{k}") for k in range(6)]
    b.igv = igv("import")
    assert shown_free(b) == []


def test_an_export_igv_does_not_lift_the_import_reserve() -> None:
    b = bay()
    b.reserved.update({"r0", "r1"})
    b.igv = igv("export")
    assert shown_free(b) == [0, 1, 2, 3]


def test_the_view_shows_the_truck_in_the_lane_and_its_next_container() -> None:
    b = bay()
    assert b.view().truck is None
    b.trucks.extend([truck("T1", jobs=2), truck("T2", "import")])
    first = b.view(0).truck
    assert first is not None
    assert (first.truck_id, first.job_id, first.kind, first.container_number, first.since_s) == \
        ("T1", "T1-1", "export", "NT11", 10.0)
    second = b.view(1).truck
    assert second is not None
    assert (second.truck_id, second.job_id, second.kind) == ("T2", "T2-1", "import")
    assert b.view(2).truck is None                 # no third truck
    b.igv = igv("export", job_id="T1-2")           # the crane serves the IGV's own container first
    preferred = b.view(0).truck
    assert preferred is not None
    assert preferred.job_id == "T1-2"
    b.trucks[0].done.update({"T1-1", "T1-2"})      # a loaded truck offers nothing
    assert b.view(0).truck is None
    assert b.view(0).bay_id == "bay-1"


# --- trucks --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kinds", "served"), [
    ([], [0]),
    (["export"], [0]),
    (["export", "export"], [0, 1]),
    (["export", "export", "export", "export"], [0, 1]),
    (["import", "import", "import"], [0, 1, 2]),
    (["export", "export", "import", "export", "import"], [0, 1, 2, 4]),
    (["import", "export", "export"], [0, 1]),
])
def test_served_trucks_are_the_lanes_under_the_crane_and_imports_behind(kinds: list[JobKind],
                                                                        served: list[int]) -> None:
    assert UNDER_CRANE == 2                      # the table is written for two lanes
    b = bay()
    b.trucks.extend(truck(f"T{k}", kind) for k, kind in enumerate(kinds))
    assert b.served_trucks() == served
    assert b.queued() == len(kinds)


@pytest.mark.parametrize(("job_id", "found"), [
    ("T0-1", "T0"),
    ("T0-2", None),        # already lifted off
    ("T1-2", "T1"),
    ("T2-1", None),        # an export third in the queue: not under the crane
    ("T3-1", "T3"),        # an import further back pulls in beside the queue
    ("T9-1", None),        # no such job
])
def test_truck_with_finds_the_served_truck_holding_the_job(job_id: str, found: str | None) -> None:
    b = bay()
    b.trucks.extend([truck("T0", jobs=2, done=(1,)), truck("T1", jobs=2), truck("T2"), truck("T3", "import")])
    visit = b.truck_with(job_id)
    assert (visit.truck_id if visit is not None else None) == found


def test_truck_with_on_an_empty_bay_is_none() -> None:
    assert bay().truck_with("T0-1") is None


@pytest.mark.parametrize(("jobs", "done", "prefer", "expected"), [
    (1, (), None, "T-1"),
    (2, (), None, "T-1"),
    (2, (), "T-2", "T-2"),
    (2, (0,), "T-2", "T-2"),
    (2, (0,), None, "T-2"),
    (2, (1,), None, "T-1"),
    (2, (1,), "T-2", "T-1"),     # the preferred job is done: the next remaining one
    (2, (), "other", "T-1"),     # a job the truck does not carry
    (2, (0, 1), None, None),
    (2, (0, 1), "T-1", None),
])
def test_next_cargo(jobs: int, done: tuple[int, ...], prefer: str | None, expected: str | None) -> None:
    visit = truck("T", jobs=jobs, done=done)
    cargo = visit.next_cargo(prefer)
    assert (cargo.job_id if cargo is not None else None) == expected
    assert visit.loaded is (expected is None)


@pytest.mark.parametrize("kind", get_args(JobKind))
def test_a_truck_is_loaded_once_every_container_is_done(kind: JobKind) -> None:
    visit = truck("T", kind, jobs=2)
    assert not visit.loaded
    visit.done.add("T-1")
    assert not visit.loaded
    visit.done.add("T-2")
    assert visit.loaded

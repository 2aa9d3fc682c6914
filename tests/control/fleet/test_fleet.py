"""The fleet: spots at start, nearest-IGV assignment, arriving in the crane's window, batteries and charging,
re-solving, holds, device sync, blocked cells, cancels, bad requests, and a long run on the bundled yard checked by
the independent validator."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from control.fleet.config import FleetConfig
from control.fleet.fleet import Fleet, FleetError
from control.fleet.tasks import Task
from control.planning.grid_map import GridMap
from control.planning.validate import validate
from tests.control.fleet.conftest import named
from tests.control.planning.planner_cases import against_lane, ascii_map, cells

TICK = 0.4


def open_map(width: int, height: int = 3) -> GridMap:
    return ascii_map(f"open-{width}x{height}", ["." * width] * height)


def at(grid: GridMap, *xy: tuple[int, int]) -> np.ndarray:
    return cells(grid, list(xy))


def cell(grid: GridMap, x: int, y: int) -> int:
    return int(at(grid, (x, y))[0])


class Crane:
    """The engine's side in these tests: at a pickup the IGV is held for ``serve_ticks`` then sent to a drop
    cell; at the drop it is released. Records every arrival."""

    def __init__(self, fleet: Fleet, drops: list[int], serve_ticks: int = 5) -> None:
        self.fleet = fleet
        self.drops = drops
        self.serve_ticks = serve_ticks
        self.serving: dict[int, int] = {}           # igv -> tick its service ends
        self.leg: dict[int, str] = {}               # igv -> "drop" once loaded
        self.done = 0
        self.arrivals: list[tuple[int, int, str]] = []

    def tick(self, tick: int, arrived: np.ndarray) -> None:
        fleet = self.fleet
        modes = fleet.modes
        for i in arrived.tolist():
            self.arrivals.append((tick, i, modes[i]))
            if modes[i] != "busy":
                continue
            if self.leg.get(i) == "drop":
                del self.leg[i]
                fleet.release(i)
                self.done += 1
            else:
                fleet.hold(i, True)
                self.serving[i] = tick + self.serve_ticks
        for i, end in list(self.serving.items()):
            if tick >= end:
                del self.serving[i]
                fleet.hold(i, False)
                fleet.send(i, self.drops[i % len(self.drops)], "to_drop")
                self.leg[i] = "drop"


def run(fleet: Fleet, ticks: int, *, first: int = 0, crane: Crane | None = None,
        history: list[np.ndarray] | None = None) -> list[tuple[int, np.ndarray]]:
    """Dispatch and step ``ticks`` times; returns (tick, arrived) for the ticks with arrivals."""
    out = []
    for tick in range(first, first + ticks):
        t = tick * TICK
        fleet.dispatch(t)
        arrived = fleet.step(t)
        if history is not None:
            history.append(fleet.positions.copy())
        if arrived.size:
            out.append((tick, arrived))
        if crane is not None:
            crane.tick(tick, arrived)
    return out


# ---- spots at start ----------------------------------------------------------------------------------------------

def test_starts_on_spots_keep_them_and_the_others_take_the_nearest_free_ones(yard):
    parking = named(yard, "igv-parking")
    rng = np.random.default_rng(0)
    others = rng.choice(np.setdiff1d(yard.free_cells, parking), size=17, replace=False)
    starts = np.concatenate([parking[:3], others]).astype(np.int32)
    fleet = Fleet(yard, FleetConfig(igvs=20), starts, parking=parking, charging=named(yard, "igv-charging"))
    modes = fleet.modes
    assert Counter(modes) == Counter({"parking": len(parking), "idle": 20 - len(parking)})
    goals = fleet.goals()
    assert goals[:3].tolist() == parking[:3]
    parked = [int(goals[i]) for i, mode in enumerate(modes) if mode == "parking"]
    assert sorted(parked) == sorted(parking)                    # every spot used once
    idle = [i for i, mode in enumerate(modes) if mode == "idle"]
    assert (goals[idle] == starts[idle]).all()                  # no spot left: wait where they are
    assert fleet.ids()[:2] == ["igv-01", "igv-02"]


def test_ids_widen_for_large_fleets():
    grid = open_map(120, 1)
    fleet = Fleet(grid, FleetConfig(igvs=100), np.arange(100), parking=[], charging=[])
    assert fleet.ids()[0] == "igv-001"
    assert fleet.ids()[-1] == "igv-100"


# ---- assignment --------------------------------------------------------------------------------------------------

def test_the_nearest_igv_gets_the_task_and_its_arrival_is_reported_once():
    grid = open_map(20)
    fleet = Fleet(grid, FleetConfig(igvs=2), at(grid, (0, 1), (15, 1)), parking=[], charging=[])
    fleet.submit(Task("a", cell(grid, 18, 1)))
    assert fleet.dispatch(0.0) == [("a", 1)]
    assert fleet.modes == ["idle", "to_pickup"]
    assert fleet.task_of(1) == "a"
    assert fleet.task_of(0) is None
    arrivals = run(fleet, 20, first=1)
    assert [(tick, a.tolist()) for tick, a in arrivals] == [(3, [1])]
    assert fleet.modes == ["idle", "busy"]
    assert fleet.positions[1] == cell(grid, 18, 1)


def test_an_early_igv_waits_and_arrives_just_before_the_crane_is_ready():
    grid = open_map(20)
    fleet = Fleet(grid, FleetConfig(igvs=1), at(grid, (0, 1)), parking=[], charging=[])
    fleet.submit(Task("late", cell(grid, 19, 1), ready_s=60.0))
    assert fleet.dispatch(0.0) == [("late", 0)]
    assert fleet.waiting().tolist() == [True]
    run(fleet, 60, first=1)                                      # 24 s: still waiting where it is
    assert fleet.positions.tolist() == at(grid, (0, 1)).tolist()
    arrivals = run(fleet, 140, first=61)
    (tick, _), = arrivals
    assert 60.0 - 20.0 <= tick * TICK <= 60.0


def test_more_tasks_than_igvs_serves_the_one_ready_first():
    grid = open_map(20)
    fleet = Fleet(grid, FleetConfig(igvs=1), at(grid, (10, 1)), parking=[], charging=[])
    fleet.submit(Task("later", cell(grid, 11, 1), ready_s=500.0))
    fleet.submit(Task("now", cell(grid, 0, 1), ready_s=0.0))
    assert fleet.dispatch(0.0) == [("now", 0)]


def test_a_battery_that_cannot_do_the_trip_and_reach_a_charger_is_not_assigned():
    grid = open_map(20)
    charger = cell(grid, 0, 0)
    fleet = Fleet(grid, FleetConfig(igvs=2), at(grid, (18, 1), (2, 1)), parking=[], charging=[charger])
    fleet.battery[0] = 0.0003                  # 7 ticks of driving: enough for the pickup, not for the charger
    fleet.submit(Task("a", cell(grid, 19, 2)))
    assert fleet.dispatch(0.0) == [("a", 1)]
    fleet.battery[1] = 0.0
    fleet.cancel("a")
    fleet.submit(Task("b", cell(grid, 19, 2)))
    assert fleet.dispatch(0.4) == []


def test_a_low_battery_charges_until_full_then_parks():
    grid = open_map(10)
    charger, spot = cell(grid, 0, 0), cell(grid, 9, 2)
    config = FleetConfig(igvs=1, charge_per_tick=0.05, drain_per_tick=0.01)
    fleet = Fleet(grid, config, at(grid, (5, 1)), parking=[spot], charging=[charger])
    assert fleet.modes == ["parking"]
    fleet.battery[0] = 0.1
    fleet.release(0)
    assert fleet.modes == ["charging"]
    assert fleet.goals().tolist() == [charger]
    levels = []
    for tick in range(40):
        fleet.step(tick * TICK)
        levels.append((fleet.modes[0], float(fleet.battery[0]), int(fleet.positions[0])))
    on_charger = [level for mode, level, where in levels if mode == "charging" and where == charger]
    assert on_charger
    assert all(b > a for a, b in itertools.pairwise(on_charger))
    assert levels[-1][0] == "parking"
    assert levels[-1][2] == spot
    assert max(level for _, level, _ in levels) >= config.full_battery


def test_no_spot_free_leaves_an_igv_idle_until_one_frees_up():
    grid = open_map(10)
    spot = cell(grid, 9, 2)
    fleet = Fleet(grid, FleetConfig(igvs=2, reassign_every_ticks=1), at(grid, (0, 1), (9, 2)), parking=[spot],
                  charging=[])
    assert fleet.modes == ["idle", "parking"]
    fleet.send(1, cell(grid, 5, 0), "to_drop")                    # leaves the spot
    fleet.dispatch(0.0)
    assert fleet.modes == ["parking", "to_drop"]
    assert fleet.goals()[0] == spot


# ---- re-solving --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("free_x", "owner"), [(22, 1), (30, 0)])
def test_a_resolve_hands_the_task_to_a_clearly_closer_free_igv(free_x, owner):
    grid = open_map(40)
    config = FleetConfig(igvs=2, reassign_every_ticks=5)
    fleet = Fleet(grid, config, at(grid, (0, 1), (free_x, 0)), parking=[], charging=[])
    fleet.hold(1, True)                                           # not free at first
    fleet.submit(Task("far", cell(grid, 20, 1), ready_s=200.0))  # early: IGV 0 waits at distance 20
    assert fleet.dispatch(0.0) == [("far", 0)]
    fleet.hold(1, False)                                          # now free, at distance 3 or 11
    moved = fleet.dispatch(5 * TICK)
    assert fleet.task_of(owner) == "far"
    assert fleet.task_of(1 - owner) is None
    assert moved == ([("far", 1)] if owner == 1 else [])
    assert fleet.modes[1 - owner] == "idle"
    assert fleet.modes[owner] == "to_pickup"


def test_a_held_igv_on_its_way_loses_its_task_at_the_next_resolve():
    grid = open_map(30)
    fleet = Fleet(grid, FleetConfig(igvs=2, reassign_every_ticks=5), at(grid, (0, 1), (29, 0)), parking=[],
                  charging=[])
    fleet.hold(1, True)
    fleet.submit(Task("a", cell(grid, 20, 1)))
    assert fleet.dispatch(0.0) == [("a", 0)]
    run(fleet, 3, first=1)
    fleet.hold(0, True)                                           # broken down on the way
    fleet.hold(1, False)
    stuck = int(fleet.positions[0])
    assert fleet.dispatch(5 * TICK) == [("a", 1)]
    run(fleet, 20, first=6)
    assert fleet.positions[0] == stuck
    assert fleet.task_of(0) is None


# ---- holds, sync, blocked cells -----------------------------------------------------------------------------------

def test_held_igvs_never_move_while_traffic_flows_and_nothing_conflicts(yard):
    parking, charging = named(yard, "igv-parking"), named(yard, "igv-charging")
    bays = [yard.names[f"bay-{k}"] for k in (1, 2, 3)]
    rng = np.random.default_rng(4)
    starts = rng.choice(yard.free_cells, size=30, replace=False)
    fleet = Fleet(yard, FleetConfig(igvs=30, reassign_every_ticks=10), starts, parking=parking, charging=charging)
    held = [3, 17, 25]
    for i in held:
        fleet.hold(i, True)
    crane = Crane(fleet, drops=parking[:4] + charging[:2])
    history = [fleet.positions.copy()]
    for k in range(40):
        fleet.submit(Task(f"t{k}", bays[k % 3], ready_s=k * 4.0))
    run(fleet, 600, crane=crane, history=history)
    paths = np.stack(history)
    assert (paths[:, held] == paths[0, held]).all()
    assert validate(yard, paths[0], paths[-1], paths, require_goals=False) == []
    assert crane.done >= 5


def test_sync_continues_from_the_actual_cells_and_rearms_a_refused_arrival():
    grid = open_map(10)
    fleet = Fleet(grid, FleetConfig(igvs=2), at(grid, (3, 1), (8, 0)), parking=[], charging=[])
    fleet.submit(Task("a", cell(grid, 4, 1)))
    fleet.dispatch(0.0)
    before = fleet.positions.copy()
    battery = fleet.battery.copy()
    assert fleet.step(0.0).tolist() == [0]
    assert fleet.modes == ["busy", "idle"]
    assert fleet.planned_next().tolist() == [cell(grid, 4, 1), cell(grid, 8, 0)]
    fleet.sync(before)                                             # the device refused the move
    assert fleet.positions.tolist() == before.tolist()
    assert fleet.modes == ["to_pickup", "idle"]
    assert fleet.battery.tolist() == battery.tolist()
    assert fleet.step(0.4).tolist() == [0]
    assert fleet.modes[0] == "busy"
    fleet.sync(fleet.positions.copy())                             # nothing changed: nothing to do
    with pytest.raises(FleetError, match="share the start"):
        fleet.sync(at(grid, (4, 1), (4, 1)))


def test_sync_leaves_an_igv_alone_that_the_engine_has_already_sent_on():
    grid = open_map(10)
    fleet = Fleet(grid, FleetConfig(igvs=1), at(grid, (3, 1)), parking=[], charging=[])
    fleet.submit(Task("a", cell(grid, 4, 1)))
    fleet.dispatch(0.0)
    before = fleet.positions.copy()
    assert fleet.step(0.0).tolist() == [0]
    fleet.send(0, cell(grid, 9, 1), "to_drop")                    # acted on the arrival before syncing
    fleet.sync(before)
    assert fleet.modes == ["to_drop"]
    assert fleet.goals().tolist() == [cell(grid, 9, 1)]


def test_blocked_cells_are_never_entered_and_unblocking_restores_them(yard):
    parking, charging = named(yard, "igv-parking"), named(yard, "igv-charging")
    bays = [yard.names[f"bay-{k}"] for k in (1, 2, 3)]
    rng = np.random.default_rng(9)
    fleet = Fleet(yard, FleetConfig(igvs=25, reassign_every_ticks=10), rng.choice(yard.free_cells, 25, False),
                  parking=parking, charging=charging)
    crane = Crane(fleet, drops=parking[4:10])
    for k in range(30):
        fleet.submit(Task(f"t{k}", bays[k % 3], ready_s=k * 5.0))
    history = [fleet.positions.copy()]
    run(fleet, 50, crane=crane, history=history)
    candidates = np.setdiff1d(yard.free_cells, np.concatenate([fleet.positions, parking, charging, bays]))
    blocked = rng.choice(candidates, size=6, replace=False)
    for c in blocked.tolist():
        fleet.block_cell(c, True)
    fleet.block_cell(int(blocked[0]), True)                        # twice: no change
    with pytest.raises(FleetError, match="stands on it"):
        fleet.block_cell(int(fleet.positions[0]), True)
    start = len(history) - 1
    run(fleet, 400, first=50, crane=crane, history=history)
    paths = np.stack(history[start:])
    assert not np.isin(paths, blocked).any()
    assert validate(fleet.grid, paths[0], paths[-1], paths, require_goals=False) == []
    assert against_lane(yard, paths) == 0
    done = crane.done
    for c in blocked.tolist():
        fleet.block_cell(c, False)
    assert fleet.grid.passable.ravel()[blocked].all()
    run(fleet, 300, first=450, crane=crane)
    assert crane.done > done


def test_a_blocked_target_makes_the_igv_wait_until_it_is_free_again():
    grid = open_map(12)
    fleet = Fleet(grid, FleetConfig(igvs=1, reassign_every_ticks=1), at(grid, (0, 1)), parking=[], charging=[])
    pickup = cell(grid, 10, 1)
    fleet.block_cell(pickup, True)
    fleet.submit(Task("a", pickup))
    assert fleet.dispatch(0.0) == []                               # cannot be reached now
    fleet.block_cell(pickup, False)
    assert fleet.dispatch(0.4) == [("a", 0)]
    run(fleet, 3, first=2)
    fleet.block_cell(pickup, True)
    run(fleet, 5, first=5)
    where = int(fleet.positions[0])
    assert fleet.goals().tolist() == [where]
    assert where != pickup
    fleet.block_cell(pickup, False)
    assert run(fleet, 12, first=10)[0][1].tolist() == [0]
    assert fleet.positions[0] == pickup


# ---- cancel, release, bad requests --------------------------------------------------------------------------------

def test_cancel_and_release():
    grid = open_map(10)
    spot = cell(grid, 9, 2)
    fleet = Fleet(grid, FleetConfig(igvs=1), at(grid, (9, 2)), parking=[spot], charging=[])
    fleet.submit(Task("gone", cell(grid, 0, 0)))
    fleet.cancel("gone")
    assert fleet.dispatch(0.0) == []
    fleet.submit(Task("a", cell(grid, 0, 0)))
    assert fleet.dispatch(0.4) == [("a", 0)]
    run(fleet, 2, first=2)
    fleet.cancel("a")                                              # driving empty: back to parking
    assert fleet.modes == ["parking"]
    assert fleet.task_of(0) is None
    assert fleet.goals().tolist() == [spot]
    fleet.submit(Task("b", cell(grid, 0, 0)))
    fleet.dispatch(2.0)
    fleet.send(0, cell(grid, 5, 1), "to_drop")
    fleet.release(0)
    assert fleet.task_of(0) is None
    assert fleet.modes == ["parking"]
    run(fleet, 2, first=6)
    with pytest.raises(FleetError, match="unknown task"):
        fleet.cancel("b")
    assert 0.0 < fleet.busy_fraction() < 1.0


@pytest.mark.parametrize(("call", "message"), [
    (lambda f: f.submit(Task("dup", 1)), "submitted already"),
    (lambda f: f.submit(Task("wall", 7)), "not a passable cell"),
    (lambda f: f.submit(Task("off", 999)), "not a passable cell"),
    (lambda f: f.submit(Task("bool", True)), "not a passable cell"),
    (lambda f: f.submit(Task("", 1)), "non-empty task_id"),
    (lambda f: f.submit(Task("nan", 1, ready_s=float("nan"))), "finite"),
    (lambda f: f.submit(("x", 1)), "must be a Task"),
    (lambda f: f.send(0, 1, "flying"), "unknown IGV mode"),
    (lambda f: f.send(0, -1, "to_drop"), "not a passable cell"),
    (lambda f: f.hold(5, True), "IGV index"),
    (lambda f: f.release(-1), "IGV index"),
    (lambda f: f.task_of(True), "IGV index"),
    (lambda f: f.cancel("nope"), "unknown task"),
    (lambda f: f.block_cell(7, True), "not a passable cell"),
    (lambda f: f.sync(np.array([0])), "positions for 2 agents"),
])
def test_bad_requests_are_refused(call, message):
    grid = ascii_map("small", ["....", "...#"])
    fleet = Fleet(grid, FleetConfig(igvs=2), np.array([0, 2]), parking=[], charging=[])
    fleet.submit(Task("dup", 1))
    with pytest.raises(FleetError, match=message):
        call(fleet)


@pytest.mark.parametrize(("starts", "parking", "message"), [
    ([0], [], "need 2 start cells"),
    ([0, 0], [], "share the start"),
    ([0, 7], [], "blocked"),
    ([0, 1], [7], "parking spot 7 is a blocked cell"),
    ([0, 1], [2, 2], "repeat a cell"),
    ([0, 1], [99], "not a cell"),
])
def test_bad_fleets_are_refused(starts, parking, message):
    grid = ascii_map("small", ["....", "...#"])
    with pytest.raises(FleetError, match=message):
        Fleet(grid, FleetConfig(igvs=2), np.array(starts), parking=parking, charging=[])


# ---- a long run ---------------------------------------------------------------------------------------------------

def test_fifty_igvs_for_an_hour_of_ticks_on_the_yard(yard):
    parking, charging = named(yard, "igv-parking"), named(yard, "igv-charging")
    bays = [yard.names[f"bay-{k}"] for k in (1, 2, 3)]
    rng = np.random.default_rng(21)
    starts = rng.choice(yard.free_cells, size=50, replace=False)
    fleet = Fleet(yard, FleetConfig(igvs=50, reassign_every_ticks=25), starts, parking=parking, charging=charging)
    drops = rng.choice(np.setdiff1d(yard.free_cells, np.concatenate([parking, charging, bays])), 8, False).tolist()
    crane = Crane(fleet, drops=drops)
    history = [fleet.positions.copy()]
    spot_owners: list[int] = []
    for k in range(400):
        fleet.submit(Task(f"t{k}", bays[k % 3], ready_s=k * 6.0))
    for tick in range(3000):
        run(fleet, 1, first=tick, crane=crane, history=history)
        if tick % 100 == 0:
            goals, modes = fleet.goals(), fleet.modes
            parked = [int(goals[i]) for i, mode in enumerate(modes) if mode in ("parking", "charging")]
            spot_owners.append(len(parked) - len(set(parked)))
    paths = np.stack(history)
    assert validate(yard, starts, paths[-1], paths, require_goals=False) == []
    assert against_lane(yard, paths) == 0
    assert crane.done >= 100                                        # jobs keep flowing
    assert spot_owners == [0] * len(spot_owners)                    # a spot is never shared
    assert 0.0 < fleet.busy_fraction() <= 1.0
    assert (fleet.battery < 1.0).any()
    assert (fleet.battery >= 0.0).all()
    picked = Counter(mode for _, _, mode in crane.arrivals)
    assert picked["busy"] >= 2 * crane.done - 1

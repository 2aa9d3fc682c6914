"""The simulated site: a valid layout, the bundled geometry for 3 cranes, everything reachable, one-way corridor."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely

from control.daysim.site_model import MAX_CHINA_POINTS, MAX_CRANES, MAX_STANDS, SimSite, build_sim_site
from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap
from tests.yard.test_layout import BUNDLED
from yard.grid import MOVE_NX, MOVE_PX
from yard.layout import load_layout


@pytest.fixture(scope="module")
def site() -> SimSite:
    return build_sim_site(3)


def has_move(grid: GridMap, source: int, target: int) -> bool:
    return bool(np.any(grid.successors[source, 1:] == target))


def cell_at(site: SimSite, x_m: float, y_m: float) -> int:
    return site.grid.cell(int(x_m // site.cell_m), int(y_m // site.cell_m))


def test_three_cranes_keep_the_bundled_yard(site: SimSite) -> None:
    bundled = load_layout(BUNDLED)
    assert site.bays == ("bay-1", "bay-2", "bay-3")
    for bay in site.bays:
        assert site.layout.transfer_points[bay] == bundled.transfer_points[bay]
        assert shapely.equals(site.layout.zone(bay).polygon, bundled.zone(bay).polygon)
    ours = [slot for slot in site.layout.slots if slot.zone_id == "bay-2"]
    theirs = [slot for slot in bundled.slots if slot.zone_id == "bay-2"]
    assert [slot.id for slot in ours] == [slot.id for slot in theirs] == ["bay-2:S1", "bay-2:S2"]
    for mine, bundled_slot in zip(ours, theirs, strict=True):
        assert mine.polygon.bounds == pytest.approx(bundled_slot.polygon.bounds)
    for lane in ("igv-south", "igv-east", "igv-north", "igv-west", "igv-mid", "queue-in-1", "queue-out"):
        assert shapely.equals(site.layout.zone(lane).polygon, bundled.zone(lane).polygon), lane
    assert site.layout.border_x_m == bundled.border_x_m == 500.0
    assert site.layout.size_m[1] == 160.0
    assert [spec.crane_id for spec in site.crane_specs] == ["crane-1", "crane-2", "crane-3"]
    assert [spec.x_m for spec in site.crane_specs] == [220.0, 280.0, 340.0]


def test_named_cells_match_the_layout(site: SimSite) -> None:
    assert site.transfer_cell["bay-1"] == cell_at(site, 213, 25)
    assert site.staging_cells["bay-1"][0] == cell_at(site, 197, 29)
    assert len(set(site.staging_cells["bay-1"])) == 4
    assert len(site.parking) == 60
    assert len(set(site.parking)) == 60
    assert len(site.charging) == 12
    assert len(set(site.charging)) == 12
    assert len(site.china_cells) == 6
    assert site.layout.zone("cn-bay-1").crane == "cn-crane-1"
    staging = [c for cells in site.staging_cells.values() for c in cells]
    every = [*site.transfer_cell.values(), *staging, *site.china_cells, *site.parking, *site.charging]
    assert len(set(every)) == len(every)
    assert site.stands_per_bay == 2
    assert site.corridor_m == 3600.0


def test_every_named_cell_reachable_from_every_parking_spot_and_back(site: SimSite) -> None:
    table = DistanceTable(site.grid)
    parking = np.asarray(site.parking)
    staging = [c for cells in site.staging_cells.values() for c in cells]
    named = np.asarray([*site.transfer_cell.values(), *staging, *site.china_cells, *site.charging])
    for goal in named.tolist():
        assert (table.to_goal(goal)[parking] > 0).all(), f"a parking spot cannot reach cell {goal}"
    to_parking = table.for_goals(parking)
    assert (to_parking[:, named] > 0).all(), "a named cell cannot reach a parking spot"


def test_corridor_is_driven_about_corridor_m(site: SimSite) -> None:
    table = DistanceTable(site.grid)
    out_m = table.to_goal(site.china_cells[0])[site.transfer_cell["bay-3"]] * site.cell_m
    back_m = table.to_goal(site.transfer_cell["bay-3"])[site.china_cells[0]] * site.cell_m
    assert 3600 <= out_m <= 3600 * 1.1
    assert 3600 <= back_m <= 3600 * 1.25      # back round the one-way loop of the Vietnamese yard
    stage_m = table.to_goal(site.transfer_cell["bay-2"])[site.staging_cells["bay-2"][0]] * site.cell_m
    assert stage_m <= 40    # the waiting IGV is seconds from the crane


def test_corridor_lanes_are_one_way(site: SimSite) -> None:
    grid = site.grid
    x = int(2000 // site.cell_m)
    east_lane = [grid.cell(x, y) for y in (42, 43)]      # y 84–88 m
    west_lane = [grid.cell(x, y) for y in (44, 45)]      # y 88–92 m
    for cell in east_lane:
        assert has_move(grid, cell, cell + 1)
        assert not has_move(grid, cell, cell - 1)
        assert grid.move_bits[cell] & MOVE_PX
        assert not grid.move_bits[cell] & MOVE_NX
    for cell in west_lane:
        assert has_move(grid, cell, cell - 1)
        assert not has_move(grid, cell, cell + 1)
    # nothing two-way in the corridor: the cells beside the lanes are walls
    assert not grid.passable[41, x]
    assert not grid.passable[46, x]


@pytest.mark.parametrize("cranes", [1, 8])
def test_other_crane_counts_build(cranes: int) -> None:
    site = build_sim_site(cranes, parking=100, charging=20, stands_per_bay=4)
    assert len(site.bays) == len(site.crane_specs) == len(site.transfer_cell) == len(site.staging_cells) == cranes
    xs = [site.layout.transfer_points[bay][0] for bay in site.bays]
    assert xs == [213.0 + 60.0 * k for k in range(cranes)]
    assert site.layout.border_x_m == 500.0 + 60.0 * max(0, cranes - 3)
    assert len(site.parking) == 100
    assert len(site.charging) == 20
    assert sum(slot.zone_id == site.bays[-1] for slot in site.layout.slots) == 4
    table = DistanceTable(site.grid)
    row = table.to_goal(site.transfer_cell[site.bays[-1]])
    assert (row[np.asarray([*site.parking, *site.china_cells])] > 0).all()


@pytest.mark.parametrize("cranes", [20, MAX_CRANES])
def test_the_yard_for_3500_trucks_builds(cranes: int) -> None:
    """The largest sites the capacity study uses: 20–24 bays of 8 stands, 16 Chinese points, 200 IGVs parked."""
    site = build_sim_site(cranes, china_points=MAX_CHINA_POINTS, parking=200, stands_per_bay=MAX_STANDS)
    assert len(site.bays) == cranes
    assert len(site.china_cells) == len(set(site.china_cells)) == MAX_CHINA_POINTS
    assert all(sum(slot.zone_id == bay for slot in site.layout.slots) == MAX_STANDS for bay in site.bays)
    assert site.layout.transfer_points[site.bays[-1]][0] == 213.0 + 60.0 * (cranes - 1)
    table = DistanceTable(site.grid)
    for goal in (site.transfer_cell[site.bays[-1]], site.china_cells[-1], site.parking[-1]):
        row = table.to_goal(goal)
        sources = [site.parking[0], site.transfer_cell[site.bays[0]], site.china_cells[0]]
        assert (row[np.asarray([cell for cell in sources if cell != goal])] > 0).all()


def test_a_tall_parking_moves_the_north_lane() -> None:
    site = build_sim_site(3, parking=300)
    assert len(site.parking) == 300
    assert site.layout.size_m[1] > 160.0
    assert site.layout.zone("igv-north").polygon.bounds[1] >= site.layout.zone("igv-parking").polygon.bounds[3]


def test_built_quickly_and_cached() -> None:
    start = time.monotonic()
    first = build_sim_site(5, corridor_m=3000.0)
    elapsed = time.monotonic() - start
    assert elapsed < 5.0
    assert build_sim_site(5, corridor_m=3000) is first


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cranes": 0}, "cranes"),
    ({"cranes": 25}, "cranes"),
    ({"cranes": 2.5}, "cranes"),
    ({"cranes": True}, "cranes"),
    ({"corridor_m": 50.0}, "corridor_m"),
    ({"corridor_m": float("nan")}, "corridor_m"),
    ({"corridor_m": "3600"}, "corridor_m"),
    ({"china_points": 0}, "china_points"),
    ({"parking": 0}, "parking"),
    ({"parking": 10_000}, "parking"),
    ({"charging": -1}, "charging"),
    ({"stands_per_bay": 9}, "stands_per_bay"),
])
def test_bad_arguments_raise(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_sim_site(**kwargs)  # type: ignore[arg-type]

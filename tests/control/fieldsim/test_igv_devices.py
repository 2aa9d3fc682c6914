"""IGVDevices: commanded moves executed only when allowed and safe, chains resolved to a fixed point, refusals
counted; random (often unsafe) commands on the yard never produce a collision; a tick costs microseconds."""

from __future__ import annotations

import time

import numpy as np
import pytest

from control.fieldsim.igv_devices import DeviceError, IGVDevices
from control.fieldsim.trajectory import TrajectoryLog
from control.planning.grid_map import GridMap, build_grid_map
from control.planning.result import InstanceError
from tests.control.fieldsim.yard_fixture import yard_map

# 5 wide, 3 high; (2, 1) is blocked. Cell ids: y * 5 + x.
#   0  1  2  3  4
#   5  6  #  8  9
#  10 11 12 13 14
OPEN = build_grid_map("open", np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 1], [1, 1, 1, 1, 1]], dtype=bool))
ONE_WAY = build_grid_map("lane", np.ones((1, 4), dtype=bool), np.full((1, 4), 1, dtype=np.uint8))   # +x only

CASES: list[tuple[str, GridMap, list[int], list[int], list[int], int]] = [
    # name, grid, starts, commanded, expected positions, refused
    ("all wait", OPEN, [0, 4], [0, 4], [0, 4], 0),
    ("free moves", OPEN, [0, 4], [1, 9], [1, 9], 0),
    ("chain of followers", OPEN, [0, 1, 2], [1, 2, 3], [1, 2, 3], 0),
    ("leader stays, chain stays", OPEN, [0, 1, 2], [1, 2, 2], [0, 1, 2], 2),
    ("leader refused, chain stays", OPEN, [0, 1, 2], [1, 2, 7], [0, 1, 2], 3),
    ("rotation of four", OPEN, [0, 1, 6, 5], [1, 6, 5, 0], [1, 6, 5, 0], 0),
    ("swap refused", OPEN, [0, 1], [1, 0], [0, 1], 2),
    ("swap refused, its follower too", OPEN, [0, 1, 5], [1, 0, 0], [0, 1, 5], 3),
    ("two into one free cell: lower index goes", OPEN, [0, 2], [1, 1], [1, 2], 1),
    ("into a stayer's cell", OPEN, [0, 1], [1, 1], [0, 1], 1),
    ("jump refused", OPEN, [0], [2], [0], 1),
    ("across the row end refused", OPEN, [4], [5], [4], 1),
    ("into a wall refused", OPEN, [1], [7], [1], 1),
    ("outside the map refused", OPEN, [0], [99], [0], 1),
    ("negative cell refused", OPEN, [0], [-1], [0], 1),
    ("with the lane", ONE_WAY, [0, 1], [1, 2], [1, 2], 0),
    ("against the lane refused", ONE_WAY, [2], [1], [2], 1),
]


@pytest.mark.parametrize(("name", "grid", "starts", "commanded", "expected", "refused"), CASES,
                         ids=[case[0] for case in CASES])
def test_moves_are_executed_only_when_allowed_and_safe(name: str, grid: GridMap, starts: list[int],
                                                       commanded: list[int], expected: list[int],
                                                       refused: int) -> None:
    devices = IGVDevices(grid, np.array(starts, dtype=np.int32))
    after = devices.execute(np.array(commanded, dtype=np.int64))
    assert after.tolist() == expected
    assert devices.positions.tolist() == expected
    assert devices.refused == refused


def test_broken_devices_lost_orders_and_blocked_cells_stay_put() -> None:
    devices = IGVDevices(OPEN, np.array([0, 3, 10], dtype=np.int32))
    devices.broken[0] = True
    lost = np.array([False, True, False])
    devices.block_cell(11, True)
    assert devices.execute(np.array([1, 4, 11]), lost).tolist() == [0, 3, 10]
    assert devices.refused == 1            # only the move into the obstacle; broken and lost ones got no order
    devices.broken[0] = False
    devices.block_cell(11, False)
    assert devices.execute(np.array([1, 4, 11])).tolist() == [1, 4, 11]


@pytest.mark.parametrize(("starts", "error"), [([0, 0], "start"), ([7], "blocked"), ([0, 15], "not a cell")])
def test_bad_starts_are_refused(starts: list[int], error: str) -> None:
    with pytest.raises(InstanceError, match=error):
        IGVDevices(OPEN, np.array(starts))


@pytest.mark.parametrize(("commanded", "lost"), [
    (np.array([1, 2, 3]), None), (np.array([1.0, 2.0]), None), (np.array([1, 2]), np.array([1, 0])),
])
def test_commands_of_the_wrong_shape_or_type_are_refused(commanded: np.ndarray, lost: np.ndarray | None) -> None:
    devices = IGVDevices(OPEN, np.array([0, 4]))
    with pytest.raises(DeviceError):
        devices.execute(commanded, lost)
    assert devices.positions.tolist() == [0, 4]


def test_random_hostile_commands_on_the_yard_never_collide() -> None:
    """Every IGV is told to go to a random neighbour (or anywhere) each tick: the devices refuse what is unsafe,
    and the executed trajectory, checked by the validator, has no conflict and no illegal move."""
    grid = yard_map()
    rng = np.random.default_rng(7)
    starts = rng.choice(grid.free_cells, 300, replace=False).astype(np.int32)
    log = TrajectoryLog(grid, starts, chunk_ticks=64)
    devices = IGVDevices(grid, starts, log)
    for _ in range(400):
        options = grid.successors[devices.positions]
        pick = options[np.arange(starts.size), rng.integers(0, 5, starts.size)]
        commanded = np.where(pick >= 0, pick, devices.positions)
        anywhere = rng.random(starts.size) < 0.02
        commanded[anywhere] = rng.integers(-5, grid.num_cells + 5, int(anywhere.sum()))
        devices.execute(commanded)
    log.close()
    assert (log.collisions, log.illegal_moves) == (0, 0)
    assert devices.refused > 0
    assert np.unique(devices.positions).size == starts.size


def test_a_tick_of_fifty_igvs_costs_microseconds() -> None:
    grid = yard_map()
    starts = np.array(sorted(grid.free_cells[::80][:50]), dtype=np.int32)
    devices = IGVDevices(grid, starts)
    commanded = grid.successors[starts, 1].copy()
    commanded[commanded < 0] = starts[commanded < 0]
    devices.execute(starts)                    # compiled (or loaded from the cache) once
    ticks = 5000
    began = time.perf_counter()
    for _ in range(ticks):
        devices.execute(commanded)
        devices.execute(starts)
    per_tick_us = (time.perf_counter() - began) / (2 * ticks) * 1e6
    assert per_tick_us < 60.0, per_tick_us         # typically ~5 µs; loose for a shared 2-core machine

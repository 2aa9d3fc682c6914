"""The planners' grid: passable cells, one-way lanes, named cells, and a bundled yard that IGVs can fully traverse."""

from __future__ import annotations

import time
from collections import deque

import numpy as np
import pytest
import shapely

from tests.yard.test_layout import BUNDLED, box, small_layout, zone
from yard.grid import MOVE_NX, MOVE_NY, MOVE_PX, MOVE_PY, MOVES, YardGrid, build_grid
from yard.layout import LayoutError, YardLayout, load_layout, parse_layout


@pytest.fixture(scope="module")
def bundled() -> YardLayout:
    return load_layout(BUNDLED)


@pytest.fixture(scope="module")
def grid(bundled: YardLayout) -> YardGrid:
    return build_grid(bundled)


def reachable(grid: YardGrid, start: tuple[int, int], *, backwards: bool = False) -> np.ndarray:
    """Plain BFS over allowed_moves (or against them: which cells can reach ``start``); independent of grid.py."""
    height, width = grid.passable.shape
    seen = np.zeros((height, width), dtype=bool)
    seen[start[1], start[0]] = True
    queue = deque([start])
    while queue:
        x, y = queue.popleft()
        for dx, dy, bit in MOVES:
            if backwards:
                px, py = x - dx, y - dy   # a predecessor moving (dx, dy) lands here
                if 0 <= px < width and 0 <= py < height and grid.allowed_moves[py, px] & bit and not seen[py, px]:
                    seen[py, px] = True
                    queue.append((px, py))
            elif grid.allowed_moves[y, x] & bit:
                nx, ny = x + dx, y + dy
                if not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((nx, ny))
    return seen


def cells_of_zone(grid: YardGrid, layout: YardLayout, zone_id: str) -> np.ndarray:
    """Boolean (H, W) mask of cells whose centre is strictly inside the zone."""
    height, width = grid.passable.shape
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    centres = grid.centre_of(np.column_stack([xs.ravel(), ys.ravel()]))
    inside = shapely.contains_xy(layout.zone(zone_id).polygon, centres[:, 0], centres[:, 1])
    mask: np.ndarray = inside.reshape(height, width)
    return mask


def test_bundled_grid_shape_and_named_cells(bundled: YardLayout, grid: YardGrid) -> None:
    assert grid.shape == (80, 300)
    assert grid.passable.dtype == bool
    assert grid.allowed_moves.dtype == np.uint8
    assert set(grid.named_cells) == set(bundled.transfer_points) | set(bundled.spots)
    assert len(set(grid.named_cells.values())) == len(grid.named_cells)
    for name, (x, y) in grid.named_cells.items():
        assert grid.passable[y, x], name
    assert grid.named_cells["bay-1"] == (106, 12)      # (213, 25) m on a 2 m grid
    assert grid.named_cells["igv-parking:P01"] == (215, 46)


def test_bundled_grid_is_strongly_connected(grid: YardGrid) -> None:
    start = grid.named_cells["bay-1"]
    forwards = reachable(grid, start)
    backwards = reachable(grid, start, backwards=True)
    assert forwards.sum() == grid.passable.sum() > 3000
    assert np.array_equal(forwards, grid.passable)
    assert np.array_equal(backwards, grid.passable)


def test_bundled_grid_reaches_china(grid: YardGrid) -> None:
    east_edge = np.flatnonzero(grid.passable[:, -1])
    assert east_edge.size == 8                          # the 16 m corridor leaves the frame at x = 600
    tail = reachable(grid, grid.named_cells["igv-parking:P01"])
    assert tail[east_edge, -1].all()


def test_moves_stay_on_passable_cells(grid: YardGrid) -> None:
    assert not grid.allowed_moves[~grid.passable].any()
    for dx, dy, bit in MOVES:
        ys, xs = np.nonzero(grid.allowed_moves & bit)
        assert grid.passable[ys + dy, xs + dx].all()


@pytest.mark.parametrize(("lane", "forbidden", "across"), [
    ("igv-south", MOVE_NX, (MOVE_PY, MOVE_NY)),
    ("igv-east", MOVE_NY, (MOVE_PX, MOVE_NX)),
    ("igv-north", MOVE_PX, (MOVE_PY, MOVE_NY)),
    ("igv-west", MOVE_PY, (MOVE_PX, MOVE_NX)),
    ("igv-mid", MOVE_NX, (MOVE_PY, MOVE_NY)),
])
def test_one_way_lanes(bundled: YardLayout, grid: YardGrid, lane: str, forbidden: int,
                       across: tuple[int, int]) -> None:
    cells = cells_of_zone(grid, bundled, lane)
    assert cells.sum() >= 4 * 60
    assert not (grid.allowed_moves[cells] & forbidden).any()
    ys, xs = np.nonzero(cells)
    dx, dy, _ = next(m for m in MOVES if m[2] == forbidden)
    inside = (ys - dy >= 0) & (ys - dy < grid.shape[0]) & (xs - dx >= 0) & (xs - dx < grid.shape[1])
    # no cell may move INTO the lane against its direction either
    assert not (grid.allowed_moves[ys[inside] - dy, xs[inside] - dx] & forbidden).any()
    # the lane is 4 cells wide: its two middle columns/rows can change lanes both ways
    for bit in across:
        assert (grid.allowed_moves[cells] & bit).sum() >= cells.sum() // 2


def test_two_way_areas_allow_every_move(bundled: YardLayout, grid: YardGrid) -> None:
    for zone_id in ("border-corridor", "igv-parking", "igv-charging", "bay-2"):
        cells = cells_of_zone(grid, bundled, zone_id)
        interior = cells & np.roll(cells, 1, 0) & np.roll(cells, -1, 0) & np.roll(cells, 1, 1) & np.roll(cells, -1, 1)
        assert interior.any()
        assert (grid.allowed_moves[interior] == 15).all(), zone_id


def test_trucks_and_stacks_are_not_igv_cells(bundled: YardLayout, grid: YardGrid) -> None:
    for zone_id in ("queue-in-1", "queue-out", "buffer-a", "buffer-b", "inspection"):
        assert not grid.passable[cells_of_zone(grid, bundled, zone_id)].any(), zone_id


def test_cell_and_centre_round_trip(grid: YardGrid) -> None:
    rng = np.random.default_rng(5)
    cells = np.column_stack([rng.integers(0, 300, 500), rng.integers(0, 80, 500)])
    assert np.array_equal(grid.cell_of(grid.centre_of(cells)), cells)
    points = rng.uniform([0, 0], [600, 160], size=(500, 2))
    back = grid.centre_of(grid.cell_of(points))
    assert np.abs(back - points).max() <= grid.cell_m / 2
    assert grid.cell_of(np.array([[0.0, 0.0], [1.99, 2.0], [599.9, 159.9]])).tolist() == [[0, 0], [0, 1], [299, 79]]
    assert grid.inside(np.array([[0, 0], [300, 0], [-1, 5], [299, 79]])).tolist() == [True, False, False, True]


@pytest.mark.parametrize("points", [np.zeros((3, 3)), np.zeros(4), np.array([[np.nan, 1.0]])])
def test_cell_of_refuses_bad_arrays(grid: YardGrid, points: np.ndarray) -> None:
    with pytest.raises(ValueError, match="points_m must"):
        grid.cell_of(points)


@pytest.mark.parametrize("cell_m", [0.0, -2.0, float("nan"), float("inf"), 500.0])
def test_bad_cell_size(bundled: YardLayout, cell_m: float) -> None:
    with pytest.raises(ValueError, match="cell_m must be"):
        build_grid(bundled, cell_m)


def test_too_many_cells(bundled: YardLayout) -> None:
    with pytest.raises(ValueError, match="at most 4000000"):
        build_grid(bundled, 0.1)


def test_named_cells_must_be_passable_and_distinct(bundled: YardLayout) -> None:
    with pytest.raises(LayoutError, match=r"^huu-nghi-1119: grid\.named_cells\.igv-charging:C02: shares cell"):
        build_grid(bundled, 5.0)
    data = small_layout()
    zone(data, "park")["spots"] = {"P1": [5, 15]}
    layout = parse_layout(data)
    assert build_grid(layout, 1.0).named_cells == {"bay-1": (16, 7), "park:P1": (5, 15)}
    # on a 4 m grid the spot's cell centre (6, 14) lies on the park's edge, so the cell is not passable
    with pytest.raises(LayoutError, match=r"park:P1: cell \(1, 3\) of a 4 m grid is not passable"):
        build_grid(layout, 4.0)


def test_diagonal_lane_forbids_both_backward_moves() -> None:
    data = small_layout()
    zone(data, "lane")["direction"] = [0.6, 0.8]
    grid = build_grid(parse_layout(data), 1.0)
    lane = grid.allowed_moves[10:14, 0:76]
    assert not (lane & (MOVE_NX | MOVE_NY)).any()
    assert (lane[1:3, 1:75] & MOVE_PX).all()


def test_lane_rule_wins_where_it_overlaps_the_corridor() -> None:
    data = small_layout()
    zone(data, "corridor")["polygon"] = box(76, 12, 100, 18)
    grid = build_grid(parse_layout(data), 1.0)
    overlap = grid.allowed_moves[12:14, 76:90]          # lane cells (y 12–14) under the corridor
    corridor_only = grid.allowed_moves[15:17, 77:99]
    assert not (overlap & MOVE_NX).any()
    assert (corridor_only == 15).all()


def test_loading_and_gridding_the_bundled_yard_is_fast() -> None:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        build_grid(load_layout(BUNDLED))
        best = min(best, time.perf_counter() - started)
    assert best < 0.5

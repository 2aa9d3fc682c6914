"""BFS distance tables: exact against a plain-Python BFS, one-way aware, cached with a bounded LRU, and fast."""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np
import pytest

from control.planning.distances import DistanceTable, predecessor_table
from control.planning.grid_map import MapError, build_grid_map, grid_from_yard, load_movingai_map
from tests.control.planning.shared_maps import map_path
from tests.yard.test_layout import BUNDLED
from yard.grid import MOVES, build_grid
from yard.layout import load_layout

log = logging.getLogger(__name__)


def plain_distances(passable: np.ndarray, allowed: np.ndarray | None, goal_xy: tuple[int, int]) -> np.ndarray:
    """(H, W) steps to the goal by a plain BFS backwards over the map itself (not over any table of the code under
    test): a neighbour (px, py) reaches (x, y) when both are free and its move towards (x, y) is allowed."""
    height, width = passable.shape
    dist = np.full((height, width), -1, dtype=np.int64)
    gx, gy = goal_xy
    dist[gy, gx] = 0
    queue = deque([(gx, gy)])
    while queue:
        x, y = queue.popleft()
        for dx, dy, bit in MOVES:
            px, py = x - dx, y - dy
            if not (0 <= px < width and 0 <= py < height) or not passable[py, px] or dist[py, px] >= 0:
                continue
            if allowed is not None and not allowed[py, px] & bit:
                continue
            dist[py, px] = dist[y, x] + 1
            queue.append((px, py))
    return dist


@pytest.mark.parametrize("stem", ["maze-32-32-2", "room-32-32-4", "random-32-32-20", "warehouse-10-20-10-2-1"])
def test_distances_match_a_plain_bfs_on_shared_maps(stem: str) -> None:
    grid = load_movingai_map(map_path(stem))
    table = DistanceTable(grid)
    rng = np.random.default_rng(5)
    for goal in rng.choice(grid.free_cells, size=4, replace=False).tolist():
        x, y = grid.xy(np.array([goal]))[0].tolist()
        expected = plain_distances(grid.passable, None, (x, y)).ravel()
        row = table.to_goal(goal)
        assert row.dtype == np.int32
        assert row.shape == (grid.num_cells,)
        assert (row == expected).all()


def test_distances_on_the_one_way_yard_match_a_plain_bfs() -> None:
    yard_grid = build_grid(load_layout(BUNDLED))
    yard = grid_from_yard(yard_grid)
    table = DistanceTable(yard)
    for name in ("bay-1", "bay-3", "igv-parking:P16"):
        x, y = yard_grid.named_cells[name]
        expected = plain_distances(yard_grid.passable, yard_grid.allowed_moves, (x, y)).ravel()
        assert (table.to_goal(yard.names[name]) == expected).all()
        assert (expected[yard.free_cells] >= 0).all()     # the bundled yard is one strongly connected loop


def test_distances_follow_one_way_moves_not_their_reverse() -> None:
    # a 1×4 corridor where only +x is allowed: everything west of the goal reaches it, nothing east of it does
    grid = build_grid_map("corridor", np.ones((1, 4), dtype=bool), np.full((1, 4), 1, dtype=np.uint8))
    table = DistanceTable(grid)
    assert table.to_goal(2).tolist() == [2, 1, 0, -1]
    assert table.to_goal(0).tolist() == [0, -1, -1, -1]
    assert predecessor_table(grid.successors).tolist() == [[-1], [0], [1], [2]]


def test_blocked_cells_and_other_components_are_unreachable() -> None:
    passable = np.array([[True, False, True], [True, False, True]])
    table = DistanceTable(build_grid_map("split", passable))
    assert table.to_goal(0).tolist() == [0, -1, -1, 1, -1, -1]


def test_for_goals_stacks_cached_rows_and_computes_each_goal_once() -> None:
    grid = load_movingai_map(map_path("random-32-32-10"))
    table = DistanceTable(grid)
    goals = grid.free_cells[[5, 9, 5, 100, 9, 5]]
    rows = table.for_goals(goals)
    assert rows.shape == (6, grid.num_cells)
    assert rows.dtype == np.int32
    assert table.misses == 3
    assert table.hits == 0
    for i, goal in enumerate(goals.tolist()):
        assert (rows[i] == table.to_goal(goal)).all()
    assert table.misses == 3
    assert table.hits == 6
    rows[0, 0] = 99                                    # the stack is the caller's; the cache is untouched
    assert table.to_goal(int(goals[0]))[0] != 99
    assert table.for_goals(np.array([], dtype=np.int32)).shape == (0, grid.num_cells)


def test_rows_are_read_only_and_the_cache_is_a_bounded_lru() -> None:
    grid = load_movingai_map(map_path("empty-32-32"))
    table = DistanceTable(grid, max_cached=2)
    first = table.to_goal(0)
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 5
    table.to_goal(1)
    table.to_goal(0)             # 0 is now the most recent; 1 goes when 2 comes
    table.to_goal(2)
    assert table.misses == 3
    table.to_goal(0)
    assert table.misses == 3
    table.to_goal(1)
    assert table.misses == 4
    assert DistanceTable(grid, max_bytes=3 * 4 * grid.num_cells).max_cached == 3
    with pytest.raises(ValueError, match="positive"):
        DistanceTable(grid, max_cached=0)


@pytest.mark.parametrize("goal", [-1, 1024, True, 3.0, "7"])
def test_bad_goals_are_refused(goal: object) -> None:
    table = DistanceTable(load_movingai_map(map_path("empty-32-32")))
    with pytest.raises(MapError, match="goal"):
        table.to_goal(goal)  # type: ignore[arg-type]


def test_blocked_goal_is_refused() -> None:
    grid = build_grid_map("wall", np.array([[True, False]]))
    with pytest.raises(MapError, match=r"goal \(1, 0\) is a blocked cell"):
        DistanceTable(grid).to_goal(1)
    with pytest.raises(MapError, match="1-D integer"):
        DistanceTable(grid).for_goals(np.array([[0]]))


def test_bfs_on_the_warehouse_takes_well_under_a_millisecond_per_goal() -> None:
    grid = load_movingai_map(map_path("warehouse-10-20-10-2-1"))
    table = DistanceTable(grid, max_cached=1)
    table.to_goal(int(grid.free_cells[0]))            # compile (or load the numba cache) outside the timing
    goals = grid.free_cells[::23][:200].tolist()
    begin = time.perf_counter()
    for goal in goals:
        table.to_goal(goal)
    per_goal_ms = (time.perf_counter() - begin) * 1e3 / len(goals)
    log.info("BFS on %s (%d×%d, %d free): %.3f ms per goal", grid.name, grid.width, grid.height,
             grid.free_cells.size, per_goal_ms)
    assert per_goal_ms < 1.0


"""Planner maps: strict MovingAI parsing, scenarios, the yard's one-way grid, components and random instances."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest

from control.planning.components import strong_components
from control.planning.distances import DistanceTable
from control.planning.grid_map import (
    GridMap,
    MapError,
    build_grid_map,
    grid_from_yard,
    load_movingai_map,
    load_movingai_scen,
    random_instance,
)
from control.planning.movingai import MAX_FILE_BYTES
from tests.control.planning.shared_maps import MAP_NAMES, map_path, scen_path
from tests.yard.test_layout import BUNDLED
from yard.grid import MOVES, YardGrid, build_grid
from yard.layout import load_layout

# Free cells ('.', 'G', 'S') of the shared maps, counted once with `tr -cd '.GS' | wc -c` on the map rows.
KNOWN_FREE = {"empty-32-32": 1024, "maze-32-32-2": 666, "random-32-32-10": 922, "random-32-32-20": 819,
              "room-32-32-4": 682, "warehouse-10-20-10-2-1": 5699}
KNOWN_SIZE = {"warehouse-10-20-10-2-1": (161, 63)}


def map_text(rows: list[str]) -> str:
    return f"type octile\nheight {len(rows)}\nwidth {len(rows[0])}\nmap\n" + "\n".join(rows) + "\n"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("ascii") if isinstance(content, str) else content)
    return path


def neighbours(passable: np.ndarray, x: int, y: int) -> set[int]:
    """Plain 4-neighbourhood of a free cell on a two-way map, as cell ids."""
    height, width = passable.shape
    out = set()
    for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
        if 0 <= nx < width and 0 <= ny < height and passable[ny, nx]:
            out.add(ny * width + nx)
    return out


def reach(grid: GridMap, start: int) -> set[int]:
    """Cells reachable from ``start`` following successors, by a plain BFS."""
    seen = {start}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for nxt in grid.successors[cell].tolist():
            if nxt >= 0 and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


@pytest.fixture(scope="module")
def yard_grid() -> YardGrid:
    return build_grid(load_layout(BUNDLED))


@pytest.fixture(scope="module")
def yard(yard_grid: YardGrid) -> GridMap:
    return grid_from_yard(yard_grid)


# --- MovingAI maps -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", MAP_NAMES)
def test_every_shared_map_parses_with_the_known_free_cells(stem: str) -> None:
    path = map_path(stem)
    grid = load_movingai_map(path)
    rows = path.read_text().splitlines()[4:]
    assert grid.name == stem
    assert (grid.width, grid.height) == KNOWN_SIZE.get(stem, (32, 32)) == (len(rows[0]), len(rows))
    assert grid.free_cells.size == KNOWN_FREE[stem] == sum(row.count(".") + row.count("G") + row.count("S")
                                                          for row in rows)
    assert grid.names == {}
    for y, row in enumerate(rows):       # orientation: row y of the file is y, column x is x
        assert grid.passable[y].tolist() == [char in ".GS" for char in row]


@pytest.mark.parametrize("stem", ["room-32-32-4", "maze-32-32-2"])
def test_successors_are_wait_then_the_free_neighbours(stem: str) -> None:
    grid = load_movingai_map(map_path(stem))
    for cell in range(grid.num_cells):
        y, x = divmod(cell, grid.width)
        row = grid.successors[cell].tolist()
        if not grid.passable[y, x]:
            assert row == [-1] * 5
            continue
        moves = [c for c in row[1:] if c >= 0]
        assert row[0] == cell
        assert row[1 + len(moves):] == [-1] * (4 - len(moves))     # padding only at the end
        assert set(moves) == neighbours(grid.passable, x, y)


def test_character_classes_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "chars.map", map_text([".GS@", "OTW."]).replace("\n", "\r\n"))
    grid = load_movingai_map(path)
    assert grid.passable.tolist() == [[True, True, True, False], [False, False, False, True]]
    assert grid.free_cells.tolist() == [0, 1, 2, 7]


HEADER = "type octile\nheight 2\nwidth 3\nmap\n"
BAD_MAPS = [
    ("empty", "", "truncated: line 1"),
    ("wrong type", "type grid\nheight 2\nwidth 3\nmap\n...\n...\n", "line 1: expected 'type octile'"),
    ("zero height", "type octile\nheight 0\nwidth 3\nmap\n", "line 2: expected 'height <1..4096>'"),
    ("huge height", "type octile\nheight 5000\nwidth 3\nmap\n", "line 2: expected 'height <1..4096>'"),
    ("signed width", "type octile\nheight 2\nwidth +3\nmap\n...\n...\n", "line 3: expected 'width <1..4096>'"),
    ("swapped header", "type octile\nwidth 3\nheight 2\nmap\n...\n...\n", "line 2: expected 'height"),
    ("missing map line", "type octile\nheight 2\nwidth 3\n...\n...\n", "line 4: expected 'map'"),
    ("header only", "type octile\nheight 2\n", "truncated: line 3"),
    ("short row", HEADER + "...\n..\n", "line 6: map row has 2 characters, expected 3"),
    ("long row", HEADER + "....\n...\n", "line 5: map row has 4 characters, expected 3"),
    ("truncated rows", HEADER + "...\n", "truncated: 2 map rows expected"),
    ("unknown char", HEADER + "...\n.X.\n", "line 6: unknown map character 'X' at column 2"),
    ("tab in row", HEADER + "...\n\t..\n", "line 6: unknown map character '\\t' at column 1"),
    ("extra content", HEADER + "...\n...\nhello\n", "line 7: unexpected content"),
    ("non ascii", HEADER + "...\n.\xe9.\n", "line 6: byte 0xc3 is not ASCII"),
    ("trailing space header", "type octile \nheight 2\nwidth 3\nmap\n...\n...\n", "line 1"),
]


@pytest.mark.parametrize(("content", "message"), [(c, m) for _, c, m in BAD_MAPS], ids=[n for n, _, _ in BAD_MAPS])
def test_bad_map_files_are_refused_with_line_and_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.map"
    path.write_bytes(content.encode("utf-8"))
    with pytest.raises(MapError) as caught:
        load_movingai_map(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_oversized_and_missing_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.map"
    big.write_bytes(b"." * (MAX_FILE_BYTES + 1))
    with pytest.raises(MapError, match="larger than"):
        load_movingai_map(big)
    with pytest.raises(MapError, match="cannot read"):
        load_movingai_map(tmp_path / "absent.map")
    with pytest.raises(MapError, match="cannot read"):
        load_movingai_map(tmp_path)


# --- scenarios ------------------------------------------------------------------------------------------------------

def test_shared_scenario_rows_become_cells() -> None:
    grid = load_movingai_map(map_path("random-32-32-10"))
    path = scen_path()
    starts, goals = load_movingai_scen(path, grid, 400)
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:401]]
    assert starts.dtype == goals.dtype == np.int32
    assert grid.xy(starts).tolist() == [[int(r[4]), int(r[5])] for r in rows]
    assert grid.xy(goals).tolist() == [[int(r[6]), int(r[7])] for r in rows]
    assert grid.xy(starts[:1]).tolist() == [[11, 6]]
    assert grid.xy(goals[:1]).tolist() == [[7, 18]]
    assert len(set(starts.tolist())) == len(set(goals.tolist())) == 400
    assert grid.passable.ravel()[starts].all()
    assert grid.passable.ravel()[goals].all()


SCEN_MAP = ["....", ".@..", "...."]       # 4 wide, 3 high, (1, 1) blocked


def scen_row(sx: int, sy: int, gx: int, gy: int, width: int = 4, height: int = 3) -> str:
    return f"0\ts.map\t{width}\t{height}\t{sx}\t{sy}\t{gx}\t{gy}\t3.0"


GOOD_ROWS = [scen_row(0, 0, 3, 2), scen_row(3, 0, 0, 2), scen_row(2, 1, 1, 0)]
BAD_SCENS = [
    ("version", "version 2\n" + "\n".join(GOOD_ROWS), 1, "line 1: expected 'version 1'"),
    ("too few rows", "version 1\n" + "\n".join(GOOD_ROWS), 4, "has 3 scenario rows, 4 agents asked"),
    ("zero agents", "version 1\n" + "\n".join(GOOD_ROWS), 0, "agents must be a positive integer"),
    ("width mismatch", f"version 1\n{scen_row(0, 0, 3, 2, width=5)}", 1, "line 2: scenario is for a 5×3 map"),
    ("height mismatch", f"version 1\n{GOOD_ROWS[0]}\n{scen_row(1, 0, 2, 2, height=4)}", 2, "line 3: scenario is"),
    ("start outside", f"version 1\n{GOOD_ROWS[0]}\n{scen_row(4, 0, 2, 2)}", 2, "line 3: start (4, 0) is outside"),
    ("goal outside", f"version 1\n{scen_row(0, 0, 0, 3)}", 1, "line 2: goal (0, 3) is outside"),
    ("start blocked", f"version 1\n{scen_row(1, 1, 0, 0)}", 1, "line 2: start (1, 1) is on a blocked cell"),
    ("goal blocked", f"version 1\n{GOOD_ROWS[0]}\n{scen_row(2, 0, 1, 1)}", 2, "line 3: goal (1, 1) is on a blocked"),
    ("duplicate start", f"version 1\n{GOOD_ROWS[0]}\n{GOOD_ROWS[1]}\n{scen_row(0, 0, 2, 2)}", 3,
     "line 4: start (0, 0) duplicates the start on line 2"),
    ("duplicate goal", f"version 1\n{GOOD_ROWS[0]}\n{scen_row(2, 2, 3, 2)}", 2,
     "line 3: goal (3, 2) duplicates the goal on line 2"),
    ("field count", "version 1\n0\ts.map\t4\t3\t0\t0\t3\t2", 1, "line 2: expected 9 tab-separated fields, got 8"),
    ("spaces not tabs", "version 1\n" + GOOD_ROWS[0].replace("\t", " "), 1, "expected 9 tab-separated fields"),
    ("negative coordinate", f"version 1\n{scen_row(0, 0, 3, 2)}".replace("\t0\t0\t", "\t-1\t0\t"), 1,
     "line 2: start x '-1' is not a non-negative integer"),
    ("bad optimal", "version 1\n" + GOOD_ROWS[0].replace("3.0", "nan"), 1, "optimal length 'nan'"),
    ("blank row inside", "version 1\n\n" + GOOD_ROWS[0], 1, "line 2: expected 9 tab-separated fields, got 1"),
    ("binary", b"version 1\n\x00\xff", 1, "line 2: byte 0xff is not ASCII"),
]


@pytest.mark.parametrize(("content", "agents", "message"), [case[1:] for case in BAD_SCENS],
                         ids=[case[0] for case in BAD_SCENS])
def test_bad_scenarios_are_refused(tmp_path: Path, content: str | bytes, agents: int, message: str) -> None:
    grid = load_movingai_map(write(tmp_path, "s.map", map_text(SCEN_MAP)))
    path = write(tmp_path, "s.scen", content)
    with pytest.raises(MapError) as caught:
        load_movingai_scen(path, grid, agents)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_scenario_takes_only_the_first_rows_and_ignores_the_rest(tmp_path: Path) -> None:
    grid = load_movingai_map(write(tmp_path, "s.map", map_text(SCEN_MAP)))
    path = write(tmp_path, "s.scen", "version 1\n" + "\n".join([*GOOD_ROWS, "rubbish"]) + "\n\n")
    starts, goals = load_movingai_scen(path, grid, 3)
    assert grid.xy(starts).tolist() == [[0, 0], [3, 0], [2, 1]]
    assert grid.xy(goals).tolist() == [[3, 2], [0, 2], [1, 0]]


# --- GridMap --------------------------------------------------------------------------------------------------------

def test_cell_ids_round_trip_and_refuse_bad_cells(tmp_path: Path) -> None:
    grid = load_movingai_map(write(tmp_path, "s.map", map_text(SCEN_MAP)))
    assert grid.cell(3, 2) == 11
    assert grid.xy(np.array([0, 5, 11])).tolist() == [[0, 0], [1, 1], [3, 2]]
    assert grid.cells_of(np.array([[0, 0], [3, 2]])).tolist() == [0, 11]
    assert grid.cells_of(np.array([[0, 0], [3, 2]])).dtype == np.int32
    with pytest.raises(MapError, match=r"cell \(4, 0\) is outside"):
        grid.cell(4, 0)
    with pytest.raises(MapError, match=r"cell \(1, 1\) \(index 1\) is blocked"):
        grid.cells_of(np.array([[0, 0], [1, 1]]))
    with pytest.raises(MapError, match=r"cell \(0, -1\) \(index 0\) is outside"):
        grid.cells_of(np.array([[0, -1]]))
    with pytest.raises(MapError, match="2-D integer array"):
        grid.cells_of(np.array([0, 1]))
    with pytest.raises(MapError, match="integer"):
        grid.cells_of(np.array([[0.5, 1.0]]))
    with pytest.raises(MapError, match="cell id 12"):
        grid.xy(np.array([12]))


def test_map_arrays_are_read_only_and_callers_arrays_are_not_frozen() -> None:
    passable = np.ones((2, 3), dtype=bool)
    grid = build_grid_map("tiny", passable)
    assert passable.flags.writeable
    passable[0, 0] = False                      # the map keeps its own copy
    assert grid.passable[0, 0]
    for array in (grid.passable, grid.successors, grid.free_cells, grid.move_bits):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


def test_move_bits_agree_with_successors(yard: GridMap) -> None:
    y, x = np.divmod(np.arange(yard.num_cells), yard.width)
    for dx, dy, bit in MOVES:
        inside = (x + dx >= 0) & (x + dx < yard.width) & (y + dy >= 0) & (y + dy < yard.height)
        target = np.where(inside, (y + dy) * yard.width + x + dx, -2)
        has_move = (yard.successors[:, 1:] == target[:, None]).any(axis=1)
        assert (((yard.move_bits & bit) != 0) == has_move).all()
    assert yard.move_bits.any()


# --- the yard --------------------------------------------------------------------------------------------------------

def test_yard_grid_keeps_orientation_moves_and_names(yard_grid: YardGrid, yard: GridMap) -> None:
    assert (yard.height, yard.width) == yard_grid.shape == (80, 300)
    assert (yard.passable == yard_grid.passable).all()
    for key, (x, y) in yard_grid.named_cells.items():
        assert yard.names[key] == yard.cell(x, y)
    height, width = yard_grid.shape
    for y in range(height):                      # every cell: a move is a successor exactly when its bit is set
        for x in range(width):
            row = set(yard.successors[y * width + x].tolist()) - {-1}
            if not yard_grid.passable[y, x]:
                assert row == set()
                continue
            expected = {(y + dy) * width + x + dx for dx, dy, bit in MOVES if yard_grid.allowed_moves[y, x] & bit}
            assert row == expected | {y * width + x}


def test_yard_one_way_lane_cannot_be_driven_backwards(yard: GridMap) -> None:
    # igv-south runs +x along y 30..38 m: with 2 m cells, row 16 from x 90 (180 m) to x 239 (478 m).
    x, y = 120, 16
    cell, east, west = yard.cell(x, y), yard.cell(x + 1, y), yard.cell(x - 1, y)
    assert yard.passable[y, x - 1]
    assert yard.passable[y, x + 1]
    assert east in yard.successors[cell]
    assert west not in yard.successors[cell]
    assert cell not in yard.successors[east]        # and nobody enters this cell from the east
    distances = DistanceTable(yard).to_goal(west)
    assert distances[cell] > 2                       # the way back goes round the loop


# --- components and random instances --------------------------------------------------------------------------------

def test_strong_components_match_mutual_reachability() -> None:
    rng = np.random.default_rng(7)
    passable = rng.random((7, 9)) > 0.15
    grid = build_grid_map("directed", passable, rng.integers(0, 16, size=(7, 9)).astype(np.uint8))
    labels = strong_components(grid.successors)
    free = grid.free_cells.tolist()
    reachable = {cell: reach(grid, cell) for cell in free}
    for a in free:
        for b in free:
            mutual = b in reachable[a] and a in reachable[b]
            assert (labels[a] == labels[b]) == mutual, (a, b)
    assert (labels[~passable.ravel()] == -1).all()


@pytest.mark.parametrize("stem", ["maze-32-32-2", "room-32-32-4", "warehouse-10-20-10-2-1"])
def test_random_instances_are_deterministic_distinct_and_reachable(stem: str) -> None:
    grid = load_movingai_map(map_path(stem))
    starts, goals = random_instance(grid, 300, seed=11)
    again = random_instance(grid, 300, seed=11)
    other = random_instance(grid, 300, seed=12)
    assert (starts == again[0]).all()
    assert (goals == again[1]).all()
    assert not (starts == other[0]).all()
    check_instance(grid, starts, goals)


def test_random_instance_on_the_one_way_yard_is_reachable_both_ways(yard: GridMap) -> None:
    starts, goals = random_instance(yard, 500, seed=3)
    check_instance(yard, starts, goals)
    table = DistanceTable(yard)
    assert (table.for_goals(starts)[np.arange(500), goals] >= 0).all()    # and each start from its goal


def test_random_instance_may_fill_every_free_cell_and_refuses_more(tmp_path: Path) -> None:
    grid = load_movingai_map(write(tmp_path, "s.map", map_text(SCEN_MAP)))
    starts, goals = random_instance(grid, 11, seed=0)
    assert sorted(starts.tolist()) == sorted(goals.tolist()) == grid.free_cells.tolist()
    assert random_instance(grid, 0, seed=0)[0].size == 0
    with pytest.raises(MapError, match=r"agents must be an integer in 0\.\.11"):
        random_instance(grid, 12, seed=0)
    with pytest.raises(MapError, match="seed"):
        random_instance(grid, 2, seed=-1)


def test_random_goals_stay_in_the_start_component() -> None:
    # two rooms joined by a one-way door: from the left room nothing can come back, so goals stay in each room
    passable = np.array([[True, True, False, True, True], [True, True, True, True, True]])
    allowed = np.full(passable.shape, 0xF, dtype=np.uint8)
    allowed[1, 2] = 1                                 # the door cell (2, 1) only moves +x
    allowed[1, 3] = 0xF - 2                           # and cannot be entered from the east
    grid = build_grid_map("one-way door", passable, allowed)
    labels = strong_components(grid.successors)
    for seed in range(20):
        starts, goals = random_instance(grid, 4, seed=seed)
        assert (labels[starts] == labels[goals]).all()
        check_instance(grid, starts, goals)


def check_instance(grid: GridMap, starts: np.ndarray, goals: np.ndarray) -> None:
    assert starts.dtype == goals.dtype == np.int32
    assert len(set(starts.tolist())) == starts.size
    assert len(set(goals.tolist())) == goals.size
    assert grid.passable.ravel()[starts].all()
    assert grid.passable.ravel()[goals].all()
    for start, goal in list(zip(starts.tolist(), goals.tolist(), strict=True))[:40]:
        assert goal in reach(grid, start)
    table = DistanceTable(grid)
    assert (table.for_goals(goals)[np.arange(goals.size), starts] >= 0).all()


@pytest.mark.parametrize("shape", [(0, 3), (1, 4097 * 4096), (2, 2, 2)])
def test_maps_that_are_empty_too_large_or_not_2d_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(MapError, match=r"non-empty \(H, W\) array of at most 16777216 cells"):
        build_grid_map("odd", np.zeros(shape, dtype=bool))
    with pytest.raises(MapError, match="empty or has more than"):
        GridMap("odd", 0, 3, np.zeros((3, 0), bool), np.zeros((0, 5), np.int32), {})


def test_grid_map_refuses_inconsistent_fields() -> None:
    good = build_grid_map("ok", np.array([[True, False]]), names={"dock": 0})
    assert good.names == {"dock": 0}
    with pytest.raises(MapError, match="named cell 'dock' = 1 is not a passable cell id"):
        GridMap("bad", 2, 1, good.passable, good.successors, {"dock": 1})
    with pytest.raises(MapError, match=r"successors must be a int32 array of shape \(2, 5\)"):
        GridMap("bad", 2, 1, good.passable, good.successors.astype(np.int64), {})
    with pytest.raises(MapError, match=r"passable must be a bool array of shape \(1, 2\)"):
        GridMap("bad", 2, 1, good.passable.T, good.successors, {})

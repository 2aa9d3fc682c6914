"""MovingAI benchmark files (Sturtevant, "Benchmarks for Grid-Based Pathfinding"): ``.map`` grids and ``.scen``
start/goal lists, read strictly.

Both are untrusted input: the size is bounded before anything is parsed, every header line must be exactly as the
format says, and every problem is a `MapError` naming the file, the line and what was wrong. Map rows are checked
with one lookup table over all bytes, not cell by cell.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from control.planning.grid import MAX_SIDE, GridMap, IntArray, MapError, build_grid_map

MAX_FILE_BYTES = 16 * 1024 * 1024
FREE_CHARS = b".GS"
BLOCKED_CHARS = b"@OTW"          # W (water) is blocked for ground vehicles
SCEN_FIELDS = 9                  # bucket, map, width, height, start x, start y, goal x, goal y, optimal length
_UNKNOWN, _BLOCKED, _FREE = 0, 1, 2
_CHAR_CLASS = np.zeros(256, dtype=np.uint8)
_CHAR_CLASS[np.frombuffer(FREE_CHARS, dtype=np.uint8)] = _FREE
_CHAR_CLASS[np.frombuffer(BLOCKED_CHARS, dtype=np.uint8)] = _BLOCKED
_NUMBER = re.compile(r"[0-9]{1,9}")
_REAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")


def load_movingai_map(path: Path) -> GridMap:
    """``type octile`` / ``height H`` / ``width W`` / ``map`` then H rows of W characters; '.', 'G', 'S' are free,
    '@', 'O', 'T', 'W' blocked. The map is named after the file's stem; all moves are two-way."""
    path = Path(path)
    lines = _read_lines(path)
    _expect(path, lines, 0, "type octile")
    height = _header_number(path, lines, 1, "height")
    width = _header_number(path, lines, 2, "width")
    _expect(path, lines, 3, "map")
    rows = lines[4:4 + height]
    if len(rows) < height:
        raise MapError(f"{path}: truncated: {height} map rows expected after line 4, the file has {len(rows)}")
    for number, row in enumerate(rows, start=5):
        if len(row) != width:
            raise MapError(f"{path}: line {number}: map row has {len(row)} characters, expected {width}")
    _expect_blank_tail(path, lines, 4 + height)
    classes = _CHAR_CLASS[np.frombuffer("".join(rows).encode("ascii"), dtype=np.uint8)]
    unknown = np.flatnonzero(classes == _UNKNOWN)
    if unknown.size:
        at_row, column = divmod(int(unknown[0]), width)
        raise MapError(f"{path}: line {at_row + 5}: unknown map character {rows[at_row][column]!r} "
                       f"at column {column + 1}")
    return build_grid_map(path.stem, (classes == _FREE).reshape(height, width))


def load_movingai_scen(path: Path, grid: GridMap, agents: int) -> tuple[IntArray, IntArray]:
    """The first ``agents`` rows of a ``version 1`` scenario as (starts, goals) int32 cell ids of ``grid``. Refuses
    too few rows, a width or height other than the map's, cells outside the map or blocked, and duplicate starts or
    duplicate goals. The map file name in the rows is not compared (maps may be renamed)."""
    path = Path(path)
    if isinstance(agents, bool) or not isinstance(agents, int | np.integer) or agents < 1:
        raise MapError(f"{path}: agents must be a positive integer, got {agents!r}")
    agents = int(agents)
    lines = _read_lines(path)
    _expect(path, lines, 0, "version 1")
    body = lines[1:]
    while body and body[-1] == "":
        body.pop()
    if len(body) < agents:
        raise MapError(f"{path}: has {len(body)} scenario rows, {agents} agents asked")
    coords = np.array([_scen_row(path, number, line, grid)
                       for number, line in enumerate(body[:agents], start=2)], dtype=np.int64)
    starts = _scen_cells(path, grid, coords[:, 0:2], "start")
    goals = _scen_cells(path, grid, coords[:, 2:4], "goal")
    return starts, goals


def _scen_row(path: Path, number: int, line: str, grid: GridMap) -> tuple[int, int, int, int]:
    fields = line.split("\t")
    if len(fields) != SCEN_FIELDS:
        raise MapError(f"{path}: line {number}: expected {SCEN_FIELDS} tab-separated fields, got {len(fields)}")
    bucket, map_name, width, height, sx, sy, gx, gy, optimal = fields
    _scen_int(path, number, "bucket", bucket)
    if not map_name or map_name != map_name.strip():
        raise MapError(f"{path}: line {number}: map name {map_name!r} is empty or padded")
    size = (_scen_int(path, number, "width", width), _scen_int(path, number, "height", height))
    if size != (grid.width, grid.height):
        raise MapError(f"{path}: line {number}: scenario is for a {size[0]}×{size[1]} map, "
                       f"{grid.name} is {grid.width}×{grid.height}")
    if not (_REAL.fullmatch(optimal) and math.isfinite(float(optimal))):
        raise MapError(f"{path}: line {number}: optimal length {optimal[:40]!r} is not a non-negative number")
    return (_scen_int(path, number, "start x", sx), _scen_int(path, number, "start y", sy),
            _scen_int(path, number, "goal x", gx), _scen_int(path, number, "goal y", gy))


def _scen_int(path: Path, number: int, field: str, text: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise MapError(f"{path}: line {number}: {field} {text[:40]!r} is not a non-negative integer")
    return int(text)


def _scen_cells(path: Path, grid: GridMap, xy: np.ndarray, role: str) -> IntArray:
    """Cells of one column pair; the first offending row is named by its line (row i is line i + 2)."""
    x, y = xy[:, 0], xy[:, 1]
    inside = (x < grid.width) & (y < grid.height)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise MapError(f"{path}: line {i + 2}: {role} ({int(x[i])}, {int(y[i])}) is outside the "
                       f"{grid.width}×{grid.height} map")
    cells: IntArray = (y * grid.width + x).astype(np.int32)
    blocked = ~grid.passable.ravel()[cells]
    if blocked.any():
        i = int(np.flatnonzero(blocked)[0])
        raise MapError(f"{path}: line {i + 2}: {role} ({int(x[i])}, {int(y[i])}) is on a blocked cell")
    order = np.argsort(cells, kind="stable")
    same = np.flatnonzero(cells[order][1:] == cells[order][:-1])
    if same.size:
        first, second = sorted((int(order[same[0]]), int(order[same[0] + 1])))
        raise MapError(f"{path}: line {second + 2}: {role} ({int(x[second])}, {int(y[second])}) "
                       f"duplicates the {role} on line {first + 2}")
    return cells


def _read_lines(path: Path) -> list[str]:
    """The file's lines (LF or CRLF), after refusing oversized, unreadable and non-ASCII files."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise MapError(f"{path}: cannot read: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise MapError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise MapError(f"{path}: line {line}: byte 0x{data[error.start]:02x} is not ASCII") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()           # the newline ending the last line does not start another one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _expect(path: Path, lines: list[str], index: int, expected: str) -> None:
    _expect_present(path, lines, index, expected)
    if lines[index] != expected:
        raise MapError(f"{path}: line {index + 1}: expected {expected!r}, got {lines[index][:40]!r}")


def _header_number(path: Path, lines: list[str], index: int, key: str) -> int:
    _expect_present(path, lines, index, f"{key} <1..{MAX_SIDE}>")
    line = lines[index]
    match = re.fullmatch(key + r" ([0-9]{1,9})", line)
    value = int(match.group(1)) if match else 0
    if not 1 <= value <= MAX_SIDE:
        raise MapError(f"{path}: line {index + 1}: expected '{key} <1..{MAX_SIDE}>', got {line[:40]!r}")
    return value


def _expect_present(path: Path, lines: list[str], index: int, expected: str) -> None:
    if index >= len(lines):
        raise MapError(f"{path}: truncated: line {index + 1} should be {expected!r}, the file ends before it")


def _expect_blank_tail(path: Path, lines: list[str], index: int) -> None:
    extra = [number for number, line in enumerate(lines[index:], start=index + 1) if line != ""]
    if extra:
        raise MapError(f"{path}: line {extra[0]}: unexpected content after the {index - 4} map rows")

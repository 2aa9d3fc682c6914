"""The planners' map: a directed 4-connected grid with the successors of every cell in one int32 table.

Planners index cells as ``y * width + x`` and look moves up in ``successors`` instead of testing walls and lane
directions themselves: the table is built once (vectorised) and already leaves out blocked cells, the map's edge and
moves against a one-way lane. The arrays are read-only so that caches keyed on a map (distance tables) stay valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from yard.grid import MOVES

MAX_SIDE = 4096                    # a MovingAI map's width and height
MAX_CELLS = MAX_SIDE * MAX_SIDE    # any map (a yard grid may be longer than 4096 cells on one side)
WAIT_AND_MOVES = 5                 # successors columns: the cell itself, then up to 4 moves
IntArray = npt.NDArray[np.int32]


class MapError(ValueError):
    """A map, scenario or cell that cannot be used; the message is one line, ``"<file or map>: <problem>"``."""


@dataclass(frozen=True, eq=False)
class GridMap:
    """Passable cells and directed moves of one map; cells are int32 ids ``y * width + x``."""

    name: str
    width: int
    height: int
    passable: np.ndarray      # (H, W) bool, row = y, column = x
    successors: np.ndarray    # (C, 5) int32: the cell itself first (wait), then its moves; -1 padded; all -1 if blocked
    names: dict[str, int]     # named cells (yard transfer points, parking, charging); empty for MovingAI maps

    def __post_init__(self) -> None:
        if not (self.width >= 1 and self.height >= 1 and self.width * self.height <= MAX_CELLS):
            raise MapError(f"{self.name}: a {self.width}×{self.height} map is empty or has more than {MAX_CELLS} cells")
        cells = self.width * self.height
        _check_array(self.name, "passable", self.passable, (self.height, self.width), np.bool_)
        _check_array(self.name, "successors", self.successors, (cells, WAIT_AND_MOVES), np.int32)
        object.__setattr__(self, "passable", _read_only(self.passable))
        object.__setattr__(self, "successors", _read_only(self.successors))
        object.__setattr__(self, "names", dict(self.names))
        flat = self.passable.ravel()
        for key, cell in self.names.items():
            if not (isinstance(cell, int | np.integer) and 0 <= cell < cells and flat[cell]):
                raise MapError(f"{self.name}: named cell {key!r} = {cell!r} is not a passable cell id")

    @property
    def num_cells(self) -> int:
        """C = width * height: the length of a distance row and of ``successors``."""
        return self.width * self.height

    @cached_property
    def free_cells(self) -> IntArray:
        """(F,) int32 ids of the passable cells, ascending."""
        return _read_only(np.flatnonzero(self.passable.ravel()).astype(np.int32))

    @cached_property
    def move_bits(self) -> np.ndarray:
        """(C,) uint8 bitmask of the moves in ``successors`` out of each cell, ``yard.grid`` bits (1 +x, 2 -x, 4 +y,
        8 -y): a move can be checked with one lookup instead of a scan of the cell's successors row."""
        bits = np.zeros(self.num_cells, dtype=np.uint8)
        source = np.arange(self.num_cells, dtype=np.int64)
        for column in range(1, WAIT_AND_MOVES):
            target = self.successors[:, column].astype(np.int64)
            for dx, dy, bit in MOVES:
                bits[(target >= 0) & (target - source == dy * self.width + dx)
                     & ((source % self.width) + dx == target % self.width)] |= np.uint8(bit)
        return _read_only(bits)

    def cell(self, x: int, y: int) -> int:
        """The id of cell (x, y); `MapError` outside the map (a blocked cell is still a cell)."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise MapError(f"{self.name}: cell ({x}, {y}) is outside the {self.width}×{self.height} map")
        return int(y) * self.width + int(x)

    def xy(self, cells: np.ndarray) -> np.ndarray:
        """(N,) cell ids -> (N, 2) int64 (x, y); `MapError` for an id outside the map."""
        ids = _integers(self.name, "cells", cells, ndim=1)
        bad = np.flatnonzero((ids < 0) | (ids >= self.num_cells))
        if bad.size:
            raise MapError(f"{self.name}: cell id {int(ids[bad[0]])} (index {int(bad[0])}) is outside "
                           f"0..{self.num_cells - 1}")
        out: np.ndarray = np.column_stack([ids % self.width, ids // self.width]).astype(np.int64)
        return out

    def cells_of(self, xy: np.ndarray) -> IntArray:
        """(N, 2) (x, y) -> (N,) int32 ids; `MapError` naming the first pair outside the map or on a blocked cell."""
        pairs = _integers(self.name, "xy", xy, ndim=2)
        if pairs.shape[1] != 2:
            raise MapError(f"{self.name}: xy must have shape (N, 2), got {pairs.shape}")
        x, y = pairs[:, 0], pairs[:, 1]
        inside = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            raise MapError(f"{self.name}: cell ({int(x[i])}, {int(y[i])}) (index {i}) is outside the "
                           f"{self.width}×{self.height} map")
        ids: IntArray = (y * self.width + x).astype(np.int32)
        blocked = ~self.passable.ravel()[ids]
        if blocked.any():
            i = int(np.flatnonzero(blocked)[0])
            raise MapError(f"{self.name}: cell ({int(x[i])}, {int(y[i])}) (index {i}) is blocked")
        return ids


def build_grid_map(name: str, passable: np.ndarray, allowed_moves: np.ndarray | None = None,
                   names: Mapping[str, int] | None = None) -> GridMap:
    """A map from a (H, W) passable mask and, optionally, a (H, W) bitmask of moves allowed out of each cell
    (``yard.grid`` bits: 1 +x, 2 -x, 4 +y, 8 -y); without it every move between passable neighbours is allowed."""
    free = np.array(passable, dtype=bool, copy=True)
    if free.ndim != 2 or free.size == 0 or free.size > MAX_CELLS:
        raise MapError(f"{name}: passable must be a non-empty (H, W) array of at most {MAX_CELLS} cells, "
                       f"got shape {free.shape}")
    if allowed_moves is None:
        allowed = np.full(free.shape, 0xF, dtype=np.uint8)
    else:
        allowed = np.asarray(allowed_moves)
        if allowed.shape != free.shape or not np.issubdtype(allowed.dtype, np.integer):
            raise MapError(f"{name}: allowed_moves must be an integer array of shape {free.shape}, "
                           f"got {allowed.dtype} {allowed.shape}")
    free.setflags(write=False)
    height, width = free.shape
    return GridMap(name=name, width=width, height=height, passable=free,
                   successors=_successor_table(free, allowed), names=dict(names or {}))


def _successor_table(free: np.ndarray, allowed: np.ndarray) -> IntArray:
    """(C, 5): wait first, then the allowed moves to passable cells in +x, -x, +y, -y order, -1 padded at the end."""
    height, width = free.shape
    ys, xs = np.divmod(np.arange(height * width, dtype=np.int64), width)
    flat_free = free.ravel()
    flat_allowed = allowed.ravel()
    table = np.full((height * width, WAIT_AND_MOVES), -1, dtype=np.int32)
    table[flat_free, 0] = np.flatnonzero(flat_free)
    for column, (dx, dy, bit) in enumerate(MOVES, start=1):
        tx, ty = xs + dx, ys + dy
        inside = (tx >= 0) & (tx < width) & (ty >= 0) & (ty < height)
        target = np.where(inside, ty * width + tx, 0)
        ok = inside & flat_free & flat_free[target] & ((flat_allowed & bit) != 0)
        table[ok, column] = target[ok]
    order = np.argsort(table < 0, axis=1, kind="stable")      # valid entries first, in their column order
    compact = np.take_along_axis(table, order, axis=1)
    compact.setflags(write=False)
    return compact


def _check_array(name: str, field: str, array: object, shape: tuple[int, ...], dtype: type) -> None:
    if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != dtype:
        got = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
        raise MapError(f"{name}: {field} must be a {np.dtype(dtype)} array of shape {shape}, got {got}")


def _read_only(array: np.ndarray) -> np.ndarray:
    """The array itself when already read-only, else a read-only copy (never freezes a caller's array)."""
    if not array.flags.writeable:
        return array
    copy = array.copy()
    copy.setflags(write=False)
    return copy


def _integers(name: str, field: str, values: np.ndarray, *, ndim: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != ndim or not np.issubdtype(array.dtype, np.integer):
        raise MapError(f"{name}: {field} must be a {ndim}-D integer array, got {array.dtype} {array.shape}")
    return array.astype(np.int64, copy=False)

"""The yard as a grid for the IGV planners: which cells an IGV may occupy and which moves it may make.

A cell is passable when its centre lies inside an IGV-drivable zone (igv_lane, igv_parking, igv_charging,
border_corridor, or a transfer_bay, where the IGV stops under the crane). Cells are square, ``cell_m`` wide, the grid
starts at the site origin and covers the whole yard; ``passable[y, x]`` has row = y index (growing with site y, so
row 0 is the south edge, not the top of an image) and column = x index.

One-way lanes: ``allowed_moves[y, x]`` has a bit for every 4-connected move out of the cell (1 +x, 2 -x, 4 +y, 8 -y)
that is allowed. A move is allowed when the target cell is inside the grid and passable, and the move does not go
against the direction of an igv_lane that holds the source or the target cell (its dot product with the lane's
direction is not negative). So an IGV never drives backwards in a lane, nor enters one the wrong way; moves across a
lane (perpendicular to its direction) are allowed, so IGVs can change lanes and turn into bays, parking and the
corridor. Where a lane overlaps the (two-way) border corridor, the lane's rule applies. The planners may rely on
``allowed_moves`` alone: it already excludes walls and the grid's edge.

Named cells: each transfer point (keyed by its transfer bay's zone id) and each IGV spot (keyed ``<zone>:<name>``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import shapely

from yard.layout import LayoutError, YardLayout
from yard.layout_checks import IGV_DRIVABLE

MOVE_PX, MOVE_NX, MOVE_PY, MOVE_NY = 1, 2, 4, 8
MOVES: tuple[tuple[int, int, int], ...] = ((1, 0, MOVE_PX), (-1, 0, MOVE_NX), (0, 1, MOVE_PY), (0, -1, MOVE_NY))
MIN_CELL_M = 0.1
MAX_CELL_M = 100.0
MAX_CELLS = 4_000_000
_AGAINST = -1e-9   # a move is against a lane when its dot product with the direction is below this


@dataclass(frozen=True)
class YardGrid:
    """Passable cells and allowed moves of the yard; cells are (x, y) integer pairs."""

    cell_m: float
    origin: tuple[float, float]
    passable: np.ndarray          # (H, W) bool; row = y index, column = x index
    allowed_moves: np.ndarray     # (H, W) uint8 bitmask of moves allowed OUT of a cell: 1 +x, 2 -x, 4 +y, 8 -y
    named_cells: dict[str, tuple[int, int]]

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W): rows (y) and columns (x)."""
        height, width = self.passable.shape
        return int(height), int(width)

    def cell_of(self, points_m: np.ndarray) -> np.ndarray:
        """(N, 2) site metres -> (N, 2) int64 (x, y) cells; points outside the grid give cells outside it."""
        points = _as_points(points_m, "points_m")
        cells: np.ndarray = np.floor((points - np.asarray(self.origin)) / self.cell_m).astype(np.int64)
        return cells

    def centre_of(self, cells: np.ndarray) -> np.ndarray:
        """(N, 2) (x, y) cells -> (N, 2) site metres of their centres."""
        centres: np.ndarray = (_as_points(cells, "cells") + 0.5) * self.cell_m + np.asarray(self.origin)
        return centres

    def inside(self, cells: np.ndarray) -> np.ndarray:
        """(N,) bool: which (x, y) cells lie in the grid."""
        c = _as_points(cells, "cells")
        height, width = self.shape
        mask: np.ndarray = (c[:, 0] >= 0) & (c[:, 0] < width) & (c[:, 1] >= 0) & (c[:, 1] < height)
        return mask


def build_grid(layout: YardLayout, cell_m: float = 2.0) -> YardGrid:
    """Rasterise the IGV-drivable zones of ``layout`` (vectorised: one ``contains_xy`` per zone over all cell
    centres). `LayoutError` when a transfer point or spot falls in an impassable cell, or two share one cell (the
    cells are too coarse for the layout)."""
    if not (math.isfinite(cell_m) and MIN_CELL_M <= cell_m <= MAX_CELL_M):
        raise ValueError(f"cell_m must be in [{MIN_CELL_M}, {MAX_CELL_M}] m, got {cell_m}")
    width, height = (math.ceil(size / cell_m - 1e-9) for size in layout.size_m)
    if width * height > MAX_CELLS:
        raise ValueError(f"a {cell_m} m grid of the yard has {width * height} cells, at most {MAX_CELLS} are allowed")
    xs, ys = np.meshgrid((np.arange(width) + 0.5) * cell_m, (np.arange(height) + 0.5) * cell_m)
    passable = np.zeros((height, width), dtype=bool)
    direction = np.zeros((2, height, width))
    for zone in layout.zones:
        if zone.kind not in IGV_DRIVABLE:
            continue
        inside = shapely.contains_xy(zone.polygon, xs, ys)
        passable |= inside
        if zone.kind == "igv_lane" and zone.direction is not None:
            direction[:, inside] = np.asarray(zone.direction)[:, None]
    grid = YardGrid(cell_m=float(cell_m), origin=(0.0, 0.0), passable=passable,
                    allowed_moves=_allowed_moves(passable, direction), named_cells={})
    return replace(grid, named_cells=_named_cells(layout, grid))


def _allowed_moves(passable: np.ndarray, direction: np.ndarray) -> np.ndarray:
    allowed = np.zeros(passable.shape, dtype=np.uint8)
    for dx, dy, bit in MOVES:
        along_here = dx * direction[0] + dy * direction[1]
        along_there = _shifted(along_here, dx, dy, fill=0.0)
        ok = (passable & _shifted(passable, dx, dy, fill=False)
              & (along_here >= _AGAINST) & (along_there >= _AGAINST))
        allowed[ok] |= np.uint8(bit)
    return allowed


def _shifted(values: np.ndarray, dx: int, dy: int, *, fill: float | bool) -> np.ndarray:
    """``out[y, x] = values[y + dy, x + dx]``: the neighbour's value, ``fill`` beyond the edge."""
    out = np.full_like(values, fill)
    height, width = values.shape
    out[max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)] = \
        values[max(0, dy):height + min(0, dy), max(0, dx):width + min(0, dx)]
    return out


def _named_cells(layout: YardLayout, grid: YardGrid) -> dict[str, tuple[int, int]]:
    names = [*layout.transfer_points, *layout.spots]
    if not names:
        return {}
    points = np.array([*layout.transfer_points.values(), *layout.spots.values()], dtype=float)
    cells = grid.cell_of(points)
    usable = grid.inside(cells)
    owner: dict[tuple[int, int], str] = {}
    for name, (x, y), ok in zip(names, cells.tolist(), usable, strict=True):
        if not (ok and grid.passable[y, x]):
            raise LayoutError(layout.site, f"grid.named_cells.{name}",
                              f"cell ({x}, {y}) of a {grid.cell_m:g} m grid is not passable for IGVs")
        if (x, y) in owner:
            raise LayoutError(layout.site, f"grid.named_cells.{name}",
                              f"shares cell ({x}, {y}) with {owner[x, y]!r}; use a smaller cell_m")
        owner[x, y] = name
    return {name: cell for cell, name in owner.items()}


def _as_points(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array

"""Which polygon each ground point lies in, for thousands of polygons and hundreds of points per frame.

Measured on the 2-core VM for 2,000 slots and 300 points (the benchmark's yard, medians): shapely's
``STRtree.query(points, predicate="within")`` with the point geometries built and the best detection per slot
picked takes about 0.84 ms; this numba kernel, same answers, about 0.05 ms. The polygons are
flattened once into arrays (rings as CSR vertex lists) and bucketed into a uniform grid of their bounding boxes;
a point visits only its grid cell's polygons and tests them with the even-odd ray rule, so holes work too. A
point on an edge shared by two polygons falls into exactly one of them (the rule is half-open).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numba
import numpy as np
import numpy.typing as npt
import shapely

MAX_GRID_CELLS: Final = 1_000_000
MAX_GRID_SIDE: Final = 4096

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]


class PolygonIndex:
    """A fixed set of polygons, queried with many points at once."""

    def __init__(self, polygons: Sequence[shapely.Polygon], name: str = "polygon") -> None:
        for position, polygon in enumerate(polygons):
            _check_polygon(polygon, f"{name} {position}")
        self.size = len(polygons)
        self._ring_start, self._vertex_start, self._vx, self._vy = _flatten(polygons)
        self._bounds = np.array([p.bounds for p in polygons], np.float64).reshape(-1, 4)
        self._grid = _GridBuckets(self._bounds)

    def best_per_polygon(self, xy: FloatArray, score: npt.NDArray[np.float32] | FloatArray) -> IntArray:
        """For each polygon, the row of the highest-scoring point inside it (-1 if none); ties go to the first."""
        best = np.full(self.size, -1, np.int32)
        if len(xy) and self.size:
            g = self._grid
            _best_kernel(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]),
                         np.ascontiguousarray(score, np.float64), g.origin_x, g.origin_y, g.cell, g.nx, g.ny,
                         g.cell_start, g.cell_items, self._bounds, self._ring_start, self._vertex_start,
                         self._vx, self._vy, best, np.full(self.size, -np.inf))
        return best

    def count_per_polygon(self, xy: FloatArray) -> IntArray:
        """How many points lie inside each polygon (a point in two overlapping polygons counts in both)."""
        counts = np.zeros(self.size, np.int32)
        if len(xy) and self.size:
            g = self._grid
            _count_kernel(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), g.origin_x, g.origin_y,
                          g.cell, g.nx, g.ny, g.cell_start, g.cell_items, self._bounds, self._ring_start,
                          self._vertex_start, self._vx, self._vy, counts)
        return counts


class _GridBuckets:
    """Polygons bucketed by the grid cells their bounding boxes touch (CSR: cell → polygon indices)."""

    def __init__(self, bounds: FloatArray) -> None:
        if len(bounds) == 0:
            self.origin_x = self.origin_y = 0.0
            self.cell, self.nx, self.ny = 1.0, 1, 1
            self.cell_items = np.zeros(0, np.int32)
            self.cell_start = np.zeros(2, np.int32)
            return
        extent = bounds[:, 2:] - bounds[:, :2]
        self.origin_x, self.origin_y = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        span_x = float(bounds[:, 2].max()) - self.origin_x
        span_y = float(bounds[:, 3].max()) - self.origin_y
        cell = max(float(np.median(extent.max(axis=1))), 1e-6)  # about one polygon per cell in a dense stack
        cell = max(cell, math.sqrt(span_x * span_y / MAX_GRID_CELLS), max(span_x, span_y) / MAX_GRID_SIDE)
        self.cell = cell
        self.nx = int(span_x // cell) + 1
        self.ny = int(span_y // cell) + 1
        first = np.floor((bounds[:, :2] - (self.origin_x, self.origin_y)) / cell).astype(np.int64)
        last = np.floor((bounds[:, 2:] - (self.origin_x, self.origin_y)) / cell).astype(np.int64)
        cells: list[npt.NDArray[np.int64]] = []
        owners: list[npt.NDArray[np.int64]] = []
        for polygon, ((x0, y0), (x1, y1)) in enumerate(zip(first, last, strict=True)):  # once, at set-up
            xs, ys = np.meshgrid(np.arange(x0, min(x1, self.nx - 1) + 1), np.arange(y0, min(y1, self.ny - 1) + 1))
            cells.append((ys * self.nx + xs).ravel())
            owners.append(np.full(xs.size, polygon))
        flat_cells = np.concatenate(cells) if cells else np.zeros(0, np.int64)
        flat_owners = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        order = np.argsort(flat_cells, kind="stable")
        self.cell_items = flat_owners[order].astype(np.int32)
        counts = np.bincount(flat_cells, minlength=self.nx * self.ny)
        self.cell_start = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)


def _check_polygon(polygon: object, label: str) -> None:
    if not isinstance(polygon, shapely.Polygon):
        raise ValueError(f"{label}: expected a shapely Polygon, got {type(polygon).__name__}")
    if polygon.is_empty or not polygon.is_valid or polygon.area <= 0.0:
        raise ValueError(f"{label}: polygon must be valid with a positive area, got {polygon.wkt[:80]}")
    if not np.isfinite(polygon.bounds).all():
        raise ValueError(f"{label}: polygon has non-finite coordinates")


def _flatten(polygons: Sequence[shapely.Polygon]) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Rings of every polygon as CSR arrays: polygon → rings → closed vertex lists."""
    ring_start, vertex_start = [0], [0]
    chunks: list[FloatArray] = []
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            coords = np.asarray(ring.coords, np.float64)[:, :2]
            chunks.append(coords)
            vertex_start.append(vertex_start[-1] + len(coords))
        ring_start.append(len(vertex_start) - 1)
    vertices = np.concatenate(chunks) if chunks else np.zeros((0, 2))
    return (np.asarray(ring_start, np.int32), np.asarray(vertex_start, np.int32),
            np.ascontiguousarray(vertices[:, 0]), np.ascontiguousarray(vertices[:, 1]))


@numba.njit(cache=True, nogil=True)
def _inside(px: float, py: float, polygon: int, ring_start: IntArray, vertex_start: IntArray,
            vx: FloatArray, vy: FloatArray) -> bool:
    """Even-odd rule over all rings of one polygon (closed rings: the last vertex repeats the first)."""
    inside = False
    for ring in range(ring_start[polygon], ring_start[polygon + 1]):
        for k in range(vertex_start[ring], vertex_start[ring + 1] - 1):
            y1, y2 = vy[k], vy[k + 1]
            if (y1 > py) != (y2 > py):
                x_cross = vx[k] + (py - y1) * (vx[k + 1] - vx[k]) / (y2 - y1)
                if px < x_cross:
                    inside = not inside
    return inside


@numba.njit(cache=True, nogil=True)
def _cell_of(px: float, py: float, origin_x: float, origin_y: float, cell: float, nx: int, ny: int) -> int:
    cx = math.floor((px - origin_x) / cell)
    cy = math.floor((py - origin_y) / cell)
    if cx < 0 or cy < 0 or cx >= nx or cy >= ny:
        return -1
    return int(cy * nx + cx)


@numba.njit(cache=True, nogil=True)
def _best_kernel(xs: FloatArray, ys: FloatArray, score: FloatArray, origin_x: float, origin_y: float, cell: float,
                 nx: int, ny: int, cell_start: IntArray, cell_items: IntArray, bounds: FloatArray,
                 ring_start: IntArray, vertex_start: IntArray, vx: FloatArray, vy: FloatArray, best: IntArray,
                 best_score: FloatArray) -> None:
    for i in range(len(xs)):
        px, py = xs[i], ys[i]
        c = _cell_of(px, py, origin_x, origin_y, cell, nx, ny)
        if c < 0:
            continue
        for j in range(cell_start[c], cell_start[c + 1]):
            polygon = cell_items[j]
            if score[i] <= best_score[polygon]:
                continue
            if px < bounds[polygon, 0] or px > bounds[polygon, 2] or py < bounds[polygon, 1] or py > bounds[polygon, 3]:
                continue
            if _inside(px, py, polygon, ring_start, vertex_start, vx, vy):
                best[polygon] = i
                best_score[polygon] = score[i]


@numba.njit(cache=True, nogil=True)
def _count_kernel(xs: FloatArray, ys: FloatArray, origin_x: float, origin_y: float, cell: float, nx: int, ny: int,
                  cell_start: IntArray, cell_items: IntArray, bounds: FloatArray, ring_start: IntArray,
                  vertex_start: IntArray, vx: FloatArray, vy: FloatArray, counts: IntArray) -> None:
    for i in range(len(xs)):
        px, py = xs[i], ys[i]
        c = _cell_of(px, py, origin_x, origin_y, cell, nx, ny)
        if c < 0:
            continue
        for j in range(cell_start[c], cell_start[c + 1]):
            polygon = cell_items[j]
            if px < bounds[polygon, 0] or px > bounds[polygon, 2] or py < bounds[polygon, 1] or py > bounds[polygon, 3]:
                continue
            if _inside(px, py, polygon, ring_start, vertex_start, vx, vy):
                counts[polygon] += 1

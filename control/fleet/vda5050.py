"""IGV orders and states as VDA 5050 (the AGV interface standard) shapes: a path of grid cells becomes an order of
nodes and edges, and an order or a state report comes back to grid cells.

An order alternates nodes and edges by sequence id: nodes at even ids (``first_sequence_id``, +2, +4, ...), the
edge between two nodes at the odd id in between; node ``c<cell>`` stands for a grid cell, at the cell's centre in
metres (``origin + (x + 0.5, y + 0.5) * cell_m``); edge ``e<from>-<to>``. Orders come from the network, so reading
one back (`cells_of`) checks everything a hostile or corrupt order could get wrong and raises `OrderError`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from bus.messages import MAX_PATH, IGVCommand, IGVState, OrderEdge, OrderNode
from control.planning.grid_map import GridMap

__all__ = ["OrderError", "cells_of", "order_for", "state_cell"]

_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_NODE = re.compile(r"^c(0|[1-9][0-9]{0,9})$")


class OrderError(ValueError):
    """An order or state that does not describe a drivable path on the map; the message says what is wrong."""


def order_for(igv_id: str, order_id: str, update_id: int, cells: Sequence[int], grid: GridMap, *,
              first_sequence_id: int = 0, job_id: str | None = None, cell_m: float = 2.0,
              origin: tuple[float, float] = (0.0, 0.0)) -> IGVCommand:
    """The order driving ``igv_id`` along ``cells`` (each a wait or an allowed move from the one before)."""
    for name, value in (("igv_id", igv_id), ("order_id", order_id), ("job_id", job_id)):
        if value is not None and not (isinstance(value, str) and _ID.match(value)):
            raise OrderError(f"{name} must be 1-64 characters of A-Z a-z 0-9 _ . : -, got {value!r}")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or update_id < 0:
        raise OrderError(f"update_id must be a non-negative integer, got {update_id!r}")
    if isinstance(first_sequence_id, bool) or not isinstance(first_sequence_id, int) \
            or first_sequence_id < 0 or first_sequence_id % 2:
        raise OrderError(f"first_sequence_id must be a non-negative even integer, got {first_sequence_id!r}")
    if not (math.isfinite(cell_m) and cell_m > 0.0 and all(math.isfinite(v) for v in origin)):
        raise OrderError(f"cell_m must be positive and origin finite, got {cell_m!r} and {origin!r}")
    path = _checked_path(np.asarray(cells), grid)
    xs, ys = path % grid.width, path // grid.width
    ids = [f"c{cell}" for cell in path.tolist()]
    nodes = tuple(OrderNode(node_id=node, sequence_id=first_sequence_id + 2 * k,
                            x=origin[0] + (float(x) + 0.5) * cell_m, y=origin[1] + (float(y) + 0.5) * cell_m)
                  for k, (node, x, y) in enumerate(zip(ids, xs.tolist(), ys.tolist(), strict=True)))
    edges = tuple(OrderEdge(edge_id=f"e{a[1:]}-{b[1:]}", sequence_id=first_sequence_id + 2 * k + 1,
                            start_node_id=a, end_node_id=b)
                  for k, (a, b) in enumerate(pairwise(ids)))
    return IGVCommand(command_id=_command_id(order_id, update_id), igv_id=igv_id, order_id=order_id,
                      order_update_id=update_id, nodes=nodes, edges=edges, job_id=job_id)


def cells_of(order: IGVCommand, grid: GridMap) -> list[int]:
    """The cells an order drives through; `OrderError` for a node that is not a passable cell, malformed or
    out-of-order sequence ids, edges that do not join consecutive nodes, or a step that is neither a wait nor an
    allowed move (one-way lanes included). An order without nodes (CANCEL, PAUSE) gives []."""
    if not isinstance(order, IGVCommand):
        raise OrderError(f"expected an IGVCommand, got {type(order).__name__}")
    nodes, edges = order.nodes, order.edges
    if len(nodes) > MAX_PATH or len(edges) > MAX_PATH:
        raise OrderError(f"order {order.order_id}: more than {MAX_PATH} nodes or edges")
    if not nodes:
        if edges:
            raise OrderError(f"order {order.order_id}: {len(edges)} edges but no nodes")
        return []
    first = nodes[0].sequence_id
    if not isinstance(first, int) or first < 0 or first % 2:
        raise OrderError(f"order {order.order_id}: the first node's sequence id must be even, got {first!r}")
    cells = [_node_cell(order.order_id, node, first + 2 * k, grid) for k, node in enumerate(nodes)]
    if len(edges) != len(nodes) - 1:
        raise OrderError(f"order {order.order_id}: {len(nodes)} nodes need {len(nodes) - 1} edges, got {len(edges)}")
    for k, edge in enumerate(edges):
        if edge.sequence_id != first + 2 * k + 1:
            raise OrderError(f"order {order.order_id}: edge {edge.edge_id!r} has sequence id {edge.sequence_id}, "
                             f"expected {first + 2 * k + 1}")
        if (edge.start_node_id, edge.end_node_id) != (nodes[k].node_id, nodes[k + 1].node_id):
            raise OrderError(f"order {order.order_id}: edge {edge.edge_id!r} joins {edge.start_node_id!r} -> "
                             f"{edge.end_node_id!r}, expected {nodes[k].node_id!r} -> {nodes[k + 1].node_id!r}")
    _check_steps(order.order_id, np.array(cells, dtype=np.int64), grid)
    return cells


def state_cell(state: IGVState, grid: GridMap, cell_m: float = 2.0,
               origin: tuple[float, float] = (0.0, 0.0)) -> int:
    """The passable cell a state report places the IGV in; `OrderError` for a position off the map, on a blocked
    cell, or not a number."""
    if not isinstance(state, IGVState):
        raise OrderError(f"expected an IGVState, got {type(state).__name__}")
    if not (math.isfinite(state.x) and math.isfinite(state.y)):
        raise OrderError(f"{state.igv_id}: position ({state.x!r}, {state.y!r}) is not finite")
    if not (math.isfinite(cell_m) and cell_m > 0.0):
        raise OrderError(f"cell_m must be positive, got {cell_m!r}")
    x = math.floor((state.x - origin[0]) / cell_m)
    y = math.floor((state.y - origin[1]) / cell_m)
    if not (0 <= x < grid.width and 0 <= y < grid.height):
        raise OrderError(f"{state.igv_id}: position ({state.x:.2f}, {state.y:.2f}) m is off the "
                         f"{grid.width}x{grid.height} map")
    cell = y * grid.width + x
    if not grid.passable.ravel()[cell]:
        raise OrderError(f"{state.igv_id}: position ({state.x:.2f}, {state.y:.2f}) m is on blocked cell ({x}, {y})")
    return cell


def _checked_path(cells: np.ndarray, grid: GridMap) -> np.ndarray:
    if cells.ndim != 1 or cells.size == 0 or not np.issubdtype(cells.dtype, np.integer):
        raise OrderError(f"cells must be a non-empty 1-d sequence of integer cell ids, got {cells.dtype} "
                         f"{cells.shape}")
    if cells.size > MAX_PATH:
        raise OrderError(f"a path of {cells.size} cells is longer than an order may be ({MAX_PATH})")
    path = cells.astype(np.int64)
    outside = (path < 0) | (path >= grid.num_cells)
    if outside.any():
        raise OrderError(f"cell {int(path[outside][0])} is not on {grid.name}")
    blocked = ~grid.passable.ravel()[path]
    if blocked.any():
        raise OrderError(f"cell {int(path[blocked][0])} is blocked on {grid.name}")
    _check_steps("path", path, grid)
    return path


def _node_cell(order_id: str, node: OrderNode, sequence_id: int, grid: GridMap) -> int:
    if node.sequence_id != sequence_id:
        raise OrderError(f"order {order_id}: node {node.node_id!r} has sequence id {node.sequence_id}, expected "
                         f"{sequence_id}")
    match = _NODE.match(node.node_id) if isinstance(node.node_id, str) else None
    if match is None:
        raise OrderError(f"order {order_id}: node id {node.node_id!r} is not of the form c<cell>")
    cell = int(match.group(1))
    if cell >= grid.num_cells or not grid.passable.ravel()[cell]:
        raise OrderError(f"order {order_id}: node {node.node_id!r} is not a passable cell of {grid.name}")
    return cell


def _check_steps(what: str, path: np.ndarray, grid: GridMap) -> None:
    """Each step a wait or an allowed move (``grid.successors`` row of the cell before)."""
    if path.size < 2:
        return
    allowed = (grid.successors[path[:-1]] == path[1:, None]).any(axis=1)
    if not allowed.all():
        k = int(np.flatnonzero(~allowed)[0])
        (ax, ay), (bx, by) = grid.xy(path[k:k + 2])
        raise OrderError(f"{what}: step {k} from ({ax}, {ay}) to ({bx}, {by}) is not a wait or an allowed move")


def _command_id(order_id: str, update_id: int) -> str:
    """``<order>.<update>``, or a digest of it when that would be longer than an id may be."""
    plain = f"{order_id}.{update_id}"
    return plain if len(plain) <= 64 else hashlib.blake2b(plain.encode(), digest_size=16).hexdigest()

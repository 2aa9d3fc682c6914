"""Reading a VDA 5050 style order (`IGVCommand`) back into grid cells, refusing anything a real vehicle would.

Orders arrive from the bus and may be corrupt or hostile. An order is accepted only when every node is a cell node
``"c<cell id>"`` of a passable cell whose coordinates lie on that cell, sequence ids increase, the edges join
consecutive nodes, released nodes come first (the rest is the horizon, not driven yet), the first node is where the
vehicle stands, and each next node is the same cell or one the map allows driving to (one-way lanes included).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import pairwise

from bus.messages import IGVCommand, OrderNode
from control.planning.grid_map import GridMap

__all__ = ["MAX_ORDER_NODES", "OrderRejectedError", "ParsedOrder", "cell_centre", "parse_order"]

MAX_ORDER_NODES = 20_000
"""Far beyond any drive in a yard (the 3.6 km corridor is 1,800 cells): a longer order is refused unread."""
_NODE_ID = re.compile(r"^c(0|[1-9][0-9]{0,8})$")


class OrderRejectedError(ValueError):
    """An order the vehicle refuses; ``reason`` is a short code for counters, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ParsedOrder:
    """The cells of an order's nodes with their node and sequence ids; ``released``: how many nodes may be driven."""

    order_id: str
    update_id: int
    cells: tuple[int, ...]
    node_ids: tuple[str, ...]
    sequence_ids: tuple[int, ...]
    released: int


def cell_centre(grid: GridMap, cell: int, cell_m: float, origin: tuple[float, float]) -> tuple[float, float]:
    """Metres of a cell's centre (the point a cell node stands for)."""
    y, x = divmod(int(cell), grid.width)
    return origin[0] + (x + 0.5) * cell_m, origin[1] + (y + 0.5) * cell_m


def parse_order(command: IGVCommand, grid: GridMap, here: int, *, cell_m: float = 2.0,
                origin: tuple[float, float] = (0.0, 0.0)) -> ParsedOrder:
    """The order's cells, checked as the module says; `OrderRejectedError` naming the first problem."""
    nodes = command.nodes
    if not nodes:
        raise OrderRejectedError("malformed", f"order {command.order_id} has no nodes")
    if len(nodes) > MAX_ORDER_NODES:
        raise OrderRejectedError("too_long", f"order {command.order_id} has {len(nodes)} nodes, more than "
                                             f"{MAX_ORDER_NODES}")
    cells = tuple(_node_cell(grid, node, cell_m, origin) for node in nodes)
    sequence = tuple(node.sequence_id for node in nodes)
    if any(b <= a for a, b in pairwise(sequence)):
        raise OrderRejectedError("malformed", f"order {command.order_id}: node sequence ids must increase")
    _check_edges(command)
    released = sum(1 for node in nodes if node.released)
    if any(not node.released for node in nodes[:released]):
        raise OrderRejectedError("malformed", f"order {command.order_id}: a released node follows the horizon")
    if cells[0] != here:
        raise OrderRejectedError("not_here", f"order {command.order_id} starts at {nodes[0].node_id}, the vehicle is "
                                        f"at c{here}")
    for k, (a, b) in enumerate(pairwise(cells)):
        if a != b and b not in grid.successors[a, 1:]:
            raise OrderRejectedError("not_adjacent", f"order {command.order_id}: node {k + 1} ({nodes[k + 1].node_id}) "
                                                f"cannot be reached from {nodes[k].node_id} in one move")
    return ParsedOrder(command.order_id, command.order_update_id, cells, tuple(n.node_id for n in nodes), sequence,
                       max(released, 1))


def _node_cell(grid: GridMap, node: OrderNode, cell_m: float, origin: tuple[float, float]) -> int:
    match = _NODE_ID.match(node.node_id)
    if match is None:
        raise OrderRejectedError("malformed", f"node {node.node_id!r:.40} is not a cell node c<id>")
    cell = int(match.group(1))
    if cell >= grid.num_cells or not grid.passable.ravel()[cell]:
        raise OrderRejectedError("not_a_cell", f"node {node.node_id} is not a passable cell of {grid.name}")
    x, y = cell_centre(grid, cell, cell_m, origin)
    if not (math.isfinite(node.x) and math.isfinite(node.y)) or abs(node.x - x) > cell_m or abs(node.y - y) > cell_m:
        raise OrderRejectedError("malformed", f"node {node.node_id} at ({node.x:.6g}, {node.y:.6g}) m is not on "
                                              "its cell")
    return cell


def _check_edges(command: IGVCommand) -> None:
    nodes, edges = command.nodes, command.edges
    if len(edges) != len(nodes) - 1:
        raise OrderRejectedError("malformed", f"order {command.order_id}: {len(nodes)} nodes need {len(nodes) - 1} "
                                         f"edges, got {len(edges)}")
    for k, edge in enumerate(edges):
        if (edge.start_node_id, edge.end_node_id) != (nodes[k].node_id, nodes[k + 1].node_id):
            raise OrderRejectedError("malformed", f"order {command.order_id}: edge {edge.edge_id} does not join nodes "
                                             f"{k} and {k + 1}")

"""VDA 5050 adapters: paths round-trip through orders (and through the wire codec), hostile orders are refused with
a reason, states map back to cells."""

from __future__ import annotations

import numpy as np
import pytest

from bus.codec import decode_as, encode
from bus.messages import IGVCommand, IGVState, OrderEdge, OrderNode
from control.fleet.vda5050 import OrderError, cells_of, order_for, state_cell
from control.planning.grid_map import GridMap
from tests.control.fleet.conftest import named
from tests.control.planning.planner_cases import ascii_map, cells, one_way_ring


def grid_small() -> GridMap:
    return ascii_map("small", ["....", ".#..", "...."])


def path_of(grid: GridMap, *xy: tuple[int, int]) -> list[int]:
    return [int(c) for c in cells(grid, list(xy))]


def test_an_order_alternates_nodes_and_edges_at_cell_centres():
    grid = grid_small()
    path = path_of(grid, (0, 0), (1, 0), (1, 0), (2, 0))
    order = order_for("igv-01", "o-1", 3, path, grid, first_sequence_id=4, job_id="job-9", cell_m=2.0,
                      origin=(100.0, -50.0))
    assert [n.sequence_id for n in order.nodes] == [4, 6, 8, 10]
    assert [e.sequence_id for e in order.edges] == [5, 7, 9]
    assert [n.node_id for n in order.nodes] == ["c0", "c1", "c1", "c2"]
    assert [(n.x, n.y) for n in order.nodes[:2]] == [(101.0, -49.0), (103.0, -49.0)]
    assert [(e.start_node_id, e.end_node_id) for e in order.edges] == [("c0", "c1"), ("c1", "c1"), ("c1", "c2")]
    assert (order.igv_id, order.order_id, order.order_update_id, order.job_id) == ("igv-01", "o-1", 3, "job-9")
    assert order.command_id == "o-1.3"


@pytest.mark.parametrize("seed", range(5))
def test_planned_paths_round_trip_through_orders_and_the_wire(yard, seed):
    rng = np.random.default_rng(seed)
    cell = int(rng.choice(yard.free_cells))
    path = [cell]
    for _ in range(60):                                  # a random walk along allowed moves (waits included)
        moves = yard.successors[path[-1]]
        path.append(int(rng.choice(moves[moves >= 0])))
    order = order_for("igv-07", f"o-{seed}", seed, path, yard, first_sequence_id=2 * seed)
    wire = decode_as(encode(order), IGVCommand)
    assert cells_of(wire, yard) == path
    assert cells_of(order, yard) == path


def test_an_order_without_nodes_is_an_empty_path(yard):
    cancel = IGVCommand(command_id="c", igv_id="igv-01", order_id="o", order_update_id=1, action="CANCEL")
    assert cells_of(cancel, yard) == []


def _order(nodes: list[tuple[str, int]], edges: list[tuple[str, int, str, str]]) -> IGVCommand:
    return IGVCommand(command_id="c", igv_id="igv-01", order_id="o", order_update_id=0,
                      nodes=tuple(OrderNode(node_id=n, sequence_id=s, x=0.0, y=0.0) for n, s in nodes),
                      edges=tuple(OrderEdge(edge_id=e, sequence_id=s, start_node_id=a, end_node_id=b)
                                  for e, s, a, b in edges))


GOOD_EDGE = [("e0-1", 1, "c0", "c1")]


@pytest.mark.parametrize(("nodes", "edges", "message"), [
    ([("c0", 0), ("c2", 2)], [("e", 1, "c0", "c2")], "not a wait or an allowed move"),
    ([("c0", 0), ("c5", 2)], [("e", 1, "c0", "c5")], "not a passable cell"),          # (1, 1) is blocked
    ([("c0", 0), ("c99", 2)], [("e", 1, "c0", "c99")], "not a passable cell"),
    ([("c0", 0), ("c-1", 2)], [("e", 1, "c0", "c-1")], "form c<cell>"),
    ([("c0", 0), ("c01", 2)], [("e", 1, "c0", "c01")], "form c<cell>"),
    ([("c0", 0), ("x1", 2)], [("e", 1, "c0", "x1")], "form c<cell>"),
    ([("c0", 0), ("c99999999999", 2)], [("e", 1, "c0", "c99999999999")], "form c<cell>"),
    ([("c0", 0), ("c1", 1)], [("e", 2, "c0", "c1")], "sequence id 1, expected 2"),
    ([("c0", 1), ("c1", 3)], [("e", 2, "c0", "c1")], "must be even"),
    ([("c0", 0), ("c1", 4)], GOOD_EDGE, "sequence id 4, expected 2"),
    ([("c0", 0), ("c1", 2)], [], "need 1 edges, got 0"),
    ([("c0", 0), ("c1", 2)], GOOD_EDGE * 2, "need 1 edges, got 2"),
    ([("c0", 0), ("c1", 2)], [("e", 3, "c0", "c1")], "sequence id 3, expected 1"),
    ([("c0", 0), ("c1", 2)], [("e", 1, "c1", "c0")], "joins"),
    ([], GOOD_EDGE, "edges but no nodes"),
])
def test_hostile_orders_are_refused(nodes, edges, message):
    with pytest.raises(OrderError, match=message):
        cells_of(_order(nodes, edges), grid_small())


def test_a_move_against_a_one_way_lane_is_refused():
    ring = one_way_ring()
    forward = path_of(ring, (0, 0), (1, 0), (2, 0))
    assert cells_of(order_for("igv-01", "o", 0, forward, ring), ring) == forward
    backward = forward[::-1]
    with pytest.raises(OrderError, match="not a wait or an allowed move"):
        order_for("igv-01", "o", 0, backward, ring)
    hostile = _order([("c2", 0), ("c1", 2)], [("e", 1, "c2", "c1")])
    with pytest.raises(OrderError, match="not a wait or an allowed move"):
        cells_of(hostile, ring)


def test_not_an_order_is_refused():
    with pytest.raises(OrderError, match="expected an IGVCommand"):
        cells_of({"nodes": []}, grid_small())  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cells": []}, "non-empty"),
    ({"cells": [0.5]}, "integer"),
    ({"cells": [0, 2]}, "not a wait or an allowed move"),
    ({"cells": [5]}, "blocked"),
    ({"cells": [12]}, "not on"),
    ({"igv_id": "igv 01"}, "igv_id"),
    ({"order_id": ""}, "order_id"),
    ({"job_id": "x" * 65}, "job_id"),
    ({"update_id": -1}, "update_id"),
    ({"update_id": True}, "update_id"),
    ({"first_sequence_id": 3}, "first_sequence_id"),
    ({"cell_m": 0.0}, "cell_m"),
    ({"origin": (float("nan"), 0.0)}, "origin"),
])
def test_bad_order_requests_are_refused(kwargs, message):
    args = {"igv_id": "igv-01", "order_id": "o", "update_id": 0, "cells": [0, 1], "grid": grid_small(), **kwargs}
    grid = args.pop("grid")
    with pytest.raises(OrderError, match=message):
        order_for(args.pop("igv_id"), args.pop("order_id"), args.pop("update_id"), args.pop("cells"), grid, **args)


def test_a_long_order_id_gets_a_digest_command_id():
    grid = grid_small()
    order = order_for("igv-01", "o" * 64, 12, [0, 1], grid)
    assert len(order.command_id) == 32
    assert decode_as(encode(order), IGVCommand).command_id == order.command_id


@pytest.mark.parametrize(("x", "y", "expected"), [(1.0, 1.0, 0), (3.9, 1.0, 1), (7.99, 5.5, 11), (4.0, 0.0, 2)])
def test_state_positions_map_to_cells(x, y, expected):
    state = IGVState(igv_id="igv-01", x=x, y=y)
    assert state_cell(state, grid_small()) == expected


def test_state_cell_is_the_inverse_of_a_node_position(yard):
    spots = named(yard, "igv-parking")
    order = order_for("igv-01", "o", 0, spots[:1], yard, cell_m=2.0, origin=(10.0, 20.0))
    node = order.nodes[0]
    state = IGVState(igv_id="igv-01", x=node.x, y=node.y)
    assert state_cell(state, yard, 2.0, (10.0, 20.0)) == spots[0]


@pytest.mark.parametrize(("x", "y", "message"), [
    (-0.1, 1.0, "off the"), (8.0, 1.0, "off the"), (1.0, 6.0, "off the"), (3.0, 3.0, "blocked cell"),
    (float("nan"), 1.0, "not finite"), (1.0, float("inf"), "not finite"), (1e300, 1.0, "off the"),
])
def test_bad_state_positions_are_refused(x, y, message):
    with pytest.raises(OrderError, match=message):
        state_cell(IGVState(igv_id="igv-01", x=x, y=y), grid_small())

"""DeviceSimulator without sockets: orders executed one cell per tick with a state on every node, refused orders
(malformed, not adjacent, unknown IGV, stale update) answered with an error state and counted, blocked and broken
IGVs reported, cranes answering after their move's duration."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import msgspec
import numpy as np
import pytest

from bus.messages import CraneCommand, IGVCommand, IGVState, Message, OrderEdge, OrderNode, Telemetry
from control.cranes.model import CraneTiming
from control.fieldsim.device_service import TICK_S, DeviceSimulator
from control.fieldsim.orders import cell_centre
from control.planning.grid_map import GridMap, build_grid_map

# a 6 × 3 open hall; cell = y * 6 + x
HALL = build_grid_map("hall", np.ones((3, 6), dtype=bool))
FUTURE = 4.0e9


def order(igv: str, order_id: str, cells: Sequence[int], grid: GridMap = HALL, *, update: int = 0,
          action: str = "ORDER", released: int | None = None) -> IGVCommand:
    """An order as a fleet adapter sends it: cell nodes c<id> at the cells' centres, edges between them."""
    count = len(cells) if released is None else released
    nodes = tuple(OrderNode(node_id=f"c{c}", sequence_id=2 * k, x=cell_centre(grid, c, 2.0, (0.0, 0.0))[0],
                            y=cell_centre(grid, c, 2.0, (0.0, 0.0))[1], released=k < count)
                  for k, c in enumerate(cells))
    edges = tuple(OrderEdge(edge_id=f"e{k}", sequence_id=2 * k + 1, start_node_id=a.node_id, end_node_id=b.node_id)
                  for k, (a, b) in enumerate(itertools.pairwise(nodes)))
    return IGVCommand(command_id=f"{order_id}-{update}", igv_id=igv, order_id=order_id, order_update_id=update,
                      action=action, nodes=nodes, edges=edges)  # type: ignore[arg-type]


def simulator() -> DeviceSimulator:
    return DeviceSimulator(HALL, ["igv-01", "igv-02"], np.array([0, 12]), cranes={"crane-1": 10.0},
                           timing=CraneTiming())


def states(messages: list[Message]) -> list[IGVState]:
    return [m for m in messages if isinstance(m, IGVState)]


def test_an_order_is_driven_one_cell_per_tick_with_a_state_per_node() -> None:
    sim = simulator()
    accepted = states(sim.handle(order("igv-01", "o1", [0, 1, 2, 8]), 0.0))
    assert [(s.last_node_id, s.remaining_nodes, s.driving, s.errors) for s in accepted] == [("c0", 3, True, ())]
    reports = states(sim.advance(10 * TICK_S))
    assert [(s.igv_id, s.last_node_id, s.last_node_sequence_id, s.remaining_nodes) for s in reports] == [
        ("igv-01", "c1", 2, 2), ("igv-01", "c2", 4, 1), ("igv-01", "c8", 6, 0)]
    last = reports[-1]
    assert (last.x, last.y, last.driving) == (5.0, 3.0, False)      # cell (2, 1) centre; order finished
    assert last.sim_time_s == pytest.approx(3 * TICK_S)
    assert sim.positions() == {"igv-01": 8, "igv-02": 12}
    assert sim.counters["orders_finished"] == 1


def test_an_update_extends_the_order_and_only_released_nodes_are_driven() -> None:
    sim = simulator()
    sim.handle(order("igv-01", "o1", [0, 1, 2, 3], released=2), 0.0)
    sim.advance(5 * TICK_S)
    assert sim.positions()["igv-01"] == 1                          # the horizon (2, 3) is not driven yet
    sim.handle(order("igv-01", "o1", [1, 2, 3], update=1), 0.0)
    sim.advance(10 * TICK_S)
    assert sim.positions()["igv-01"] == 3


def test_a_wait_node_is_reached_by_staying() -> None:
    sim = simulator()
    sim.handle(order("igv-01", "o1", [0, 0, 1]), 0.0)
    reports = states(sim.advance(2 * TICK_S))
    assert [s.last_node_id for s in reports] == ["c0", "c1"]


REFUSED: list[tuple[str, IGVCommand, str]] = [
    ("not adjacent", order("igv-01", "o2", [0, 2]), "not_adjacent"),
    ("not where the IGV is", order("igv-01", "o2", [1, 2]), "not_here"),
    ("unknown IGV", order("igv-77", "o2", [0, 1]), "unknown_igv"),
    ("no nodes", IGVCommand(command_id="x", igv_id="igv-01", order_id="o2", order_update_id=0), "malformed"),
    ("node not a cell node", IGVCommand(command_id="x", igv_id="igv-01", order_id="o2", order_update_id=0,
                                        nodes=(OrderNode(node_id="dock-7", sequence_id=0, x=1.0, y=1.0),)),
     "malformed"),
    ("node off its cell", IGVCommand(command_id="x", igv_id="igv-01", order_id="o2", order_update_id=0,
                                     nodes=(OrderNode(node_id="c0", sequence_id=0, x=90.0, y=1.0),)), "malformed"),
    ("cell outside the map", msgspec.structs.replace(order("igv-01", "o2", [0]),
        nodes=(OrderNode(node_id="c999", sequence_id=0, x=1.0, y=1.0),)), "not_a_cell"),
    ("edges missing", msgspec.structs.replace(order("igv-01", "o2", [0, 1]), edges=()), "malformed"),
    ("sequence ids going back", msgspec.structs.replace(order("igv-01", "o2", [0, 1]), nodes=tuple(
        msgspec.structs.replace(n, sequence_id=5 - k) for k, n in enumerate(order("igv-01", "o2", [0, 1]).nodes))),
     "malformed"),
    ("too long", order("igv-01", "o2", [0, 1] * 10_001), "too_long"),
    ("stale update", order("igv-01", "o1", [0, 1], update=3), "stale"),
    ("cancel of another order", order("igv-01", "o9", [0], action="CANCEL"), "unknown_order"),
]


@pytest.mark.parametrize(("name", "command", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_orders_give_an_error_state_are_counted_and_change_nothing(name: str, command: IGVCommand,
                                                                           reason: str) -> None:
    sim = simulator()
    sim.handle(order("igv-01", "o1", [0, 1], update=5), 0.0)
    replies = states(sim.handle(command, 0.0))
    assert len(replies) == 1
    assert replies[0].errors
    assert replies[0].errors[0].startswith("order rejected")
    assert sim.counters[f"rejected.{reason}"] == 1
    sim.advance(5 * TICK_S)
    assert sim.positions()["igv-01"] == 1                          # the current order went on as before


def test_a_duplicate_is_ignored_and_cancel_and_pause_are_obeyed() -> None:
    sim = simulator()
    first = order("igv-01", "o1", [0, 1, 2, 3, 4])
    sim.handle(first, 0.0)
    assert sim.handle(first, 0.0) == []
    assert sim.counters["duplicates"] == 1
    sim.advance(TICK_S)
    sim.handle(order("igv-01", "o1", [], action="PAUSE"), 0.0)
    sim.advance(4 * TICK_S)
    assert sim.positions()["igv-01"] == 1
    sim.handle(order("igv-01", "o1", [], action="RESUME"), 0.0)
    sim.advance(5 * TICK_S)
    assert sim.positions()["igv-01"] == 2
    sim.handle(order("igv-01", "o1", [], action="CANCEL"), 0.0)
    sim.advance(10 * TICK_S)
    assert sim.positions()["igv-01"] == 2


def test_a_blocked_igv_reports_once_and_goes_on_when_the_cell_is_free() -> None:
    sim = DeviceSimulator(HALL, ["igv-01", "igv-02"], np.array([0, 2]))
    sim.handle(order("igv-01", "a", [0, 1, 2, 3]), 0.0)
    sim.handle(order("igv-02", "b", [2, 2, 2, 2, 8]), 0.0)          # waits three ticks on 2, then leaves
    reports = states(sim.advance(10 * TICK_S))
    blocked = [s for s in reports if s.errors]
    assert [(s.igv_id, s.errors) for s in blocked] == [("igv-01", ("blocked: c2 is taken",))]
    assert sim.positions() == {"igv-01": 3, "igv-02": 8}


def test_a_broken_igv_stops_reports_and_refuses_orders_until_repaired() -> None:
    sim = simulator()
    sim.handle(order("igv-01", "o1", [0, 1, 2, 3]), 0.0)
    sim.advance(TICK_S)
    assert states(sim.set_broken("igv-01", True))[0].errors == ("broken",)
    sim.advance(5 * TICK_S)
    assert sim.positions()["igv-01"] == 1
    assert states(sim.handle(order("igv-01", "o2", [1, 7]), 0.0))[0].errors[0].endswith("the IGV is broken")
    sim.set_broken("igv-01", False)
    sim.advance(10 * TICK_S)
    assert sim.positions()["igv-01"] == 3


def crane(action: str, seq: int, *, position_m: float | None = None, expires: float = FUTURE,
          crane_id: str = "crane-1") -> CraneCommand:
    return CraneCommand(command_id=f"k{seq}", crane_id=crane_id, job_id="j1", action=action,  # type: ignore[arg-type]
                        position_m=position_m, seq=seq, expires_utc=expires)


def telemetry(messages: list[Message]) -> list[Telemetry]:
    return [m for m in messages if isinstance(m, Telemetry)]


def test_a_crane_answers_after_its_move_duration_and_queues_the_next() -> None:
    sim = simulator()
    started = telemetry(sim.handle(crane("PICK", 1, position_m=30.0), 1.0e9))
    assert [t.state for t in started] == ["busy"]
    sim.handle(crane("PLACE", 2), 1.0e9)
    assert telemetry(sim.advance(99.6)) == []                       # 20 m at 1 m/s + 30 + 20 + 30 = 100 s
    done = telemetry(sim.advance(100.4))
    assert [(t.state, t.x, t.metrics["seq"]) for t in done] == [("done", 30.0, 1.0), ("busy", 30.0, 2.0)]
    done = telemetry(sim.advance(151.0))                            # the PLACE: trolley 20 + place 30
    assert [(t.state, t.metrics["seq"]) for t in done] == [("done", 2.0)]


@pytest.mark.parametrize(("command", "reason"), [
    (crane("PICK", 1, crane_id="crane-9"), "unknown_crane"),
    (crane("PICK", 1, expires=10.0), "expired"),
    (crane("PICK", 0), "stale"),
])
def test_bad_crane_commands_give_an_error_telemetry(command: CraneCommand, reason: str) -> None:
    sim = simulator()
    sim.handle(crane("MOVE", 0, position_m=12.0), 1.0e9)
    replies = telemetry(sim.handle(command, 1.0e9))
    assert [(t.state, len(t.errors)) for t in replies] == [("error", 1)]
    assert sim.counters[f"crane_rejected.{reason}"] == 1


def test_a_stopped_crane_drops_its_work_refuses_moves_and_resumes() -> None:
    sim = simulator()
    sim.handle(crane("PICK", 1), 1.0e9)
    assert [t.state for t in telemetry(sim.handle(crane("STOP", 2), 1.0e9))] == ["stopped"]
    assert [t.state for t in telemetry(sim.handle(crane("PICK", 3), 1.0e9))] == ["error"]
    assert telemetry(sim.advance(200.0)) == []
    assert [t.state for t in telemetry(sim.handle(crane("RESUME", 4), 1.0e9))] == ["idle"]
    sim.handle(crane("PICK", 5), 1.0e9)
    assert [t.state for t in telemetry(sim.advance(300.0))] == ["done"]

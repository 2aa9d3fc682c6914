"""The planner service: `answer` on its own, then `PlannerService` over a real CURVE socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq

from bus.codec import encode
from bus.curve import Security, generate_keys, load_keypair, load_public
from bus.messages import GateCommand, PlanReply, PlanRequest
from bus.reqrep import Client
from bus.transport import REQUEST_PROTOCOL
from control.planning.grid_map import GridMap, MapError, random_instance
from control.planning.maps_registry import MapRegistry
from control.planning.service import PlannerOptions, PlannerService, answer, first_duplicate, hold_plan, warm_up
from control.planning.validate import validate
from tests.waiting import wait_for

ROOMS = [
    "..........",
    ".@@@..@@@.",
    ".@......@.",
    "...@@@@...",
    ".@......@.",
    ".@@@..@@@.",
    "..........",
]
SPLIT = ["...@...", "...@...", "...@..."]
TINY = ["..", ".@"]


def write_map(folder: Path, name: str, rows: list[str]) -> None:
    (folder / f"{name}.map").write_text(f"type octile\nheight {len(rows)}\nwidth {len(rows[0])}\nmap\n"
                                        + "\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> MapRegistry:
    folder = tmp_path_factory.mktemp("maps")
    write_map(folder, "rooms", ROOMS)
    write_map(folder, "split", SPLIT)
    write_map(folder, "tiny", TINY)
    write_map(folder, "open", ["." * 32] * 32)
    warm_up()   # numba compiles on first use, which no deadline can bound: before any timed request
    return MapRegistry([folder])


def request(starts: list[tuple[int, int]], goals: list[tuple[int, int]], *, map_id: str = "rooms",
            algo: str = "lacam", deadline_ms: float = 2000.0, request_id: str = "r-1") -> PlanRequest:
    return PlanRequest(request_id=request_id, map_id=map_id, starts=tuple(starts), goals=tuple(goals),
                       algo=algo, deadline_ms=deadline_ms)  # type: ignore[arg-type]


def plan_cells(grid: GridMap, reply: PlanReply) -> np.ndarray:
    """The reply's per-agent (x, y) paths as a (T + 1, N) array of cell ids."""
    xy = np.asarray(reply.paths, dtype=np.int64)
    return (xy[:, :, 1] * grid.width + xy[:, :, 0]).T.astype(np.int32)


def hard_request(registry: MapRegistry, deadline_ms: float, request_id: str = "hard") -> PlanRequest:
    """900 agents on an open 32 × 32 map (88 % of the cells): far more than a few milliseconds of search."""
    grid = registry.get("open")
    starts, goals = random_instance(grid, 900, seed=7)
    as_xy = [[(int(x), int(y)) for x, y in grid.xy(cells)] for cells in (starts, goals)]
    return request(as_xy[0], as_xy[1], map_id="open", deadline_ms=deadline_ms, request_id=request_id)


# --- answer -----------------------------------------------------------------------------------------------------

SWAP = ([(0, 0), (9, 0), (4, 2), (0, 6)], [(9, 0), (0, 0), (5, 4), (9, 6)])


@pytest.mark.parametrize("algo", ["pibt", "lacam"])
def test_solved_plan_is_valid_and_goes_from_starts_to_goals(registry: MapRegistry, algo: str) -> None:
    reply = answer(request(*SWAP, algo=algo), registry)
    assert (reply.status, reply.error, reply.request_id) == ("solved", None, "r-1")
    assert [p[0] for p in reply.paths] == SWAP[0]
    assert [p[-1] for p in reply.paths] == SWAP[1]
    grid = registry.get("rooms")
    plan = plan_cells(grid, reply)
    assert validate(grid, plan[0], plan[-1], plan) == []
    assert reply.makespan == plan.shape[0] - 1 >= 9
    assert reply.sum_of_costs >= 9 + 9 + 3 + 9
    assert reply.runtime_ms > 0.0


@pytest.mark.parametrize(
    ("map_id", "starts", "goals", "message"),
    [
        ("nowhere", [(0, 0)], [(1, 0)], "unknown map 'nowhere' (known: open, rooms, split, tiny)"),
        ("rooms", [(0, 0), (1, 0)], [(2, 0)], "2 starts but 1 goals"),
        ("rooms", [(0, 0), (10, 0)], [(2, 0), (3, 0)], "start of agent 1 (10, 0) is outside map 'rooms' (10×7)"),
        ("rooms", [(0, 0), (1, 0)], [(2, 0), (3, 7)], "goal of agent 1 (3, 7) is outside map"),
        ("rooms", [(0, 0), (1, 1)], [(2, 0), (3, 0)], "start of agent 1 (1, 1) is on an obstacle of map 'rooms'"),
        ("rooms", [(0, 0), (1, 0)], [(2, 0), (3, 3)], "goal of agent 1 (3, 3) is on an obstacle"),
        ("rooms", [(0, 0), (5, 5), (0, 0)], [(2, 0), (3, 0), (4, 0)], "agents 0 and 2 have the same start (0, 0)"),
        ("rooms", [(0, 0), (5, 5), (6, 6)], [(2, 0), (3, 0), (3, 0)], "agents 1 and 2 have the same goal (3, 0)"),
        ("tiny", [(0, 0), (1, 0), (0, 1), (1, 0)], [(0, 0), (1, 0), (0, 1), (1, 0)], "too many agents: 4 on map "
         "'tiny' with 3 free cells"),
        ("split", [(0, 0), (4, 1)], [(2, 2), (1, 1)], "agent 1: goal (1, 1) cannot be reached from start (4, 1)"),
    ],
)
def test_requests_that_cannot_be_planned_get_a_clear_error(registry: MapRegistry, map_id: str,
                                                           starts: list[tuple[int, int]],
                                                           goals: list[tuple[int, int]], message: str) -> None:
    reply = answer(request(starts, goals, map_id=map_id), registry)
    assert (reply.status, reply.paths) == ("error", ())
    assert reply.error is not None
    assert message in reply.error, reply.error


def test_no_agents_is_solved_at_once(registry: MapRegistry) -> None:
    reply = answer(request([], []), registry)
    assert (reply.status, reply.paths, reply.makespan) == ("solved", (), 0)


def test_a_deadline_too_short_gives_a_safe_plan_quickly(registry: MapRegistry) -> None:
    hard = hard_request(registry, deadline_ms=5.0)
    answer(hard_request(registry, deadline_ms=5.0, request_id="warm"), registry)   # distance rows, compiled code
    started = time.monotonic()
    reply = answer(hard, registry)
    took_ms = (time.monotonic() - started) * 1000.0
    assert reply.status in ("hold", "partial")
    assert took_ms < 60.0, took_ms
    grid = registry.get("open")
    plan = plan_cells(grid, reply)
    assert validate(grid, plan[0], plan[-1], plan, require_goals=False) == []
    assert [p[0] for p in reply.paths] == list(hard.starts)
    if reply.status == "hold":
        assert plan.shape[0] == 2
        assert (plan[1] == plan[0]).all()


def test_hold_plan_waits_one_step() -> None:
    starts = np.array([3, 1, 4], dtype=np.int32)
    assert hold_plan(starts).tolist() == [[3, 1, 4], [3, 1, 4]]


@pytest.mark.parametrize(
    ("cells", "pair"),
    [([], None), ([5], None), ([1, 2, 3], None), ([4, 2, 4], (0, 2)), ([9, 1, 1, 9], (0, 3)), ([3, 7, 7], (1, 2))],
)
def test_first_duplicate(cells: list[int], pair: tuple[int, int] | None) -> None:
    assert first_duplicate(np.array(cells, dtype=np.int32)) == pair


def test_registry_serves_files_by_stem_and_the_yard(tmp_path: Path, registry: MapRegistry) -> None:
    write_map(tmp_path, "a", TINY)
    (tmp_path / "broken.map").write_text("type octile\nheight 9\n")
    yard = registry.get("tiny")
    maps = MapRegistry([tmp_path], yard=yard)
    assert maps.ids() == ["a", "broken", "yard"]
    assert maps.get("yard") is yard
    assert maps.get("a") is maps.get("a")
    assert (maps.get("a").width, maps.get("a").height) == (2, 2)
    with pytest.raises(MapError, match=r"broken\.map"):
        maps.get("broken")
    with pytest.raises(MapError, match="unknown map 'b'"):
        maps.get("b")
    with pytest.raises(MapError, match="not a folder"):
        MapRegistry([tmp_path / "missing"])


# --- over a real socket -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("curve") / "keys"
    generate_keys(folder, ["planner", "control"])
    return folder


@pytest.fixture
def service(registry: MapRegistry, keys: Path) -> Iterator[PlannerService]:
    security = Security.curve(load_keypair(keys, "planner"), authorized_dir=keys)
    stop = threading.Event()
    with PlannerService("tcp://127.0.0.1:*", registry, security, options=PlannerOptions()) as planner:
        thread = threading.Thread(target=planner.serve, args=(stop,), kwargs={"poll_s": 0.01})
        thread.start()
        try:
            yield planner
        finally:
            stop.set()
            thread.join(timeout=5)


def client_security(keys: Path) -> Security:
    return Security.curve(load_keypair(keys, "control"), server_public=load_public(keys, "planner"))


def test_service_answers_over_curve_and_survives_malformed_requests(service: PlannerService, keys: Path,
                                                                    registry: MapRegistry) -> None:
    with Client(service.endpoint, client_security(keys), client_id="control-1") as client:
        solved = client.request(request(*SWAP, request_id="ok-1"), timeout_s=10.0)
        assert isinstance(solved, PlanReply)
        assert (solved.status, solved.request_id) == ("solved", "ok-1")
        plan = plan_cells(registry.get("rooms"), solved)
        assert validate(registry.get("rooms"), plan[0], plan[-1], plan) == []

        on_wall = client.request(request([(1, 1)], [(0, 0)], request_id="bad-1"), timeout_s=5.0)
        assert isinstance(on_wall, PlanReply)
        assert on_wall.status == "error"
        assert on_wall.error is not None
        assert "on an obstacle" in on_wall.error

        command = GateCommand(command_id="cmd-1", lane_id="in-1", passage_id="p-1", action="OPEN", seq=1,
                              expires_utc=1.0)
        wrong = client.request(command, timeout_s=5.0)
        assert isinstance(wrong, PlanReply)
        assert wrong.status == "error"
        assert wrong.request_id == "cmd-1"
        assert wrong.error is not None
        assert "PlanRequest only" in wrong.error

        _send_raw(service.endpoint, keys, [b"not a message", encode(request([(-1, 0)], [(0, 0)], request_id="neg"))])
        assert wait_for(lambda: service.server.counters.rejected_by_reason == {"bad_magic": 1, "invalid": 1})

        started = time.monotonic()
        hard = client.request(hard_request(registry, deadline_ms=5.0), timeout_s=10.0)
        took_s = time.monotonic() - started
        assert isinstance(hard, PlanReply)
        assert hard.status in ("hold", "partial")
        assert took_s < 1.0, took_s
        grid = registry.get("open")
        plan = plan_cells(grid, hard)
        assert validate(grid, plan[0], plan[-1], plan, require_goals=False) == []

        again = client.request(request(*SWAP, request_id="ok-1"), timeout_s=5.0)   # a retry: from the cache
        assert again == solved
    metrics = service.metrics()
    assert metrics["reply.solved"] == 1.0
    assert metrics["reply.error"] == 1.0
    assert metrics["refused.wrong_type"] == 1.0
    assert metrics.get("reply.hold", 0.0) + metrics.get("reply.partial", 0.0) == 1.0
    assert metrics["bus.duplicates"] == 1.0
    assert metrics["bus.rejected"] == 2.0


def _send_raw(endpoint: str, keys: Path, payloads: list[bytes]) -> None:
    """Payloads the server must refuse, from an authorised CURVE peer that skips the client's encoding."""
    context = zmq.Context()
    raw = context.socket(zmq.DEALER)
    raw.linger = 0
    try:
        client_security(keys).configure_client(raw)
        raw.connect(endpoint)
        for k, payload in enumerate(payloads):
            raw.send_multipart([b"", REQUEST_PROTOCOL, b"raw-client", b"neg" if k else b"k-0", payload])
        assert not raw.poll(300), "a malformed request was answered"
    finally:
        raw.close()
        context.term()

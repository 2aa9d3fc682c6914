"""The planner service: `PlanRequest` in, `PlanReply` out, on a request/reply (ROUTER/DEALER) link.

`answer` is the whole decision and has no sockets: it checks the request against its map (known map, as many
starts as goals, cells inside the map and free, no two agents on one start or one goal), plans within the
request's deadline (the planners find unreachable goals within it, and the reply then names the agent), and checks
the plan with the independent validator before it replies. A
plan that fails the check is never sent; the reply is then the hold-in-place plan (every agent stays where it is
for one step), which is always safe. Statuses:

- ``solved``: every agent reaches its goal; ``partial``: the best plan found in time, conflict-free, not every
  agent home; ``hold``: the hold-in-place plan; ``error``: the request cannot be planned, ``error`` says why.

`PlannerService` puts `answer` behind a `bus.reqrep.Server` (CURVE per the site), counts replies by status, and
compiles the numba planners before it serves, so that no request pays for the compilation.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

from bus.codec import MAX_MESSAGE_BYTES, encode
from bus.curve import Security
from bus.heartbeat import HeartbeatConfig
from bus.messages import AnyMessage, Cell, PlanReply, PlanRequest
from bus.reqrep import Server, idempotency_key
from control.planning.distances import DistanceTable
from control.planning.grid_map import GridMap, MapError, build_grid_map
from control.planning.lacam import solve_lacam
from control.planning.maps_registry import MapRegistry
from control.planning.pibt import solve_pibt
from control.planning.result import PlanResult
from control.planning.validate import validate

log = logging.getLogger(__name__)

MAX_DEADLINE_MS = 10_000.0
"""The most one request may hold the (single-threaded) service; a request asking for more gets this."""
REPLY_MARGIN_S = 0.010
"""Time kept back from the deadline for checking, converting and sending the plan (at most 20 % of it)."""
TABLE_BYTES = 128 * 1024 * 1024
"""The memory one map's cached distance rows may take in the service."""
_REPLY_BYTES = MAX_MESSAGE_BYTES - 64 * 1024
DistanceTables = MutableMapping[str, DistanceTable]
PlanStatus = Literal["solved", "partial", "hold"]


class RequestError(ValueError):
    """A request that cannot be planned; the message is the reply's ``error``."""


def answer(request: PlanRequest, registry: MapRegistry, *, tables: DistanceTables | None = None,
           received_s: float | None = None, max_deadline_ms: float = MAX_DEADLINE_MS) -> PlanReply:
    """The reply to ``request``: checked, planned by the deadline (counted from ``received_s``), validated.

    ``tables`` keeps one distance table per map id between calls (a service passes its own); ``received_s`` is
    the monotonic time the request arrived (now when None).
    """
    started = time.monotonic() if received_s is None else received_s
    budget_s = min(request.deadline_ms, max_deadline_ms) / 1000.0
    deadline_s = started + budget_s - min(REPLY_MARGIN_S, 0.2 * budget_s)
    try:
        grid = registry.get(request.map_id)
        starts, goals = checked_cells(request, grid)
        if starts.size == 0:
            return PlanReply(request_id=request.request_id, status="solved", runtime_ms=_elapsed_ms(started))
        table = _table(tables, request.map_id, grid)
        result = _solve(request, grid, starts, goals, table, deadline_s)
        if result.proved_unsolvable:   # the planners check reachability within the deadline; say who is stuck
            check_reachable(grid, table, starts, goals)
            raise RequestError(f"no plan exists on map {grid.name!r}: the agents block each other for good")
    except (MapError, RequestError) as exc:
        return PlanReply(request_id=request.request_id, status="error", error=str(exc)[:2000],
                         runtime_ms=_elapsed_ms(started))
    return _reply(request, grid, starts, goals, result, started)


def hold_plan(starts: np.ndarray) -> np.ndarray:
    """Every agent waits on its start for one step: (2, N), always conflict-free for distinct starts."""
    return np.stack([starts, starts]).astype(np.int32)


def checked_cells(request: PlanRequest, grid: GridMap) -> tuple[np.ndarray, np.ndarray]:
    """The request's starts and goals as cell ids, or `RequestError` naming the first agent that is wrong."""
    if len(request.starts) != len(request.goals):
        raise RequestError(f"{len(request.starts)} starts but {len(request.goals)} goals: one of each per agent")
    free = int(grid.free_cells.size)
    if len(request.starts) > free:
        raise RequestError(f"too many agents: {len(request.starts)} on map {grid.name!r} with {free} free cells")
    starts = _cells(grid, request.starts, "start")
    goals = _cells(grid, request.goals, "goal")
    for cells, what in ((starts, "start"), (goals, "goal")):
        pair = first_duplicate(cells)
        if pair is not None:
            x, y = (int(v) for v in grid.xy(cells[pair[0]:pair[0] + 1])[0])
            raise RequestError(f"agents {pair[0]} and {pair[1]} have the same {what} ({x}, {y})")
    return starts, goals


def check_reachable(grid: GridMap, table: DistanceTable, starts: np.ndarray, goals: np.ndarray) -> None:
    """`RequestError` for the first agent whose goal cannot be reached from its start (one-way lanes, walls)."""
    steps = table.for_goals(goals)[np.arange(starts.size), starts]
    stuck = np.flatnonzero(steps < 0)
    if stuck.size:
        i = int(stuck[0])
        (sx, sy), (gx, gy) = grid.xy(np.array([starts[i], goals[i]], dtype=np.int32)).tolist()
        raise RequestError(f"agent {i}: goal ({gx}, {gy}) cannot be reached from start ({sx}, {sy}) "
                           f"on map {grid.name!r}")


def first_duplicate(cells: np.ndarray) -> tuple[int, int] | None:
    """The first two agents (by index) on one cell, or None."""
    order = np.argsort(cells, kind="stable")
    same = np.flatnonzero(cells[order][1:] == cells[order][:-1])
    if same.size == 0:
        return None
    pairs = np.sort(np.stack([order[same], order[same + 1]], axis=1), axis=1)
    first = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))[0]]
    return int(first[0]), int(first[1])


def _cells(grid: GridMap, xy: tuple[tuple[int, int], ...], what: str) -> np.ndarray:
    points = np.asarray(xy, dtype=np.int64).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    inside = (x < grid.width) & (y < grid.height)   # the schema already refuses negative cells
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise RequestError(f"{what} of agent {i} ({x[i]}, {y[i]}) is outside map {grid.name!r} "
                           f"({grid.width}×{grid.height})")
    free = grid.passable[y, x]
    if not free.all():
        i = int(np.flatnonzero(~free)[0])
        raise RequestError(f"{what} of agent {i} ({x[i]}, {y[i]}) is on an obstacle of map {grid.name!r}")
    cells: np.ndarray = (y * grid.width + x).astype(np.int32)
    return cells


def _table(tables: DistanceTables | None, map_id: str, grid: GridMap) -> DistanceTable:
    if tables is None:
        return DistanceTable(grid, max_bytes=TABLE_BYTES)
    table = tables.get(map_id)
    if table is None:
        table = tables[map_id] = DistanceTable(grid, max_bytes=TABLE_BYTES)
    return table


def _solve(request: PlanRequest, grid: GridMap, starts: np.ndarray, goals: np.ndarray, table: DistanceTable,
           deadline_s: float) -> PlanResult:
    if request.algo == "pibt":
        return solve_pibt(grid, starts, goals, seed=request.seed, deadline_s=deadline_s, distances=table)
    return solve_lacam(grid, starts, goals, seed=request.seed, deadline_s=deadline_s, distances=table)


def _reply(request: PlanRequest, grid: GridMap, starts: np.ndarray, goals: np.ndarray, result: PlanResult,
           started: float) -> PlanReply:
    """The validated plan as a reply; hold-in-place when it fails validation or nobody moves."""
    paths = result.paths
    violations = validate(grid, starts, goals, paths, require_goals=result.solved, max_report=5)
    if violations:
        log.error("request %s: %s plan failed validation, holding instead: %s", request.request_id, result.algo,
                  violations)
        return _hold(request, grid, starts, started)
    if not result.solved and (paths.shape[0] < 2 or bool((paths[-1] == paths[0]).all())):
        return _hold(request, grid, starts, started)
    status: PlanStatus = "solved" if result.solved else "partial"
    reply = _plan_reply(request, grid, paths, status, result.makespan, result.sum_of_costs, started)
    while len(encode(reply)) > _REPLY_BYTES and paths.shape[0] > 2:
        paths = paths[: max(2, paths.shape[0] // 2)]   # a prefix of a valid plan is a valid partial plan
        reply = _plan_reply(request, grid, paths, "partial", 0, 0, started)
    return reply


def _hold(request: PlanRequest, grid: GridMap, starts: np.ndarray, started: float) -> PlanReply:
    return _plan_reply(request, grid, hold_plan(starts), "hold", 0, 0, started)


def _plan_reply(request: PlanRequest, grid: GridMap, paths: np.ndarray, status: PlanStatus, makespan: int,
                sum_of_costs: int, started: float) -> PlanReply:
    steps, agents = paths.shape
    xy = grid.xy(np.ascontiguousarray(paths.T).reshape(-1)).reshape(agents, steps, 2).tolist()
    per_agent = cast(tuple[tuple[Cell, ...], ...], tuple(tuple(map(tuple, agent)) for agent in xy))
    return PlanReply(request_id=request.request_id, status=status,
                     paths=per_agent, makespan=makespan, sum_of_costs=sum_of_costs, runtime_ms=_elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return max(0.0, (time.monotonic() - started) * 1000.0)


@dataclass(frozen=True)
class PlannerOptions:
    """``max_deadline_ms`` caps what one request may take; ``warm_up`` compiles the planners before serving."""

    max_deadline_ms: float = MAX_DEADLINE_MS
    warm_up: bool = True
    cache_size: int = 256

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_deadline_ms) and self.max_deadline_ms > 0):
            raise ValueError(f"max_deadline_ms must be > 0, got {self.max_deadline_ms}")


class PlannerService:
    """`answer` behind a ROUTER socket. Drive it with ``poll(timeout_s)`` or ``serve(stop)`` from one thread;
    ``counters`` (replies by status, refusals) may be read from any thread."""

    def __init__(self, endpoint: str, registry: MapRegistry, security: Security, *, name: str = "planner",
                 options: PlannerOptions | None = None, heartbeat: HeartbeatConfig | None = None) -> None:
        self.registry = registry
        self.options = options or PlannerOptions()
        self.counters: Counter[str] = Counter()
        self._tables: dict[str, DistanceTable] = {}
        if self.options.warm_up:
            warm_up()
        self.server = Server(endpoint, self._handle, security, name=name, cache_size=self.options.cache_size,
                             heartbeat=heartbeat)
        self.endpoint = self.server.endpoint

    def poll(self, timeout_s: float) -> int:
        """Answer the requests that arrive within ``timeout_s``."""
        return self.server.poll(timeout_s)

    def serve(self, stop: threading.Event, *, poll_s: float = 0.05) -> None:
        """Answer requests until ``stop`` is set."""
        while not stop.is_set():
            self.poll(poll_s)

    def metrics(self) -> dict[str, float]:
        """Replies by status (``reply.<status>``), refusals, and the socket's counters (``bus.*``)."""
        metrics = {k: float(v) for k, v in dict(self.counters).items()}
        metrics.update({f"bus.{k}": float(v) for k, v in self.server.snapshot().items() if v})
        return metrics

    def close(self) -> None:
        self.server.close()

    def __enter__(self) -> PlannerService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _handle(self, message: AnyMessage) -> PlanReply:
        received = time.monotonic()
        if not isinstance(message, PlanRequest):
            self.counters["refused.wrong_type"] += 1
            return PlanReply(request_id=idempotency_key(message), status="error",
                             error=f"the planner answers PlanRequest only, got {type(message).wire_tag()}")
        try:
            reply = answer(message, self.registry, tables=self._tables, received_s=received,
                           max_deadline_ms=self.options.max_deadline_ms)
        except Exception:  # a planner bug must not leave the client without an answer
            log.exception("request %s failed", message.request_id)
            self.counters["internal_error"] += 1
            reply = PlanReply(request_id=message.request_id, status="error", error="internal planner error",
                              runtime_ms=_elapsed_ms(received))
        self.counters[f"reply.{reply.status}"] += 1
        log.info("request %s on %s: %d agents, %s, %s in %.1f ms", message.request_id, message.map_id,
                 len(message.starts), message.algo, reply.status, reply.runtime_ms)
        return reply


def warm_up() -> None:
    """Compile the numba planners on a tiny open map, so that the first request meets only the planning."""
    grid = build_grid_map("warm-up", np.ones((4, 4), dtype=bool))
    starts, goals = np.array([0, 5], dtype=np.int32), np.array([15, 10], dtype=np.int32)
    table = DistanceTable(grid)
    solve_pibt(grid, starts, goals, distances=table)
    solve_lacam(grid, starts, goals, distances=table)
    log.info("planners compiled")

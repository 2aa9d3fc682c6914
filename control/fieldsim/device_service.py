"""The field devices as a fleet adapter would see them: IGVs that take VDA 5050 style orders and report state, and
cranes that take commands and report telemetry, all in simulated time.

`DeviceSimulator` is the core, free of sockets and clocks: `handle` takes one bus message, `advance` runs the
devices up to a simulated time (one grid cell per 0.4 s tick for the IGVs, through `IGVDevices`, so unsafe moves are
refused exactly as in the day simulation), and both return the messages to publish. The service shell
(``smartgate.services.field_devices``) feeds it from the bus at ``speed`` × real time.

Each IGV reports an `IGVState` when it accepts an order, reaches a node, finishes an order, or meets an error (its
next cell is occupied, it is broken, an order is refused). Refused orders (malformed, not adjacent, unknown IGV, an
update id older than the current one) are counted and leave the IGV as it was.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bus.messages import AnyMessage, CraneCommand, IGVCommand, IGVState, Message, Telemetry
from control.cranes.model import CraneTiming
from control.fieldsim.igv_devices import IGVDevices
from control.fieldsim.orders import OrderRejectedError, ParsedOrder, cell_centre, parse_order
from control.planning.grid_map import GridMap

__all__ = ["MAX_CRANE_QUEUE", "TICK_S", "DeviceSimulator"]

TICK_S = 0.4
MAX_CRANE_QUEUE = 32
MAX_TICKS_PER_ADVANCE = 20_000
_TEXT = 256


@dataclass
class _IGV:
    """One vehicle's order progress: ``reached`` indexes the last node passed."""

    igv_id: str
    order: ParsedOrder | None = None
    reached: int = 0
    paused: bool = False
    blocked: bool = False

    def next_cell(self) -> int | None:
        order = self.order
        if order is None or self.paused or self.reached + 1 >= order.released:
            return None
        return order.cells[self.reached + 1]


@dataclass
class _Crane:
    crane_id: str
    position_m: float
    last_seq: int = -1
    stopped: bool = False
    current: CraneCommand | None = None
    due_s: float = 0.0
    queue: deque[CraneCommand] = field(default_factory=deque)


class DeviceSimulator:
    """IGVs (and cranes) as the field devices a real fleet adapter would front: takes IGVCommand orders and
    CraneCommands from the bus, executes them in simulated time at ``speed`` × real time, publishes IGVState
    (on node reached / order finished / error) and crane Telemetry."""

    def __init__(self, grid: GridMap, igv_ids: Sequence[str], starts: np.ndarray, *,
                 cranes: Mapping[str, float] | None = None, cell_m: float = 2.0,
                 origin: tuple[float, float] = (0.0, 0.0), tick_s: float = TICK_S,
                 timing: CraneTiming | None = None) -> None:
        if len(set(igv_ids)) != len(igv_ids) or len(igv_ids) != np.asarray(starts).size:
            raise ValueError(f"need one distinct id per start, got {len(igv_ids)} ids for {np.asarray(starts).size}")
        if not tick_s > 0:
            raise ValueError(f"tick_s must be positive, got {tick_s!r}")
        self.grid = grid
        self.devices = IGVDevices(grid, starts)
        self.cell_m = cell_m
        self.origin = origin
        self.tick_s = tick_s
        self.timing = timing or CraneTiming()
        self.sim_s = 0.0
        self.counters: Counter[str] = Counter()
        self._igvs = [_IGV(igv_id) for igv_id in igv_ids]
        self._index = {igv_id: i for i, igv_id in enumerate(igv_ids)}
        self._cranes = {crane_id: _Crane(crane_id, x) for crane_id, x in (cranes or {}).items()}
        self._next_tick_s = tick_s

    # -- input -------------------------------------------------------------------------------------------------

    def handle(self, message: AnyMessage, now_utc: float) -> list[Message]:
        """React to one bus message; ``now_utc`` (wall clock) judges crane command expiry. Others are ignored."""
        if isinstance(message, IGVCommand):
            return self._on_order(message)
        if isinstance(message, CraneCommand):
            return self._on_crane(message, now_utc)
        return []

    def set_broken(self, igv_id: str, broken: bool) -> list[Message]:
        """A breakdown (or its repair), on demand: the IGV stops where it is and reports it."""
        i = self._index[igv_id]
        self.devices.broken[i] = broken
        self.counters["breakdowns" if broken else "repairs"] += 1
        return [self._state(i, errors=("broken",) if broken else ())]

    def states(self) -> list[IGVState]:
        """Every IGV's state now (sent periodically, and on start)."""
        return [self._state(i, errors=("broken",) if self.devices.broken[i] else ())
                for i in range(len(self._igvs))]

    @property
    def cranes(self) -> list[str]:
        return list(self._cranes)

    def positions(self) -> dict[str, int]:
        return {igv.igv_id: int(cell) for igv, cell in zip(self._igvs, self.devices.positions, strict=True)}

    # -- time --------------------------------------------------------------------------------------------------

    def advance(self, sim_s: float) -> list[Message]:
        """Run the devices up to simulated time ``sim_s`` (at most `MAX_TICKS_PER_ADVANCE` ticks per call: a
        simulator that falls behind catches up on later calls)."""
        out: list[Message] = []
        ticks = 0
        while self._next_tick_s <= sim_s and ticks < MAX_TICKS_PER_ADVANCE:
            self.sim_s = self._next_tick_s
            out += self._finish_cranes(self.sim_s)
            out += self._tick()
            self._next_tick_s += self.tick_s
            ticks += 1
        if ticks == MAX_TICKS_PER_ADVANCE:
            self.counters["behind"] += 1
        return out

    def _tick(self) -> list[Message]:
        positions = self.devices.positions
        before = positions.copy()
        commanded = before.copy()
        driving: list[int] = []
        for i, igv in enumerate(self._igvs):
            cell = igv.next_cell()
            if cell is not None:
                commanded[i] = cell
                driving.append(i)
        if not driving:
            return []
        self.devices.execute(commanded)
        out: list[Message] = []
        for i in driving:            # a node on the cell itself (a wait) is reached by staying, unless broken
            moved = bool(positions[i] == commanded[i]) and not bool(self.devices.broken[i])
            out += self._after_move(i, moved=moved)
        return out

    def _after_move(self, i: int, *, moved: bool) -> list[Message]:
        igv = self._igvs[i]
        if not moved:
            if igv.blocked or self.devices.broken[i]:
                return []
            igv.blocked = True
            self.counters["blocked"] += 1
            return [self._state(i, errors=(f"blocked: c{igv.next_cell()} is taken",))]
        igv.blocked = False
        igv.reached += 1
        self.counters["nodes_reached"] += 1
        order = igv.order
        if order is not None and igv.reached == len(order.cells) - 1:
            self.counters["orders_finished"] += 1
        return [self._state(i)]

    # -- orders ------------------------------------------------------------------------------------------------

    def _on_order(self, command: IGVCommand) -> list[Message]:
        i = self._index.get(command.igv_id)
        if i is None:
            self.counters["rejected.unknown_igv"] += 1
            return [IGVState(igv_id=command.igv_id, order_id=command.order_id, x=0.0, y=0.0, sim_time_s=self.sim_s,
                             errors=(f"order rejected: unknown IGV {command.igv_id}",))]
        igv = self._igvs[i]
        if command.action != "ORDER":
            return self._on_instant_action(i, command)
        current = igv.order
        if current is not None and current.order_id == command.order_id:
            if command.order_update_id == current.update_id:
                self.counters["duplicates"] += 1
                return []
            if command.order_update_id < current.update_id:
                return self._reject(i, "stale", f"order {command.order_id} update {command.order_update_id} is "
                                                f"older than update {current.update_id}")
        if self.devices.broken[i]:
            return self._reject(i, "broken", f"order {command.order_id}: the IGV is broken")
        try:
            order = parse_order(command, self.grid, int(self.devices.positions[i]), cell_m=self.cell_m,
                                origin=self.origin)
        except OrderRejectedError as exc:
            return self._reject(i, exc.reason, str(exc))
        igv.order, igv.reached, igv.paused, igv.blocked = order, 0, False, False
        self.counters["orders_accepted"] += 1
        return [self._state(i)]

    def _on_instant_action(self, i: int, command: IGVCommand) -> list[Message]:
        igv = self._igvs[i]
        if igv.order is None or igv.order.order_id != command.order_id:
            return self._reject(i, "unknown_order", f"{command.action} for order {command.order_id}, which the "
                                                    f"IGV is not executing")
        if command.action == "CANCEL":
            igv.order, igv.reached = None, 0
        else:
            igv.paused = command.action == "PAUSE"
        igv.blocked = False
        self.counters[command.action.lower()] += 1
        return [self._state(i)]

    def _reject(self, i: int, reason: str, text: str) -> list[Message]:
        self.counters[f"rejected.{reason}"] += 1
        return [self._state(i, errors=(f"order rejected: {text}"[:_TEXT],))]

    def _state(self, i: int, errors: tuple[str, ...] = ()) -> IGVState:
        igv = self._igvs[i]
        x, y = cell_centre(self.grid, int(self.devices.positions[i]), self.cell_m, self.origin)
        order = igv.order
        if order is None:
            return IGVState(igv_id=igv.igv_id, x=x, y=y, sim_time_s=self.sim_s, errors=errors)
        remaining = len(order.cells) - 1 - igv.reached
        return IGVState(igv_id=igv.igv_id, order_id=order.order_id, order_update_id=order.update_id,
                        last_node_id=order.node_ids[igv.reached],
                        last_node_sequence_id=order.sequence_ids[igv.reached], remaining_nodes=remaining, x=x, y=y,
                        driving=remaining > 0 and not igv.paused and not errors, sim_time_s=self.sim_s,
                        errors=errors)

    # -- cranes ------------------------------------------------------------------------------------------------

    def _on_crane(self, command: CraneCommand, now_utc: float) -> list[Message]:
        crane = self._cranes.get(command.crane_id)
        if crane is None:
            return [self._crane_error(command.crane_id, "unknown_crane", f"unknown crane {command.crane_id}")]
        if command.seq <= crane.last_seq:
            return [self._crane_error(crane.crane_id, "stale", f"command seq {command.seq} is not after "
                                                                 f"{crane.last_seq}")]
        if command.expires_utc < now_utc:
            return [self._crane_error(crane.crane_id, "expired", f"command {command.command_id} has expired")]
        crane.last_seq = command.seq
        if command.action == "STOP":
            crane.stopped, crane.current = True, None
            crane.queue.clear()
            self.counters["crane_stops"] += 1
            return [self._crane_telemetry(crane, "stopped")]
        if command.action == "RESUME":
            crane.stopped = False
            return [self._crane_telemetry(crane, "idle"), *self._start_next(crane)]
        if crane.stopped:
            return [self._crane_error(crane.crane_id, "stopped", f"crane {crane.crane_id} is stopped")]
        if len(crane.queue) >= MAX_CRANE_QUEUE:
            return [self._crane_error(crane.crane_id, "queue_full", f"crane {crane.crane_id} has "
                                                                      f"{MAX_CRANE_QUEUE} commands waiting")]
        crane.queue.append(command)
        self.counters["crane_commands"] += 1
        return self._start_next(crane)

    def _start_next(self, crane: _Crane) -> list[Message]:
        if crane.current is not None or crane.stopped or not crane.queue:
            return []
        command = crane.queue.popleft()
        crane.current = command
        crane.due_s = self.sim_s + self._duration_s(crane, command)
        return [self._crane_telemetry(crane, "busy", seq=command.seq)]

    def _duration_s(self, crane: _Crane, command: CraneCommand) -> float:
        """Gantry travel to ``position_m``, then for PICK the whole lift cycle (pick, trolley, place: the crane
        bank's command for one move), for PLACE the trolley run and the set-down."""
        timing = self.timing
        travel = 0.0 if command.position_m is None else abs(command.position_m - crane.position_m)
        lift = {"PICK": timing.pick_s + timing.trolley_s + timing.place_s,
                "PLACE": timing.trolley_s + timing.place_s}.get(command.action, 0.0)
        return travel / timing.gantry_m_s + lift

    def _finish_cranes(self, sim_s: float) -> list[Message]:
        out: list[Message] = []
        for crane in self._cranes.values():
            command = crane.current
            if command is None or crane.due_s > sim_s:
                continue
            if command.position_m is not None:
                crane.position_m = command.position_m
            crane.current = None
            self.counters["crane_done"] += 1
            out.append(self._crane_telemetry(crane, "done", seq=command.seq))
            out += self._start_next(crane)
        return out

    def _crane_telemetry(self, crane: _Crane, state: str, seq: int | None = None) -> Telemetry:
        metrics = {"sim_time_s": self.sim_s, "queued": float(len(crane.queue))}
        if seq is not None:
            metrics["seq"] = float(seq)
        return Telemetry(device_id=crane.crane_id, kind="crane", state=state, x=crane.position_m, metrics=metrics)

    def _crane_error(self, crane_id: str, reason: str, text: str) -> Telemetry:
        self.counters[f"crane_rejected.{reason}"] += 1
        return Telemetry(device_id=crane_id, kind="crane", state="error", errors=(text[:_TEXT],),
                         metrics={"sim_time_s": self.sim_s})

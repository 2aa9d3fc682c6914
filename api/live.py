"""The live picture of the gate and the yard, kept in memory for the control room and cheap to read.

The bus thread (`api.bus_link.BusLink`) calls `apply` with every message; the event loop reads. One lock guards
everything; each read takes it for microseconds. A lane's state JSON is rendered once per change and served as
cached bytes (the lane-state route must answer 1,000 requests/s), re-rendered only when that lane changes or its
staleness flips. Memory is bounded whatever the bus sends: rings for passages, decisions, alerts and jobs, caps on
IGVs, cranes and slots.

"Stale" is judged here with the monotonic clock, never trusted from the journal: after `load` every lane is stale
until its reader is heard live, so an old state is never shown as live.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from api.live_alerts import (
    Alert,
    barrier_alerts,
    decision_alerts,
    igv_alert,
    passage_alerts,
    reader_alert,
)
from api.live_kpis import KpiWindow
from api.live_views import (
    Json,
    barrier_out,
    crane_from_telemetry,
    decision_out,
    igv_from_telemetry,
    igv_out,
    job_out,
    passage_out,
)
from api.settings import ApiSettings, LaneInfo
from api.yard_map import load_map
from bus.journal import CorruptEntry, Journal, JournalEntry
from bus.messages import (
    ClearanceDecision,
    CraneCommand,
    GateAck,
    Heartbeat,
    IGVState,
    JobUpdate,
    Message,
    OccupancyUpdate,
    OperatorAction,
    Telemetry,
    VehiclePassage,
    now_utc,
)
from control.operator_actions import override_decision_id

log = logging.getLogger(__name__)

LiveEvent = dict[str, Any]

MAX_PASSAGES: Final = 1000
MAX_DECISIONS: Final = 2000
MAX_ALERTS: Final = 200
MAX_JOBS: Final = 5000
MAX_IGVS: Final = 1000
MAX_CRANES: Final = 200
MAX_SLOTS: Final = 20_000
MAX_QUEUES: Final = 64
MAX_ACTIONS: Final = 1000
MAX_CAMERAS_PER_LANE: Final = 16
FPS_EVENT_STEP: Final = 0.5
"""A lane event for a frame-rate change only when it moved this much (cameras report every second)."""

# How much of the journal `load` reads back, per message type (newest first).
LOAD_LIMITS: Final[dict[type[Message], int]] = {
    VehiclePassage: MAX_PASSAGES, ClearanceDecision: MAX_DECISIONS, GateAck: 500, OperatorAction: MAX_ACTIONS,
    JobUpdate: MAX_JOBS, OccupancyUpdate: 5000, IGVState: 2000,
}


@dataclass
class _Lane:
    """One lane's panel: what it shows, when it was last heard from, and its rendered JSON."""

    info: LaneInfo
    barrier: Json = field(default_factory=lambda: {"state": "unknown", "ts_utc": None})
    passage_id: str | None = None
    passage: Json | None = None
    decision: Json | None = None
    queue: int = 0
    camera_fps: dict[str, float] = field(default_factory=dict)
    updated_utc: float | None = None
    heard_mono: float | None = None
    reader_mono: float | None = None
    reader_down_serial: int = 0
    shown: tuple[bool, bool, float | None] | None = None   # (stale, reader_alive, fps) last rendered or announced
    cached: bytes | None = None
    cached_dict: Json | None = None

    @property
    def fps(self) -> float | None:
        if not self.camera_fps:
            return None
        return round(sum(self.camera_fps.values()) / len(self.camera_fps), 2)


class LiveState:
    """The control room's view of the site, fed message by message; every public method is thread-safe."""

    def __init__(self, settings: ApiSettings, *, clock: Callable[[], float] = time.monotonic,
                 utc: Callable[[], float] = now_utc) -> None:
        self.settings = settings
        self._clock = clock
        self._utc = utc
        self._lock = threading.RLock()
        self._seq = 0
        self._lanes: dict[str, _Lane] = {lane.id: _Lane(lane) for lane in settings.lanes}
        self._passages: OrderedDict[str, VehiclePassage] = OrderedDict()
        self._latest: OrderedDict[str, ClearanceDecision] = OrderedDict()   # passage id -> latest decision
        self._actions: OrderedDict[str, OperatorAction] = OrderedDict()     # override decision id -> action
        self._opened: OrderedDict[str, None] = OrderedDict()                # passages whose opening was counted
        self._alerts: deque[Alert] = deque(maxlen=MAX_ALERTS)
        self._alert_ids: OrderedDict[str, None] = OrderedDict()
        self._jobs: OrderedDict[str, Json] = OrderedDict()                   # job id -> job, least recent first
        self._igvs: dict[str, Json] = {}
        self._igv_errors: dict[str, tuple[str, ...]] = {}
        self._igv_fault_serial = 0
        self._cranes: dict[str, Json] = {}
        self._slots: dict[str, Json] = {}
        self._queues: dict[str, int] = {}
        self._yard_ts: float | None = None
        self._kpis = KpiWindow()
        self._map: Json | None = None
        self._map_loaded = False
        self.dropped: dict[str, int] = {}
        self.corrupt_skipped = 0

    # --- feeding ---------------------------------------------------------------------------------------------------

    def load(self, journal: Journal) -> None:
        """Rebuild the recent picture from the journal (newest entries of each type, applied in journal order).

        Readers and lanes are not marked alive by old messages: every lane stays stale until heard live. Corrupt
        entries are skipped and counted (`corrupt_skipped`)."""
        entries: list[JournalEntry] = []
        for message_type, limit in LOAD_LIMITS.items():
            entries += journal.query(types=message_type, newest_first=True, limit=limit, on_corrupt=self._corrupt)
        entries.sort(key=lambda entry: entry.seq)
        with self._lock:
            for entry in entries:
                self._apply(entry.message, live=False)
            self._map_now()
        log.info("live state loaded from %d journal entries (%d corrupt skipped)", len(entries), self.corrupt_skipped)

    def _corrupt(self, entry: CorruptEntry) -> None:
        self.corrupt_skipped += 1

    def apply(self, message: Message) -> list[LiveEvent]:
        """Take one bus message; returns the stream events it makes (possibly none)."""
        with self._lock:
            return self._apply(message, live=True)

    def note_action(self, action: OperatorAction) -> None:
        """Remember an operator action the API itself sent, so its decision shows who overrode (the bus copy may
        come later or, PUB/SUB being lossy, never). Unlike `apply`, it is no news from the lane."""
        with self._lock:
            self._on_action(action, False)

    def tick(self) -> list[LiveEvent]:
        """Lanes whose staleness flipped since the last call, and readers that fell silent (call a few times a
        second from the bus thread: silence is noticed only by looking)."""
        now, events = self._clock(), []
        with self._lock:
            for lane in self._lanes.values():
                events += self._check_lane(lane, now)
        return events

    def kpi_event(self) -> LiveEvent:
        now = self._utc()
        with self._lock:
            return self._event("kpi", now, self._kpis.summary(now))

    # --- reading ---------------------------------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        with self._lock:
            return self._seq

    def has_lane(self, lane_id: str) -> bool:
        return lane_id in self._lanes

    def lane_state(self, lane_id: str) -> bytes | None:
        """The lane's state as JSON bytes, from the cache unless the lane changed; None for an unknown lane."""
        lane = self._lanes.get(lane_id)
        if lane is None:
            return None
        with self._lock:
            self._render(lane, self._clock())
            return lane.cached

    def lane_dict(self, lane_id: str) -> Json | None:
        lane = self._lanes.get(lane_id)
        if lane is None:
            return None
        with self._lock:
            self._render(lane, self._clock())
            return lane.cached_dict

    def lanes(self) -> list[Json]:
        return [{"lane_id": lane.info.id, "direction": lane.info.direction, "description": lane.info.description}
                for lane in self._lanes.values()]

    def snapshot(self) -> Json:
        """Everything a new stream client needs before the events: lanes, yard, fleet, jobs, KPIs, alerts."""
        with self._lock:
            now = self._clock()
            lanes = []
            for lane in self._lanes.values():
                self._render(lane, now)
                lanes.append(lane.cached_dict)
            return {"lanes": lanes, "yard": self.yard(), "fleet": self.fleet(), "jobs": self.jobs(limit=200),
                    "kpis": self._kpis.summary(self._utc()), "alerts": self.alerts()}

    def kpis(self, now_utc: float) -> Json:
        with self._lock:
            return self._kpis.summary(now_utc)

    def yard(self) -> Json:
        """Every slot of the layout with its occupancy (``unknown`` until reported), and the queues."""
        with self._lock:
            geometry = self._map_now()
            slots: list[Json] = []
            seen: set[str] = set()
            for slot in (geometry or {}).get("slots", []):
                live = self._slots.get(slot["slot_id"])
                slots.append({**slot, "state": live["state"] if live else "unknown"})
                seen.add(slot["slot_id"])
            slots += [{"slot_id": s["slot_id"], "zone": s["zone"], "state": s["state"], "x": None, "y": None,
                       "w": None, "h": None} for s in self._slots.values() if s["slot_id"] not in seen]
            return {"slots": slots, "queues": dict(self._queues), "ts_utc": self._yard_ts}

    def yard_map(self) -> Json | None:
        with self._lock:
            return self._map_now()

    def containers(self) -> list[Json]:
        """Containers seen in the yard's slots, by slot id."""
        with self._lock:
            return [{"container_number": s["container_number"], "slot_id": s["slot_id"], "zone": s["zone"],
                     "since_utc": s["since_utc"]}
                    for s in sorted(self._slots.values(), key=lambda s: s["slot_id"]) if s["container_number"]]

    def fleet(self) -> Json:
        with self._lock:
            return {"igvs": self.igvs(), "cranes": self.cranes()}

    def igvs(self) -> list[Json]:
        with self._lock:
            return [dict(v) for _, v in sorted(self._igvs.items())]

    def cranes(self) -> list[Json]:
        with self._lock:
            return [dict(v) for _, v in sorted(self._cranes.items())]

    def jobs(self, *, state: str | None = None, before: int | None = None, limit: int = 50) -> list[Json]:
        """Jobs by their latest step, most recently updated first; ``before`` is a job's ``seq`` (a page cursor)."""
        with self._lock:
            out: list[Json] = []
            for job in reversed(self._jobs.values()):
                if (before is None or job["seq"] < before) and (state is None or job["state"] == state):
                    out.append(dict(job))
                    if len(out) >= limit:
                        break
            return out

    def alerts(self) -> list[Json]:
        """Recent alerts, newest first."""
        with self._lock:
            return [dict(a) for a in reversed(self._alerts)]

    def passage(self, passage_id: str) -> VehiclePassage | None:
        with self._lock:
            return self._passages.get(passage_id)

    def latest_decision(self, passage_id: str) -> ClearanceDecision | None:
        with self._lock:
            return self._latest.get(passage_id)

    def action_for(self, decision_id: str) -> OperatorAction | None:
        """The operator action behind an override decision, when it is still remembered."""
        with self._lock:
            return self._actions.get(decision_id)

    # --- internals -------------------------------------------------------------------------------------------------

    def _apply(self, message: Message, *, live: bool) -> list[LiveEvent]:
        handler = _HANDLERS.get(type(message))
        if live and isinstance(message, _LANE_NEWS):
            lane = self._lanes.get(message.lane or "")
            if lane is not None:
                lane.heard_mono = self._clock()
        if handler is None:
            return []
        return handler(self, message, live)

    def _event(self, kind: str, ts_utc: float, data: Any) -> LiveEvent:
        self._seq += 1
        return {"type": kind, "seq": self._seq, "ts_utc": ts_utc, "data": data}

    def _touch(self, lane: _Lane, ts_utc: float) -> None:
        lane.updated_utc = ts_utc if lane.updated_utc is None else max(lane.updated_utc, ts_utc)
        lane.cached = None

    def _raise(self, alerts: list[Alert]) -> list[LiveEvent]:
        events = []
        for item in alerts:
            if item["alert_id"] in self._alert_ids:
                continue
            self._alert_ids[item["alert_id"]] = None
            if len(self._alert_ids) > MAX_ALERTS * 5:
                self._alert_ids.popitem(last=False)
            self._alerts.append(item)
            events.append(self._event("alert", item["ts_utc"], item))
        return events

    def _on_passage(self, passage: VehiclePassage, live: bool) -> list[LiveEvent]:
        known = passage.passage_id in self._passages
        _remember(self._passages, passage.passage_id, passage, MAX_PASSAGES)
        if not known:
            self._kpis.passage(passage.last_seen_utc)
        data = passage_out(passage)
        lane = self._lanes.get(passage.lane_id)
        if lane is not None and (lane.passage is None or passage.first_seen_utc >= lane.passage["first_seen_utc"]):
            if lane.passage_id != passage.passage_id:
                lane.decision = None
            lane.passage_id, lane.passage = passage.passage_id, data
            self._touch(lane, passage.ts_utc)
        return [self._event("passage", passage.ts_utc, data), *self._raise(passage_alerts(passage))]

    def _on_decision(self, decision: ClearanceDecision, live: bool) -> list[LiveEvent]:
        _remember(self._latest, decision.passage_id, decision, MAX_DECISIONS)
        self._kpis.decision(decision.ts_utc, decision.outcome)
        passage = self._passages.get(decision.passage_id)
        if decision.outcome == "OPEN" and passage is not None and decision.passage_id not in self._opened:
            _remember(self._opened, decision.passage_id, None, MAX_PASSAGES * 5)
            self._kpis.opened(decision.ts_utc, decision.ts_utc - passage.first_seen_utc)
        data = decision_out(decision, self._actions.get(decision.decision_id))
        lane = self._lanes.get(decision.lane_id)
        if lane is not None and (lane.passage_id in (None, decision.passage_id)):
            if lane.passage_id is None and passage is not None:
                lane.passage_id, lane.passage = passage.passage_id, passage_out(passage)
            lane.decision = data
            self._touch(lane, decision.ts_utc)
        return [self._event("decision", decision.ts_utc, data), *self._raise(decision_alerts(decision))]

    def _on_ack(self, ack: GateAck, live: bool) -> list[LiveEvent]:
        lane = self._lanes.get(ack.lane_id)
        if lane is not None and (lane.barrier["ts_utc"] is None or ack.ts_utc >= lane.barrier["ts_utc"]):
            lane.barrier = {"state": ack.state, "ts_utc": ack.ts_utc}
            self._touch(lane, ack.ts_utc)
        return [self._event("barrier", ack.ts_utc, barrier_out(ack)), *self._raise(barrier_alerts(ack))]

    def _on_action(self, action: OperatorAction, live: bool) -> list[LiveEvent]:
        _remember(self._actions, override_decision_id(action.action_id), action, MAX_ACTIONS)
        return []

    def _on_heartbeat(self, beat: Heartbeat, live: bool) -> list[LiveEvent]:
        lane = self._reader_lane(beat.sender)
        if live and lane is not None:
            lane.reader_mono = lane.heard_mono = self._clock()
        return self._check_lane(lane, self._clock()) if live and lane is not None else []

    def _on_telemetry(self, telemetry: Telemetry, live: bool) -> list[LiveEvent]:
        if telemetry.kind == "igv":
            return self._igv(telemetry.device_id, igv_from_telemetry(telemetry, self._igvs.get(telemetry.device_id)),
                             telemetry.errors, telemetry.ts_utc)
        if telemetry.kind == "crane":
            return self._crane(crane_from_telemetry(telemetry, self._cranes.get(telemetry.device_id)),
                               telemetry.ts_utc)
        gate = self._gate_lane(telemetry.device_id)
        if gate is not None:
            return self._barrier_seen(gate, telemetry) if live else []
        lane = self._lanes.get(telemetry.lane_id or "") or self._reader_lane(telemetry.device_id)
        if not live or lane is None or telemetry.kind not in ("camera", "service"):
            return []
        lane.reader_mono = lane.heard_mono = self._clock()
        fps = telemetry.metrics.get("fps")
        room = telemetry.device_id in lane.camera_fps or len(lane.camera_fps) < MAX_CAMERAS_PER_LANE
        if telemetry.kind == "camera" and fps is not None and fps >= 0 and room:
            lane.camera_fps[telemetry.device_id] = float(fps)
        return self._check_lane(lane, self._clock())

    def _on_igv_state(self, state: IGVState, live: bool) -> list[LiveEvent]:
        return self._igv(state.igv_id, igv_out(state), state.errors, state.ts_utc)

    def _igv(self, igv_id: str, data: Json, errors: tuple[str, ...], ts_utc: float) -> list[LiveEvent]:
        if igv_id not in self._igvs and len(self._igvs) >= MAX_IGVS:
            return self._drop("igv_cap")
        self._igvs[igv_id] = data
        events = [self._event("igv", ts_utc, data)]
        if errors and errors != self._igv_errors.get(igv_id):
            self._igv_fault_serial += 1
            events += self._raise([igv_alert(igv_id, errors, ts_utc, self._igv_fault_serial)])
        self._igv_errors[igv_id] = errors
        return events

    def _crane(self, data: Json, ts_utc: float) -> list[LiveEvent]:
        if data["crane_id"] not in self._cranes and len(self._cranes) >= MAX_CRANES:
            return self._drop("crane_cap")
        self._cranes[data["crane_id"]] = data
        return [self._event("crane", ts_utc, data)]

    def _on_crane_command(self, command: CraneCommand, live: bool) -> list[LiveEvent]:
        crane = self._cranes.get(command.crane_id)
        if crane is None:
            return []
        if command.action == "PICK" and command.container_number:
            crane["load"] = command.container_number
        elif command.action == "PLACE":
            crane["load"] = None
        return [self._event("crane", command.ts_utc, dict(crane))]

    def _on_job(self, update: JobUpdate, live: bool) -> list[LiveEvent]:
        data = job_out(update)
        self._jobs.pop(update.job_id, None)
        event = self._event("job", update.ts_utc, data)
        self._jobs[update.job_id] = {**data, "seq": event["seq"]}
        if len(self._jobs) > MAX_JOBS:
            self._jobs.popitem(last=False)
        return [event]

    def _on_occupancy(self, update: OccupancyUpdate, live: bool) -> list[LiveEvent]:
        changed = []
        for slot in update.slots:
            if slot.slot_id not in self._slots and len(self._slots) >= MAX_SLOTS:
                self._drop("slot_cap")
                continue
            state = slot.kind if slot.occupied and slot.kind != "empty" else ("empty" if not slot.occupied
                                                                               else "unknown")
            self._slots[slot.slot_id] = {"slot_id": slot.slot_id, "zone": update.zone_id, "state": state,
                                         "container_number": slot.container_number if slot.occupied else None,
                                         "since_utc": slot.since_utc}
            changed.append({"slot_id": slot.slot_id, "state": state})
        for name, length in update.queue_lengths.items():
            if name in self._queues or len(self._queues) < MAX_QUEUES:
                self._queues[name] = length
        self._yard_ts = update.ts_utc
        events = [self._event("occupancy", update.ts_utc, {"slots": changed, "queues": dict(self._queues)})]
        if update.queue_lengths:
            self._kpis.queue(update.ts_utc, sum(self._queues.values()))
            events += self._update_lane_queues(update.ts_utc, live)
        return events

    def _update_lane_queues(self, ts_utc: float, live: bool) -> list[LiveEvent]:
        events = []
        for lane in self._lanes.values():
            length = _lane_queue(lane.info, self._queues, self._lanes)
            if length != lane.queue:
                lane.queue = length
                self._touch(lane, ts_utc)
                if live:
                    self._render(lane, self._clock())
                    events.append(self._event("lane", ts_utc, lane.cached_dict))
        return events

    def _drop(self, reason: str) -> list[LiveEvent]:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        return []

    def _gate_lane(self, device_id: str) -> _Lane | None:
        """The lane whose barrier controller this is: controllers report as ``gate-<lane id>``."""
        return self._lanes.get(device_id[5:]) if device_id.startswith("gate-") else None

    def _barrier_seen(self, lane: _Lane, telemetry: Telemetry) -> list[LiveEvent]:
        """The controller's own report of its barrier, once a second: an OPEN's ack says "opening", and only the
        controller says when the barrier is up (or down again). An event only when the state changes."""
        state = telemetry.state
        if state not in BARRIER_STATES or lane.barrier["state"] == state:
            return []
        if lane.barrier["ts_utc"] is not None and telemetry.ts_utc < lane.barrier["ts_utc"]:
            return []
        lane.barrier = {"state": state, "ts_utc": telemetry.ts_utc}
        self._touch(lane, telemetry.ts_utc)
        data = {"lane_id": lane.info.id, "state": state, "accepted": True, "ts_utc": telemetry.ts_utc}
        return [self._event("barrier", telemetry.ts_utc, data)]

    def _reader_lane(self, sender: str) -> _Lane | None:
        """The lane whose reader this is: lane readers heartbeat as ``lane-<lane id>``."""
        return self._lanes.get(sender[5:]) if sender.startswith("lane-") else None

    def _flags(self, lane: _Lane, now: float) -> tuple[bool, bool, float | None]:
        limit = self.settings.stale_after_s
        alive = lane.reader_mono is not None and now - lane.reader_mono <= limit
        heard = lane.heard_mono is not None and now - lane.heard_mono <= limit
        return (not (heard and alive), alive, lane.fps if alive else None)

    def _render(self, lane: _Lane, now: float) -> None:
        flags = self._flags(lane, now)
        if lane.cached is not None and lane.shown is not None and flags[:2] == lane.shown[:2] \
                and flags[2] == lane.shown[2]:
            return
        stale, alive, fps = flags
        lane.shown = flags
        lane.cached_dict = {
            "lane_id": lane.info.id, "direction": lane.info.direction, "updated_utc": lane.updated_utc,
            "stale": stale, "reader_alive": alive, "fps": fps, "barrier": dict(lane.barrier),
            "passage": lane.passage, "decision": lane.decision, "queue": lane.queue}
        lane.cached = msgspec.json.encode(lane.cached_dict)

    def _check_lane(self, lane: _Lane, now: float) -> list[LiveEvent]:
        """A lane event when staleness, the reader's life or (by a step) the frame rate changed; an alert when a
        reader that was alive fell silent."""
        before = lane.shown or _NEVER_HEARD
        flags = self._flags(lane, now)
        if flags[:2] == before[:2] and not _fps_moved(before[2], flags[2]):
            return []
        lane.cached = None
        self._render(lane, now)
        ts = self._utc()
        events = [self._event("lane", ts, lane.cached_dict)]
        if before[1] and not flags[1] and lane.reader_mono is not None:
            lane.reader_down_serial += 1
            events += self._raise([reader_alert(lane.info.id, now - lane.reader_mono, ts, lane.reader_down_serial)])
        return events

    def _map_now(self) -> Json | None:
        if not self._map_loaded:
            self._map_loaded = True
            self._map = load_map(self.settings.yard_layout)
        return self._map


_NEVER_HEARD: Final = (True, False, None)
BARRIER_STATES: Final = frozenset({"closed", "opening", "open", "closing", "fault"})
_LANE_NEWS: Final = (VehiclePassage, GateAck, Telemetry)
"""What the lane's own devices send: news that the lane is alive (an operator's action or an audit entry is not)."""


def _fps_moved(before: float | None, now: float | None) -> bool:
    if before is None or now is None:
        return before != now
    return abs(before - now) >= FPS_EVENT_STEP


def _lane_queue(info: LaneInfo, queues: dict[str, int], lanes: dict[str, _Lane]) -> int:
    """The truck queue in front of a lane: a queue named after the lane (``queue-in-1`` or ``in-1``), else the
    queue of its direction (``queue-out``) when it is the only lane of that direction."""
    for name in (f"queue-{info.id}", info.id):
        if name in queues:
            return queues[name]
    same_direction = [lane for lane in lanes.values() if lane.info.direction == info.direction]
    if len(same_direction) == 1:
        return queues.get(f"queue-{info.direction}", 0)
    return 0


def _remember(ring: OrderedDict[str, Any], key: str, value: Any, cap: int) -> None:
    ring.pop(key, None)
    ring[key] = value
    if len(ring) > cap:
        ring.popitem(last=False)


_Handler = Callable[[LiveState, Any, bool], list[LiveEvent]]
_HANDLERS: Final[dict[type[Message], _Handler]] = {
    VehiclePassage: LiveState._on_passage,
    ClearanceDecision: LiveState._on_decision,
    GateAck: LiveState._on_ack,
    OperatorAction: LiveState._on_action,
    Heartbeat: LiveState._on_heartbeat,
    Telemetry: LiveState._on_telemetry,
    IGVState: LiveState._on_igv_state,
    CraneCommand: LiveState._on_crane_command,
    JobUpdate: LiveState._on_job,
    OccupancyUpdate: LiveState._on_occupancy,
}

"""`smartgate demo`: the whole system on one machine, each service its own process, talking over the bus.

On first run it generates the bundled recordings (a few seconds) and the site's CURVE keys. It declares the trucks
of the recordings for today (`smartgate.demo_declarations`: the recordings' own declarations, planted mismatches
included), then starts the broker, the journal recorder, one gate controller (simulated barrier) per lane, the
clearance service (the development officers may override), the yard's simulated field devices (IGVs parked, cranes
idle: the control room's yard map shows them from their bus states) and the API with the control-room page
(development users; the address and login are printed), and, once clearance is heard on the bus, one reader per lane
(cameras and vision pipeline). It follows them on the bus (heartbeats, telemetry, passages, decisions, barrier
acks), shows each `VehiclePassage`, its `ClearanceDecision` and the barrier's `GateAck` as they arrive and progress
once a second, and stops them when the recordings end, ``--duration`` passes or Ctrl-C comes: the lanes first, then,
once clearance has decided every passage seen and every command is answered (a second Ctrl-C cuts that short),
clearance, the gate controllers, the recorder and the broker. The summary at the end is read back from the bus and
from the journal file, not from the supervisor's memory: decisions by outcome and by reason, gate commands and their
acks.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from api.settings import DEV_PASSWORD
from bus.heartbeat import HeartbeatConfig, PeerLiveness
from bus.journal import Journal
from bus.messages import (
    MESSAGE_TYPES,
    AnyMessage,
    ClearanceDecision,
    GateAck,
    GateCommand,
    Heartbeat,
    Telemetry,
    VehiclePassage,
)
from bus.pubsub import Subscriber
from control.clearance import NO_ACK_ERROR, Ledger
from smartgate.demo_declarations import DAY_S, DemoDeclarations, recorded_declarations, write_demo_declarations
from smartgate.demo_yard import move_cleared_containers
from smartgate.site import Lane, Site, load_site, resolve_bundled
from smartgate.wiring import ensure_keys, event_subscriber

STOP_TIMEOUT_S = 10.0
SETTLE_TIMEOUT_S = 20.0
"""After the lanes stop, the longest wait for the last decisions and acks: a command is valid for 10 s, and one
that no controller answers is settled by clearance 3 s after it expires."""
CLEARANCE_START_TIMEOUT_S = 30.0
GATE_HEARTBEAT_S = 1.0
"""The gate links' heartbeat interval, given to clearance and to every gate controller alike."""
DECLARATION_MARGIN_S = 600.0
"""How much longer than the recordings' playing time the trucks are declared for (start-up, slow machines)."""
DEMO_SEEDS = {"in": 2026, "out": 2027}
MAX_SUMMARY_PASSAGES = 50
MAX_UNDECIDED = 1000
CHECK_MARK = {True: "✓", False: "✗"}
OUTCOMES = ("OPEN", "HOLD", "INSPECT", "REJECT")
ACK_KINDS = ("accepted", "refused", "expired")
_EXPIRED_ERRORS = ("expired:", NO_ACK_ERROR)  # the controller's refusal of an expired command; clearance's stand-in
CLEARANCE = "clearance"
API = "api"
FIELD_DEVICES = "field-devices"
DEMO_IGVS = 8
DEMO_OFFICERS = ("operator", "admin")
"""The development users (`api.settings.DEV_USERS`) that clearance lets override a decision in the demo."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


@dataclass
class Observed:
    """What the supervisor has seen on the bus, and the passages and commands still waiting for an answer."""

    messages: Counter[str] = field(default_factory=Counter)
    cameras: dict[str, Telemetry] = field(default_factory=dict)
    services: dict[str, Telemetry] = field(default_factory=dict)
    undecided: dict[str, VehiclePassage] = field(default_factory=dict)
    unacked: dict[str, GateCommand] = field(default_factory=dict)
    decided_first: set[str] = field(default_factory=set)
    """Passages whose decision came before them (two publishers, so no order between them on the bus)."""

    def take(self, message: AnyMessage) -> str | None:
        """Count the message; the line to show a person for a passage, a decision or a barrier's ack."""
        self.messages[type(message).__name__] += 1
        if isinstance(message, Telemetry) and message.kind == "camera":
            self.cameras[message.device_id] = message
        elif isinstance(message, Telemetry) and message.kind == "service":
            self.services[message.device_id] = message
        elif isinstance(message, VehiclePassage):
            self._passage(message)
            return passage_line(message)
        elif isinstance(message, ClearanceDecision):
            passage = self.undecided.pop(message.passage_id, None)
            if passage is None:
                self.decided_first.add(message.passage_id)
            return decision_line(message, passage)
        elif isinstance(message, GateCommand):
            self.unacked[message.command_id] = message
        elif isinstance(message, GateAck):
            return ack_line(message, self.unacked.pop(message.command_id, None))
        return None

    def waiting(self) -> str:
        """What clearance has not answered yet, in words; empty when nothing."""
        parts = [f"{len(self.undecided)} passages undecided"] if self.undecided else []
        parts += [f"{len(self.unacked)} gate commands unacknowledged"] if self.unacked else []
        return ", ".join(parts)

    def _passage(self, passage: VehiclePassage) -> None:
        if passage.passage_id in self.decided_first:
            self.decided_first.discard(passage.passage_id)
            return
        self.undecided[passage.passage_id] = passage
        if len(self.undecided) > MAX_UNDECIDED:  # a passage clearance refused (stale, say) is never answered
            del self.undecided[next(iter(self.undecided))]


class BusWatch:
    """The supervisor's ear on the bus: heartbeats to liveness, everything to `Observed`, live lines to ``out``."""

    def __init__(self, events: Subscriber, observed: Observed, out: IO[str]) -> None:
        self.events = events
        self.observed = observed
        self.out = out
        self.liveness = PeerLiveness(HeartbeatConfig(interval_s=1.0, liveness=3))

    def pump(self, timeout_s: float) -> None:
        """Take what arrives within ``timeout_s`` and everything queued behind it."""
        message = self.events.recv(timeout_s)
        while message is not None:
            if isinstance(message, Heartbeat):
                self.liveness.beat(message.sender)
            line = self.observed.take(message)
            if line is not None:
                print(line, file=self.out, flush=True)
            message = self.events.recv(0.0)
        self.liveness.check()


def run_demo(site_path: Path, *, duration_s: float | None, speed: float, loop: bool,
             data_dir: Path | None = None, out: IO[str] = sys.stdout) -> int:
    site = load_site(site_path, data_dir=data_dir)
    prepare_recordings(site, out)
    ensure_keys(site)
    declared = prepare_declarations(site, duration_s=duration_s, speed=speed, loop=loop, out=out)
    mark = journal_mark(site)
    interrupted = threading.Event()
    previous = signal.signal(signal.SIGINT, _setter(interrupted))
    children: list[Child] = []
    observed = Observed()
    codes: dict[str, int] = {}
    try:
        with event_subscriber(site, "demo", [b""]) as events:
            watch = BusWatch(events, observed, out)
            start_services(children, site, site_path, declared)
            print(control_room_line(site), file=out, flush=True)
            if wait_for_clearance(watch, children, interrupted):
                start_lanes(children, site, site_path, speed=speed, loop=loop)
            outcome = follow(site, children, watch, duration_s=duration_s, interrupted=interrupted)
            codes = stop_services(children, settle=lambda: settle(watch, children, interrupted))
    finally:
        codes = codes or stop_services(children)
        signal.signal(signal.SIGINT, previous)
    passages, clearance = journal_passages(site, mark), journal_clearance(site, mark)
    print_summary(site, observed, codes, outcome, journal_counts(site, mark), passages, clearance, out)
    move_cleared_containers(passages, clearance, site.data_dir, out)
    failed = [name for name, code in codes.items() if code != 0]
    return 1 if failed or outcome == "a service died" else 0


def prepare_recordings(site: Site, out: IO[str]) -> None:
    """Generate the bundled recordings that the site names and that are not there yet (first run only)."""
    from datasets.synth import ensure_demo_recording

    bundled_root = resolve_bundled("x").parent
    for lane in site.lanes:
        for camera in lane.cameras:
            path = getattr(camera.source, "path", None)
            if camera.source.kind != "recording" or path is None or (Path(path) / "recording.json").exists():
                continue
            if not Path(path).is_relative_to(bundled_root):
                continue  # a site's own recording: never generated here
            print(f"generating the bundled recording for lane {lane.id} (first run only) ...", file=out, flush=True)
            started = time.monotonic()
            ensure_demo_recording(path, lane_id=lane.id, direction=lane.direction, seed=DEMO_SEEDS[lane.direction])
            print(f"  done in {time.monotonic() - started:.1f} s: {path}", file=out, flush=True)


def prepare_declarations(site: Site, *, duration_s: float | None, speed: float, loop: bool,
                         out: IO[str]) -> DemoDeclarations | None:
    """Declare the recordings' trucks for the days this run may last (`smartgate.demo_declarations`)."""
    if duration_s is not None:
        run_s = duration_s + DECLARATION_MARGIN_S
    elif loop:
        run_s = DAY_S
    else:
        run_s = max((_recording_length(path.parent) for _, path in recorded_declarations(site)), default=0.0)
        run_s = run_s / speed + DECLARATION_MARGIN_S
    declared = write_demo_declarations(site, start_utc=time.time(), run_s=run_s)
    if declared is None:
        print("no declarations in the recordings: clearance follows the site's own declaration feed", file=out)
        return None
    print(f"declared the recordings' {declared.trucks} trucks for {', '.join(declared.days)} (UTC): "
          f"{declared.folder}", file=out, flush=True)
    for problem in declared.bad_lines:
        print(f"  skipped a bad declaration line: {_shown(problem)}", file=out)
    return declared


def _recording_length(folder: Path) -> float:
    from datasets.recording import Recording, RecordingError

    try:
        return Recording.open(folder).meta.duration_s
    except (RecordingError, OSError):
        return 0.0


def start_services(children: list[Child], site: Site, site_path: Path,
                   declared: DemoDeclarations | None) -> None:
    """Broker first (everyone connects to it), then the journal, the lanes' gate controllers, clearance, the yard's
    field devices and the API."""
    beat = ["--heartbeat-s", str(GATE_HEARTBEAT_S)]
    plan: list[tuple[str, list[str]]] = [("broker", ["broker"]), ("journal", ["journal"])]
    plan += [(f"gate-{lane_id}", ["gate-controller", "--lane", lane_id, *beat])
             for lane_id in site.bus.endpoints.gate_links]
    feed = ["--declarations", str(declared.folder)] if declared is not None else []
    officers = [arg for name in DEMO_OFFICERS for arg in ("--operator", name)]
    plan.append((CLEARANCE, [CLEARANCE, *beat, *feed, *officers]))
    if site.yard is not None and site.yard.layout is not None:     # the yard map's IGVs and cranes, on the bus
        plan.append((FIELD_DEVICES, [FIELD_DEVICES, "--igvs", str(DEMO_IGVS), "--speed", "1"]))
    plan.append((API, [API, "--environment", "development"]))
    for name, args in plan:
        children.append(spawn(site, site_path, name, args))


def control_room_line(site: Site) -> str:
    """Where the control-room page is, and the development login the demo's API seeds."""
    return (f"control room: http://{site.api.host}:{site.api.port}/  (development login: "
            f"{' or '.join(DEMO_OFFICERS)} / {DEV_PASSWORD}; viewer / {DEV_PASSWORD} sees without acting)")


def start_lanes(children: list[Child], site: Site, site_path: Path, *, speed: float, loop: bool) -> None:
    lane_args = ["--speed", str(speed), *(["--loop"] if loop else [])]
    for lane in site.lanes:
        children.append(spawn(site, site_path, f"lane-{lane.id}", ["lane", "--lane", lane.id, *lane_args]))


def spawn(site: Site, site_path: Path, name: str, args: list[str]) -> Child:
    """``python -m smartgate.services ARGS`` in a session of its own (so Ctrl-C reaches only the demo), logging
    to ``<data_dir>/logs/NAME.log``."""
    logs = site.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "smartgate.services", *args, "--site", str(site_path),
               "--data-dir", str(site.data_dir)]
    log_path = logs / f"{name}.log"
    log = log_path.open("ab")
    try:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    except OSError:
        log.close()
        raise
    return Child(name, process, log_path, log)


def wait_for_clearance(watch: BusWatch, children: list[Child], interrupted: threading.Event) -> bool:
    """Wait until clearance is heard on the bus, so that it is subscribed before the first passage comes. False
    (start no lanes) on Ctrl-C or when a service died; True when heard, or not heard in time (said so)."""
    deadline = time.monotonic() + CLEARANCE_START_TIMEOUT_S
    while not watch.liveness.is_alive(CLEARANCE):
        if interrupted.is_set() or any(_died(c) for c in children):
            return False
        if time.monotonic() >= deadline:
            print(f"clearance not heard within {CLEARANCE_START_TIMEOUT_S:g} s; starting the lanes anyway",
                  file=watch.out, flush=True)
            return True
        watch.pump(0.1)
    return True


def follow(site: Site, children: list[Child], watch: BusWatch, *, duration_s: float | None,
           interrupted: threading.Event) -> str:
    """Watch the bus until the lanes finish, the duration passes, Ctrl-C, or a service dies; say which."""
    started = time.monotonic()
    next_line = started
    lanes = [c for c in children if c.name.startswith("lane-")]
    while True:
        watch.pump(0.1)
        now = time.monotonic()
        if now >= next_line:
            print(progress_line(now - started, site, watch.observed, watch.liveness), file=watch.out, flush=True)
            next_line = now + 1.0
        outcome = _finished(children, lanes, now - started, duration_s, interrupted)
        if outcome:
            print(f"stopping: {outcome}", file=watch.out, flush=True)
            return outcome


def settle(watch: BusWatch, children: list[Child], interrupted: threading.Event) -> None:
    """Once the lanes have stopped: follow the bus until clearance has decided every passage seen and every gate
    command is acknowledged, clearance dies, `SETTLE_TIMEOUT_S` passes or Ctrl-C comes (again)."""
    interrupted.clear()
    clearance = [c for c in children if c.name == CLEARANCE]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    watch.pump(0.1)
    if watch.observed.waiting():
        print(f"waiting for clearance: {watch.observed.waiting()}", file=watch.out, flush=True)
    while (watch.observed.waiting() and time.monotonic() < deadline and not interrupted.is_set()
           and all(c.process.poll() is None for c in clearance)):
        watch.pump(0.1)
    if watch.observed.waiting():
        print(f"not waiting any longer: {watch.observed.waiting()}", file=watch.out, flush=True)


def _finished(children: list[Child], lanes: list[Child], elapsed: float, duration_s: float | None,
              interrupted: threading.Event) -> str:
    if interrupted.is_set():
        return "interrupted (Ctrl-C)"
    if duration_s is not None and elapsed >= duration_s:
        return f"--duration {duration_s:g} s reached"
    if any(_died(c) for c in children):
        return "a service died"
    if lanes and all(c.process.poll() == 0 for c in lanes):
        return "recordings played to the end"
    return ""


def _died(child: Child) -> bool:
    """Exited with an error, or, for any service but a lane (which ends with its recording), exited at all."""
    code = child.process.poll()
    return code is not None and (code != 0 or not child.name.startswith("lane-"))


def progress_line(elapsed: float, site: Site, observed: Observed, liveness: PeerLiveness) -> str:
    parts = [f"[{elapsed:6.1f} s]"]
    parts += [lane_progress(lane, observed) for lane in site.lanes]
    journal = observed.services.get("journal")
    recorded = journal.metrics.get("recorded", 0) if journal else 0
    alive = sum(liveness.state().values())
    parts.append(f"decisions: {observed.messages['ClearanceDecision']}, barrier acks: {observed.messages['GateAck']}")
    parts.append(f"bus: {sum(observed.messages.values())} msgs | journal: {recorded:.0f} | services alive: {alive}")
    return " | ".join(parts)


def lane_progress(lane: Lane, observed: Observed) -> str:
    """Frames the lane's cameras played (and lost), frames its pipeline read (and dropped as stale), passages."""
    cameras = [observed.cameras[c.id].metrics for c in lane.cameras if c.id in observed.cameras]
    frames, bad = sum(m.get("frames", 0) for m in cameras), sum(m.get("corrupt", 0) for m in cameras)
    reader = observed.services.get(f"lane-{lane.id}")
    vision = reader.metrics if reader else {}
    return (f"{lane.id}: {frames:.0f} frames ({bad:.0f} bad), read {vision.get('vision.frames', 0):.0f}"
            f" (dropped {vision.get('vision.dropped', 0):.0f}), {vision.get('vision.passages', 0):.0f} passages")


def passage_line(passage: VehiclePassage) -> str:
    """One passage for a person: plates, container numbers (✓/✗: check digit), seals, confidences, latency."""
    plates = ", ".join(f"{_shown(p.text)} ({p.role}, {p.confidence:.2f})" for p in passage.plates) or "none"
    containers = ", ".join(f"{_shown(c.number)} {CHECK_MARK[c.check_digit_ok]}"
                           f"{' ' + _shown(c.size_type) if c.size_type else ''} ({c.confidence:.2f})"
                           for c in passage.containers) or "none"
    seals = ", ".join(f"{s.state}{' ' + _shown(s.number) if s.number else ''} ({s.confidence:.2f})"
                      for s in passage.seals) or "none"
    latency = max(0.0, passage.ts_utc - passage.last_seen_utc)
    return (f"  passage {passage.lane_id}: plates {plates} | containers {containers} | seals {seals}"
            f" | {passage.frames_seen} frames, latency {latency:.1f} s")


def decision_line(decision: ClearanceDecision, passage: VehiclePassage | None) -> str:
    """A decision next to its passage: the passage id, its tractor plate and containers as read, the outcome and,
    unless it is OPEN, its first reason in English."""
    seen = f" {vehicle_read(passage)}" if passage is not None else ""
    return f"  decision {decision.lane_id}: {_shown(decision.passage_id)}{seen} → {verdict(decision)}"


def verdict(decision: ClearanceDecision) -> str:
    """``OPEN``, or ``INSPECT: No seal on container ... (+1 more)``."""
    if decision.outcome == "OPEN" or not decision.reasons:
        return decision.outcome
    more = f" (+{len(decision.reasons) - 1} more)" if len(decision.reasons) > 1 else ""
    return f"{decision.outcome}: {_shown(decision.reasons[0].en)}{more}"


def vehicle_read(passage: VehiclePassage) -> str:
    """The tractor plate (else the surest plate) and the container numbers read, in a few words."""
    plates = sorted(passage.plates, key=lambda p: (p.role == "tractor", p.confidence), reverse=True)
    plate = _shown(plates[0].text) if plates else "no plate"
    containers = " ".join(_shown(c.number) for c in passage.containers) or "no container"
    return f"{plate} {containers}"


def ack_line(ack: GateAck, command: GateCommand | None) -> str:
    """A barrier's answer to a gate command: done (and the barrier's state), refused or expired, and why."""
    what = f"{command.action} for {_shown(command.passage_id)}" if command is not None else (
        f"command {_shown(ack.command_id)}")
    kind = ack_kind(ack)
    error = _shown((ack.error or "").removeprefix("expired: "))
    result = f"{kind}, barrier {ack.state}" if kind == "accepted" else f"{kind}: {error}"
    return f"  barrier {ack.lane_id}: {what} {result}"


def ack_kind(ack: GateAck) -> str:
    """accepted, expired (refused by the controller as expired, or never answered before expiry), or refused."""
    if ack.accepted:
        return "accepted"
    return "expired" if (ack.error or "").startswith(_EXPIRED_ERRORS) else "refused"


def _shown(text: str) -> str:
    """Read text as it may be printed on a terminal: control characters (escape sequences) become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def stop_services(children: list[Child], settle: Callable[[], None] | None = None) -> dict[str, int]:
    """SIGTERM in reverse start order: the lanes, then (after ``settle``) clearance, the gate controllers, the
    journal and the broker, so that the journal records everyone's last words."""
    codes: dict[str, int] = {}
    for child in reversed(children):
        if settle is not None and not child.name.startswith("lane-"):
            settle()
            settle = None
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        child.log.close()
        codes[child.name] = child.process.returncode
    return codes


def print_summary(site: Site, observed: Observed, codes: dict[str, int], outcome: str, journalled: dict[str, int],
                  passages: list[VehiclePassage], clearance: Ledger, out: IO[str]) -> None:
    print("\nSmartGate demo summary", file=out)
    print(f"  site: {site.site.name} ({site.site.id}); ended: {outcome}", file=out)
    for lane in site.lanes:
        for camera in lane.cameras:
            seen = observed.cameras.get(camera.id)
            metrics = seen.metrics if seen else {}
            print(f"  camera {camera.id:<14} frames {metrics.get('frames', 0):6.0f}  corrupt "
                  f"{metrics.get('corrupt', 0):4.0f}  {metrics.get('fps', 0):5.1f} fps  read "
                  f"{metrics.get('processed', 0):5.0f}  dropped {metrics.get('dropped', 0):5.0f}", file=out)
    for lane in site.lanes:
        print(lane_vision_line(lane.id, observed.services.get(f"lane-{lane.id}")), file=out)
    print(f"  bus messages seen: {dict(sorted(observed.messages.items()))}", file=out)
    broker = observed.services.get("broker")
    if broker:
        keys = ("received", "sent", "dropped", "rejected", "refused")
        print("  broker: " + ", ".join(f"{k} {broker.metrics.get(k, 0):.0f}" for k in keys), file=out)
    print(f"  journal {site.journal.url}, appended this run: {journalled}", file=out)
    total = journalled.get(VehiclePassage.wire_tag(), 0)
    print(f"  passages journalled this run: {total}", file=out)
    for passage in passages:
        print(f"  {passage_line(passage)}", file=out)
        decision = clearance.latest_decisions().get(passage.passage_id)
        print(f"      {_shown(passage.passage_id)} → {verdict(decision) if decision else 'no decision'}", file=out)
    if total > len(passages):
        print(f"    ... and {total - len(passages)} more in the journal", file=out)
    for line in clearance_lines(clearance, observed.services.get(CLEARANCE)):
        print(line, file=out)
    for lane_id in site.bus.endpoints.gate_links:
        print(barrier_line(lane_id, observed.services.get(f"gate-{lane_id}")), file=out)
    print("  services: " + ", ".join(f"{name} exit {code}" for name, code in codes.items()), file=out)
    for name, code in codes.items():
        if code != 0:
            print(f"  {name} failed (exit {code}); last lines of its log:", file=out)
            for line in log_tail(site.data_dir / "logs" / f"{name}.log"):
                print(f"    {line}", file=out)
    print(f"  logs: {site.data_dir / 'logs'}", file=out, flush=True)


def clearance_lines(record: Ledger, telemetry: Telemetry | None) -> list[str]:
    """Decisions by outcome and by reason code, gate commands by action and their acks, from the journal; the
    declarations clearance took, from its last telemetry."""
    decisions = list(record.latest_decisions().values())
    outcomes = Counter[str](d.outcome for d in decisions)
    reasons = Counter(reason.code for d in decisions for reason in d.reasons)
    actions = Counter[str](c.action for c in record.commands.values())
    acks = Counter(ack_kind(a) for a in record.acks.values())
    unanswered = sum(1 for command_id in record.commands if command_id not in record.acks)
    lines = [f"  decisions journalled this run: {len(decisions)} ({_counted(OUTCOMES, outcomes)})",
             f"    by reason (a decision may give several): {_counted(sorted(reasons), reasons) or 'none'}",
             f"  gate commands journalled this run: {len(record.commands)} ({_counted(sorted(actions), actions)});"
             f" acks: {_counted(ACK_KINDS, acks)}" + (f", none yet for {unanswered}" if unanswered else "")]
    metrics = telemetry.metrics if telemetry else {}
    refused = sum(v for k, v in metrics.items() if k.startswith("declarations.refused."))
    lines.append(f"  clearance: declarations read {metrics.get('feed.declarations', 0):.0f}, held "
                 f"{metrics.get('declarations.accepted', 0):.0f}, refused {refused:.0f}; passages dropped "
                 f"{sum(v for k, v in metrics.items() if k.startswith('dropped.')):.0f}")
    return lines


def barrier_line(lane_id: str, telemetry: Telemetry | None) -> str:
    """A lane's gate controller from its last telemetry: commands executed and refused, faults, barrier state."""
    metrics = telemetry.metrics if telemetry else {}
    state = telemetry.state if telemetry else "not heard"
    return (f"  barrier {lane_id:<6} executed {metrics.get('executed', 0):.0f}, duplicates "
            f"{metrics.get('duplicates', 0):.0f}, refused {metrics.get('refused', 0):.0f}, faults "
            f"{metrics.get('faults', 0):.0f}; last state {state}")


def _counted(keys: Iterable[str], counts: Counter[str]) -> str:
    return ", ".join(f"{key} {counts[key]}" for key in keys)


def lane_vision_line(lane_id: str, telemetry: Telemetry | None) -> str:
    """A lane's pipeline figures from its last telemetry: frames read and dropped, passages, ms per stage."""
    metrics = telemetry.metrics if telemetry else {}
    stages = ", ".join(f"{key.removeprefix('vision.ms.')} {value:.0f}" for key, value in metrics.items()
                       if key.startswith("vision.ms."))
    return (f"  lane {lane_id:<6} read {metrics.get('vision.frames', 0):.0f} frames, dropped"
            f" {metrics.get('vision.dropped', 0):.0f} stale, {metrics.get('vision.passages', 0):.0f} passages;"
            f" ms/frame: {stages or 'n/a'}")


def log_tail(path: Path, lines: int = 5) -> list[str]:
    """The last lines of a service's log, so a failure is explained where the operator is looking."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 4096))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return [f"(cannot read {path}: {exc})"]
    return text.splitlines()[-lines:]


def journal_mark(site: Site) -> int:
    """The journal's last sequence number before this run (0 for a new journal)."""
    with Journal.open(site.journal.url) as journal:
        return journal.last_seq()


def journal_counts(site: Site, after_seq: int) -> dict[str, int]:
    """Entries this run appended, per message type, read back from the journal itself."""
    with Journal.open(site.journal.url) as journal:
        counts = {t.wire_tag(): journal.count(types=[t], after_seq=after_seq) for t in MESSAGE_TYPES}
    return {tag: n for tag, n in counts.items() if n}


def journal_passages(site: Site, after_seq: int) -> list[VehiclePassage]:
    """The passages this run appended, read back from the journal (the first `MAX_SUMMARY_PASSAGES`)."""
    with Journal.open(site.journal.url) as journal:
        entries = journal.query(types=[VehiclePassage], after_seq=after_seq, limit=MAX_SUMMARY_PASSAGES)
    return [entry.message for entry in entries if isinstance(entry.message, VehiclePassage)]


def journal_clearance(site: Site, after_seq: int) -> Ledger:
    """This run's decisions, gate commands and acks, read back from the journal."""
    record = Ledger()
    with Journal.open(site.journal.url) as journal:
        for entry in journal.replay(after_seq, types=[ClearanceDecision, GateCommand, GateAck]):
            record.record(entry.message)
    return record


def _setter(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    return handler

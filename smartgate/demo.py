"""`smartgate demo`: the whole system on one machine, each service its own process, talking over the bus.

On first run it generates the bundled recordings (a few seconds) and the site's CURVE keys. It then starts the
broker, the journal recorder and one reader per lane (cameras and vision pipeline), follows them on the bus
(heartbeats, telemetry, passages), shows each `VehiclePassage` as it arrives and progress once a second, and stops
them in order when the recordings end, ``--duration`` passes or Ctrl-C comes. The summary at the end is read back
from the bus and from the journal file, not from the supervisor's memory.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from bus.heartbeat import HeartbeatConfig, PeerLiveness
from bus.journal import Journal
from bus.messages import MESSAGE_TYPES, AnyMessage, Heartbeat, Telemetry, VehiclePassage
from smartgate.site import Lane, Site, load_site, resolve_bundled
from smartgate.wiring import ensure_keys, event_subscriber

STOP_TIMEOUT_S = 10.0
DEMO_SEEDS = {"in": 2026, "out": 2027}
MAX_SUMMARY_PASSAGES = 50
CHECK_MARK = {True: "✓", False: "✗"}


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


@dataclass
class Observed:
    """What the supervisor has seen on the bus."""

    messages: Counter[str] = field(default_factory=Counter)
    cameras: dict[str, Telemetry] = field(default_factory=dict)
    services: dict[str, Telemetry] = field(default_factory=dict)

    def take(self, message: AnyMessage) -> None:
        self.messages[type(message).__name__] += 1
        if isinstance(message, Telemetry) and message.kind == "camera":
            self.cameras[message.device_id] = message
        elif isinstance(message, Telemetry) and message.kind == "service":
            self.services[message.device_id] = message


def run_demo(site_path: Path, *, duration_s: float | None, speed: float, loop: bool,
             data_dir: Path | None = None, out: IO[str] = sys.stdout) -> int:
    site = load_site(site_path, data_dir=data_dir)
    prepare_recordings(site, out)
    ensure_keys(site)
    mark = journal_mark(site)
    interrupted = threading.Event()
    previous = signal.signal(signal.SIGINT, _setter(interrupted))
    children: list[Child] = []
    observed = Observed()
    try:
        children = start_services(site, site_path, speed=speed, loop=loop)
        outcome = follow(site, children, observed, duration_s=duration_s, interrupted=interrupted, out=out)
    finally:
        codes = stop_services(children)
        signal.signal(signal.SIGINT, previous)
    print_summary(site, observed, codes, outcome, journal_counts(site, mark), journal_passages(site, mark), out)
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


def start_services(site: Site, site_path: Path, *, speed: float, loop: bool) -> list[Child]:
    """Broker first (everyone connects to it), then the journal, then the lanes."""
    logs = site.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "smartgate.services"]
    common = ["--site", str(site_path), "--data-dir", str(site.data_dir)]
    plan: list[tuple[str, list[str]]] = [("broker", ["broker"]), ("journal", ["journal"])]
    lane_args = ["--speed", str(speed), *(["--loop"] if loop else [])]
    plan += [(f"lane-{lane.id}", ["lane", "--lane", lane.id, *lane_args]) for lane in site.lanes]
    children: list[Child] = []
    for name, args in plan:
        log_path = logs / f"{name}.log"
        log = log_path.open("ab")
        process = subprocess.Popen([*base, *args, *common], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        children.append(Child(name, process, log_path, log))
    return children


def follow(site: Site, children: list[Child], observed: Observed, *, duration_s: float | None,
           interrupted: threading.Event, out: IO[str]) -> str:
    """Watch the bus until the lanes finish, the duration passes, Ctrl-C, or a service dies; say which."""
    liveness = PeerLiveness(HeartbeatConfig(interval_s=1.0, liveness=3))
    started = time.monotonic()
    next_line = started
    lanes = [c for c in children if c.name.startswith("lane-")]
    with event_subscriber(site, "demo", [b""]) as events:
        while True:
            message = events.recv(0.1)
            while message is not None:
                if isinstance(message, Heartbeat):
                    liveness.beat(message.sender)
                elif isinstance(message, VehiclePassage):
                    print(passage_line(message), file=out, flush=True)
                observed.take(message)
                message = events.recv(0.0)
            liveness.check()
            now = time.monotonic()
            if now >= next_line:
                print(progress_line(now - started, site, observed, liveness), file=out, flush=True)
                next_line = now + 1.0
            outcome = _finished(children, lanes, now - started, duration_s, interrupted)
            if outcome:
                print(f"stopping: {outcome}", file=out, flush=True)
                return outcome


def _finished(children: list[Child], lanes: list[Child], elapsed: float, duration_s: float | None,
              interrupted: threading.Event) -> str:
    if interrupted.is_set():
        return "interrupted (Ctrl-C)"
    if duration_s is not None and elapsed >= duration_s:
        return f"--duration {duration_s:g} s reached"
    if any(c.process.poll() not in (None, 0) for c in children):
        return "a service died"
    if lanes and all(c.process.poll() == 0 for c in lanes):
        return "recordings played to the end"
    return ""


def progress_line(elapsed: float, site: Site, observed: Observed, liveness: PeerLiveness) -> str:
    parts = [f"[{elapsed:6.1f} s]"]
    parts += [lane_progress(lane, observed) for lane in site.lanes]
    journal = observed.services.get("journal")
    recorded = journal.metrics.get("recorded", 0) if journal else 0
    alive = sum(liveness.state().values())
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


def _shown(text: str) -> str:
    """Read text as it may be printed on a terminal: control characters (escape sequences) become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def stop_services(children: list[Child]) -> dict[str, int]:
    """SIGTERM in reverse start order (lanes, journal, broker), so the journal records the lanes' last words."""
    codes: dict[str, int] = {}
    for child in reversed(children):
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
                  passages: list[VehiclePassage], out: IO[str]) -> None:
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
    if total > len(passages):
        print(f"    ... and {total - len(passages)} more in the journal", file=out)
    print("  services: " + ", ".join(f"{name} exit {code}" for name, code in codes.items()), file=out)
    for name, code in codes.items():
        if code != 0:
            print(f"  {name} failed (exit {code}); last lines of its log:", file=out)
            for line in log_tail(site.data_dir / "logs" / f"{name}.log"):
                print(f"    {line}", file=out)
    print(f"  logs: {site.data_dir / 'logs'}", file=out, flush=True)


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


def _setter(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    return handler

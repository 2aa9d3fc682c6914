"""`smartgate demo` end to end: real service processes over CurveZMQ, the bundled recordings, a real journal.

Every demo binds the site's fixed ports (57100-57111), so the runs are serialised by a file lock (even across
pytest-xdist workers) and each one is stopped before the next test starts.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bus.journal import Journal
from bus.messages import ClearanceDecision, DeclarationSubmitted, GateAck, GateCommand, Telemetry, VehiclePassage
from datasets.recording import Recording
from smartgate.site import bundled_site_path, resolve_bundled

pytestmark = pytest.mark.slow
SMARTGATE = [sys.executable, "-m", "smartgate.cli"]
PORTS_LOCK = Path(tempfile.gettempdir()) / "smartgate-demo-ports.lock"
_running: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def one_demo_at_a_time() -> Iterator[None]:
    """Hold the ports lock for the test; stop (Ctrl-C, then kill) any demo the test left running."""
    with PORTS_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            while _running:
                _stop(_running.pop())


def _stop(demo: subprocess.Popen[str]) -> None:
    if demo.poll() is None:
        demo.send_signal(signal.SIGINT)  # the demo stops its services in order
        try:
            demo.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.communicate()


def _demo(tmp_path: Path, *args: str, site: Path | None = None) -> subprocess.Popen[str]:
    site_args = ["--site", str(site)] if site is not None else []
    demo = subprocess.Popen([*SMARTGATE, "demo", "--data-dir", str(tmp_path / "var"), *site_args, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _running.append(demo)
    return demo


def _journal(tmp_path: Path) -> Journal:
    return Journal.open(f"sqlite:///{tmp_path / 'var' / 'journal.sqlite'}")


def test_demo_plays_the_bundled_recordings_and_journals_what_it_saw(tmp_path: Path) -> None:
    demo = _demo(tmp_path, "--speed", "15")
    output, _ = demo.communicate(timeout=240)
    assert demo.returncode == 0, output
    assert "ended: recordings played to the end" in output
    broker = next(line for line in output.splitlines() if line.startswith("  broker: "))
    assert broker.endswith("dropped 0, rejected 0, refused 0"), broker
    assert "declared the recordings' 8 trucks for " in output
    assert "control room: http://127.0.0.1:8000/  (development login: operator or admin / smartgate-dev" in output
    assert _stop_order(output) == [
        "lane-out-1", "lane-in-1", "api", "field-devices", "clearance", "gate-out-1", "gate-in-1", "journal",
        "broker"], output
    for camera in ("in-1-front", "in-1-rear", "in-1-side", "in-1-top", "out-1-front", "out-1-top"):
        line = next(line for line in output.splitlines() if f"camera {camera} " in line)
        assert int(line.split("frames")[1].split()[0]) == 360, line  # 90 s at 4 fps, none lost
    keys = sorted(p.name for p in (tmp_path / "var" / "keys").iterdir())
    assert "broker.key" in keys
    assert "broker.key_secret" in keys
    with _journal(tmp_path) as journal:
        telemetry = [e.message for e in journal.query(types=[Telemetry], limit=10_000)
                     if isinstance(e.message, Telemetry)]
        declared = journal.count(types=[DeclarationSubmitted])
    cameras = [t for t in telemetry if t.kind == "camera"]
    assert {t.device_id for t in cameras} >= {"in-1-front", "out-1-side"}
    assert max(t.metrics["frames"] for t in cameras if t.device_id == "in-1-rear") == 360
    assert declared == 8  # the recordings' own declarations, held by clearance and journalled once
    ended = {t.device_id: t.metrics for t in cameras if t.state == "ended"}
    assert len(ended) == 8
    for camera, metrics in ended.items():  # far faster than the pipeline: most frames dropped, every one counted
        assert metrics["processed"] + metrics["dropped"] == 360, camera
        assert metrics["processed"] >= 1, camera
    lanes = {t.device_id: t.metrics for t in telemetry if t.kind == "service" and t.device_id.startswith("lane-")}
    for lane in ("lane-in-1", "lane-out-1"):
        assert lanes[lane]["vision.frames"] + lanes[lane]["vision.dropped"] == 4 * 360
        assert lanes[lane]["vision.ms.detect"] > 0
        assert lanes[lane]["vision.failed"] == 0


def test_ctrl_c_stops_every_service_cleanly(tmp_path: Path) -> None:
    demo = _demo(tmp_path, "--loop")
    deadline = time.monotonic() + 120
    assert demo.stdout is not None
    seen: list[str] = []
    for line in demo.stdout:  # wait until every service is heard on the bus
        seen.append(line)
        if "services alive: 9" in line or time.monotonic() > deadline:
            break
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    output = "".join(seen) + rest
    assert demo.returncode == 0, output
    assert "ended: interrupted (Ctrl-C)" in output
    assert _stop_order(output) == [
        "lane-out-1", "lane-in-1", "api", "field-devices", "clearance", "gate-out-1", "gate-in-1", "journal",
        "broker"], output


def _stop_order(output: str) -> list[str]:
    """The services in the order the demo stopped them, each of which must have exited 0."""
    line = next(line for line in output.splitlines() if line.startswith("  services: "))
    stopped = [item.split(" exit ") for item in line.removeprefix("  services: ").split(", ")]
    assert all(code == "0" for _, code in stopped), line
    return [name for name, _ in stopped]


def test_duration_limits_the_run(tmp_path: Path) -> None:
    demo = _demo(tmp_path, "--loop", "--duration", "4")
    output, _ = demo.communicate(timeout=120)
    assert demo.returncode == 0, output
    assert "--duration 4 s reached" in output


def test_an_invalid_site_is_refused_before_anything_starts(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("site: {id: x}\n")
    done = subprocess.run([*SMARTGATE, "demo", "--site", str(site)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert str(site) in done.stderr


def test_a_service_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    import socket

    with socket.socket() as squatter:  # hold the broker's publish port so that its bind fails
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 57100))
        squatter.listen()
        demo = _demo(tmp_path, "--duration", "30")
        output, _ = demo.communicate(timeout=120)
    assert demo.returncode == 1, output
    assert "ended: a service died" in output
    assert "broker failed (exit 1)" in output
    assert "cannot bind tcp://127.0.0.1:57100" in output


def _out_lane_site(tmp_path: Path) -> Path:
    """The bundled site cut to lane out-1 and its front and rear cameras (same recording, same ports): on a small
    CPU the pipeline then reads about one frame in two, enough to track every truck, whatever else the machine
    runs. Those few reads fuse to confidences of 0.3-0.9; a right read below the bundled thresholds (plate 0.60,
    container 0.50) holds the green truck for an officer (a trailer plate read right at 0.46 did), and this test is
    about the wiring, not the thresholds: this site opens from 0.3."""
    raw = yaml.safe_load(bundled_site_path().read_text(encoding="utf-8"))
    lane = raw["lanes"][1]
    lane["cameras"] = [camera for camera in lane["cameras"] if camera["view"] in ("front", "rear")]
    raw["lanes"] = [lane]
    raw["bus"]["endpoints"]["gate_links"] = {"out-1": raw["bus"]["endpoints"]["gate_links"]["out-1"]}
    raw["clearance"].update(min_plate_confidence=0.3, min_container_confidence=0.3)
    del raw["yard"], raw["declarations"]
    site = tmp_path / "out.yaml"
    site.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return site


def _letters(text: str) -> str:
    return re.sub(r"[^0-9A-Z\u4e00-\u9fff]", "", text.upper())


def test_the_demo_shows_each_passage_and_its_decision_as_they_come_and_journals_them(tmp_path: Path) -> None:
    """Lane out-1's first two trucks: a green one that matches its declaration, then a red-channel one."""
    # half speed: the recording's first 36 s in 72 s of wall time, so that a machine busy with other work still reads
    # enough frames of the green truck to open for it (at real time under load, its trailer plate fused to 0.28)
    demo = _demo(tmp_path, "--duration", "72", "--speed", "0.5", site=_out_lane_site(tmp_path))
    output, _ = demo.communicate(timeout=220)
    assert demo.returncode == 0, output
    live, _, summary = output.partition("stopping: --duration 72 s reached")
    shown = [line for line in output.splitlines() if line.startswith("  passage out-1: plates ")]
    assert shown, output  # at least one passage seen on the bus while the demo ran
    assert shown[0] in live
    assert re.search(r"\| \d+ frames, latency \d+\.\d s$", shown[0]), shown[0]
    with _journal(tmp_path) as journal:
        passages = [e.message for e in journal.query(types=[VehiclePassage])
                    if isinstance(e.message, VehiclePassage)]
        decisions = {e.message.passage_id: e.message for e in journal.query(types=[ClearanceDecision])
                     if isinstance(e.message, ClearanceDecision)}
        commands = {e.message.command_id: e.message for e in journal.query(types=[GateCommand])
                    if isinstance(e.message, GateCommand)}
        acks = {e.message.command_id: e.message for e in journal.query(types=[GateAck])
                if isinstance(e.message, GateAck)}
    assert len(passages) >= len(shown)
    assert f"passages journalled this run: {len(passages)}" in summary
    truth = Recording.open(resolve_bundled("huu_nghi_demo/out-1")).passages()
    plates = {_letters(p.tractor_plate.text) for p in truth}
    read = {_letters(plate.text) for passage in passages for plate in passage.plates}
    assert read & plates, (read, plates)  # a truck's plate read exactly, as the recording's truth has it
    for passage in passages:
        assert passage.lane_id == "out-1"
        assert passage.last_seen_utc >= passage.first_seen_utc > time.time() - 600  # stamped when played
    evidence = tmp_path / "var" / "evidence" / "huu-nghi-1119" / "out-1"
    assert any(evidence.rglob("*.jpg"))
    _assert_each_passage_decided_and_acknowledged(output, passages, decisions, commands, acks)


def _assert_each_passage_decided_and_acknowledged(
        output: str, passages: list[VehiclePassage], decisions: dict[str, ClearanceDecision],
        commands: dict[str, GateCommand], acks: dict[str, GateAck]) -> None:
    assert set(decisions) == {p.passage_id for p in passages}, output  # every passage decided, once
    assert all(d.reasons for d in decisions.values())
    outcomes = Counter(d.outcome for d in decisions.values())
    assert outcomes["OPEN"] >= 1, output  # the green truck whose reads match
    assert sum(outcomes.values()) > outcomes["OPEN"], output  # the red-channel truck, at least
    for decision in decisions.values():
        shown = f"  decision out-1: {decision.passage_id} "
        line = next(line for line in output.splitlines() if line.startswith(shown))
        if decision.outcome == "OPEN":
            assert line.endswith("→ OPEN"), line
        else:
            assert f"→ {decision.outcome}: {decision.reasons[0].en}" in line, line
    assert len(commands) == len(decisions)
    assert set(acks) == set(commands), output  # every gate command answered by the barrier, and journalled
    assert all(ack.accepted for ack in acks.values()), acks
    opened = [c for c in commands.values() if c.action == "OPEN"]
    assert len(opened) == outcomes["OPEN"]
    summary = output.partition("SmartGate demo summary")[2]
    assert (f"decisions journalled this run: {len(decisions)} (OPEN {outcomes['OPEN']}, HOLD {outcomes['HOLD']}, "
            f"INSPECT {outcomes['INSPECT']}, REJECT {outcomes['REJECT']})") in summary
    reasons = Counter(r.code for d in decisions.values() for r in d.reasons)
    by_reason = ", ".join(f"{code} {n}" for code, n in sorted(reasons.items()))
    assert f"by reason (a decision may give several): {by_reason}" in summary
    assert f"acks: accepted {len(acks)}, refused 0, expired 0" in summary
    assert f"barrier out-1  executed {len(acks)}, duplicates 0, refused 0, faults 0" in summary

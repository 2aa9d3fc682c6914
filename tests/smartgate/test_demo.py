"""`smartgate demo` end to end: real service processes over CurveZMQ, the bundled recordings, a real journal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bus.journal import Journal
from bus.messages import Telemetry

pytestmark = pytest.mark.slow
SMARTGATE = [sys.executable, "-m", "smartgate.cli"]


def _demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*SMARTGATE, "demo", "--data-dir", str(tmp_path / "var"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_demo_plays_the_bundled_recordings_and_journals_what_it_saw(tmp_path: Path) -> None:
    demo = _demo(tmp_path, "--speed", "15")
    output, _ = demo.communicate(timeout=240)
    assert demo.returncode == 0, output
    assert "ended: recordings played to the end" in output
    assert "refused 0" in output
    assert "rejected 0" in output
    for camera in ("in-1-front", "in-1-rear", "in-1-side", "in-1-top", "out-1-front", "out-1-top"):
        line = next(line for line in output.splitlines() if f"camera {camera} " in line)
        assert int(line.split("frames")[1].split()[0]) == 360, line  # 90 s at 4 fps, none lost
    keys = sorted(p.name for p in (tmp_path / "var" / "keys").iterdir())
    assert "broker.key" in keys
    assert "broker.key_secret" in keys
    with Journal.open(f"sqlite:///{tmp_path / 'var' / 'journal.sqlite'}") as journal:
        cameras = [e.message for e in journal.query(types=[Telemetry], limit=10_000)
                   if isinstance(e.message, Telemetry) and e.message.kind == "camera"]
    assert {t.device_id for t in cameras} >= {"in-1-front", "out-1-side"}
    assert max(t.metrics["frames"] for t in cameras if t.device_id == "in-1-rear") == 360


def test_ctrl_c_stops_every_service_cleanly(tmp_path: Path) -> None:
    demo = _demo(tmp_path, "--loop")
    deadline = time.monotonic() + 120
    assert demo.stdout is not None
    seen: list[str] = []
    for line in demo.stdout:  # wait until every service is heard on the bus
        seen.append(line)
        if "services alive: 4" in line or time.monotonic() > deadline:
            break
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    output = "".join(seen) + rest
    assert demo.returncode == 0, output
    assert "ended: interrupted (Ctrl-C)" in output
    assert "lane-in-1 exit 0, lane-out-1 exit 0, journal exit 0, broker exit 0" in output.replace(
        "lane-out-1 exit 0, lane-in-1 exit 0", "lane-in-1 exit 0, lane-out-1 exit 0")


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

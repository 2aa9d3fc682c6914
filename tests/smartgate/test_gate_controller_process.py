"""`smartgate gate-controller` as a real process, driven over CURVE by a GateLink from this test."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bus.heartbeat import HeartbeatConfig
from control.gate_link import GateLink, GateLinkConfig
from smartgate import cli
from smartgate.services.gate_controller import open_gate_link, with_keys_dir
from smartgate.site import load_site
from tests.ports import loopback_endpoints
from tests.smartgate.test_site import endpoints, write_site
from tests.waiting import wait_for

LANE = "in-1"
HEARTBEAT = HeartbeatConfig(interval_s=0.2, liveness=3)


def status_is(link: GateLink, status: str, detail: str) -> Callable[[], bool]:
    def check() -> bool:
        beat = link.controller_status
        return beat is not None and beat.status == status and beat.detail.startswith(detail)
    return check


def test_gate_controller_process_acks_then_fails_safe_when_the_link_dies(tmp_path: Path) -> None:
    def loopback_ports(data: dict[str, Any]) -> None:
        loopback_endpoints(endpoints(data))

    site_file = write_site(tmp_path, loopback_ports)
    keys = tmp_path / "keys"
    assert cli.main(["keys", "--site", str(site_file), "--dir", str(keys)]) == 0
    log_file = tmp_path / "controller.log"
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "smartgate.cli", "--log-level", "INFO", "gate-controller", "--lane", LANE,
             "--site", str(site_file), "--keys", str(keys), "--heartbeat-s", "0.2", "--travel-s", "0.2"],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        site = with_keys_dir(load_site(site_file, data_dir=tmp_path / "var"), keys)
        config = GateLinkConfig(timeout_s=1.0, retries=2, heartbeat=HEARTBEAT)
        with open_gate_link(site, LANE, config=config, client_id="clearance-e2e") as link:
            assert wait_for(lambda: link.controller_alive, 30.0, step=link.tick), log_file.read_text()
            ack = link.send("OPEN", "p-e2e", 10.0)
            assert (ack.accepted, ack.state, ack.lane_id, ack.seq) == (True, "opening", LANE, 1)
            assert wait_for(status_is(link, "ok", "state=open"), 5.0, step=link.tick)
        # The clearance side is gone: after 3 silent heartbeats the controller closes the barrier and says why.
        # (The observer connects only then: any live clearance client keeps the link up.)
        assert wait_for(lambda: "clearance link lost" in log_file.read_text(), 5.0, step=lambda: None)
        with open_gate_link(site, LANE, config=config, client_id="observer", last_seq=1) as observer:
            assert wait_for(status_is(observer, "fault", "state=closed; faults=link_lost"), 5.0, step=observer.tick), \
                observer.controller_status
            close = observer.send("CLOSE", "p-e2e", 10.0)
            assert (close.accepted, close.state, close.seq) == (True, "closed", 2)
            assert wait_for(status_is(observer, "ok", "state=closed"), 5.0, step=observer.tick)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_file.read_text()
    assert "barrier closed -> opening (OPEN)" in output
    assert "clearance link lost" in output
    assert "barrier open -> closing (clearance link lost)" in output
    assert "gate controller in-1 stopping" in output


def test_gate_controller_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site_file = write_site(tmp_path)
    assert cli.main(["gate-controller", "--lane", "nope", "--site", str(site_file)]) == 2
    assert capsys.readouterr().err == "smartgate: error: no lane 'nope' in the site (lanes: in-1, out-1)\n"
    assert cli.main(["gate-controller", "--lane", LANE, "--site", str(site_file), "--heartbeat-s", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err

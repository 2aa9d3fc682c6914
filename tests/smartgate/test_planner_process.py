"""``python -m smartgate.services planner`` as a real process, asked for plans over CURVE by a client of this test."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bus.messages import PlanReply, PlanRequest
from bus.reqrep import Client
from control.planning.grid_map import grid_from_yard, load_movingai_map
from control.planning.validate import validate
from smartgate import cli
from smartgate.site import load_site
from smartgate.wiring import client_security
from tests.ports import loopback_endpoints
from tests.smartgate.test_site import endpoints, write_site
from tests.waiting import wait_for
from yard.grid import build_grid
from yard.layout import load_layout

REPO = Path(__file__).resolve().parents[2]
YARD_LAYOUT = REPO / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"


def cells(width: int, reply: PlanReply) -> np.ndarray:
    xy = np.asarray(reply.paths, dtype=np.int64)
    return (xy[:, :, 1] * width + xy[:, :, 0]).T.astype(np.int32)


def test_planner_process_plans_the_yard_and_a_map_folder_then_stops_on_sigterm(tmp_path: Path) -> None:
    def loopback(data: dict[str, Any]) -> None:
        loopback_endpoints(endpoints(data))
        data["yard"] = {"layout": str(YARD_LAYOUT)}

    site_file = write_site(tmp_path, loopback)
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "hall.map").write_text("type octile\nheight 3\nwidth 5\nmap\n.....\n.@.@.\n.....\n")
    data_dir = tmp_path / "var"
    site = load_site(site_file, data_dir=data_dir)
    assert cli.main(["keys", "--site", str(site_file), "--dir", str(site.bus.keys_dir)]) == 0
    log_file = tmp_path / "planner.log"
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "smartgate.services", "planner", "--site", str(site_file), "--data-dir",
             str(data_dir), "--maps", str(maps)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        with Client(site.bus.endpoints.planner, client_security(site, "demo", "planner"),
                    client_id="demo-planner") as client:
            assert wait_for(lambda: client.server_alive, 120.0, step=client.tick, poll_s=0.1), log_file.read_text()

            yard = grid_from_yard(build_grid(load_layout(YARD_LAYOUT)))
            spots = [name for name in yard.names if name.startswith("igv-parking:")][:3]
            bays = sorted(name for name in yard.names if name.startswith("bay-"))[:3]
            starts = tuple((int(x), int(y)) for x, y in yard.xy(np.array([yard.names[s] for s in spots])))
            goals = tuple((int(x), int(y)) for x, y in yard.xy(np.array([yard.names[b] for b in bays])))
            reply = client.request(PlanRequest(request_id="yard-1", map_id="yard", starts=starts, goals=goals),
                                   timeout_s=10.0)
            assert isinstance(reply, PlanReply)
            assert reply.status == "solved", reply
            plan = cells(yard.width, reply)
            assert validate(yard, plan[0], plan[-1], plan) == []   # one-way lanes included
            assert [p[-1] for p in reply.paths] == list(goals)

            hall = client.request(PlanRequest(request_id="hall-1", map_id="hall", starts=((0, 0), (4, 2)),
                                              goals=((4, 2), (0, 0)), algo="pibt"), timeout_s=10.0)
            assert isinstance(hall, PlanReply)
            assert hall.status == "solved", hall
            grid = load_movingai_map(maps / "hall.map")
            plan = cells(grid.width, hall)
            assert validate(grid, plan[0], plan[-1], plan) == []

            unknown = client.request(PlanRequest(request_id="x-1", map_id="warehouse", starts=((0, 0),),
                                                 goals=((1, 0),)), timeout_s=10.0)
            assert isinstance(unknown, PlanReply)
            assert unknown.status == "error"
            assert unknown.error == "unknown map 'warehouse' (known: hall, yard)"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_file.read_text()
    assert "planner serving" in output
    assert "maps: hall, yard" in output
    assert "planner stopping" in output
    assert "'reply.solved': 2.0" in output

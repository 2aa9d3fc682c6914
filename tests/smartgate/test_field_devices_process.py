"""The field-devices service as a real process behind the real broker: orders sent over ZeroMQ (CURVE) move the
IGVs, each node reached comes back as an IGVState, a malformed order gets an error state and the service stays up;
SIGTERM stops it cleanly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bus.curve import generate_keys, missing_keypairs
from bus.messages import IGVCommand, IGVState, OrderEdge, OrderNode
from bus.pubsub import Publisher
from bus.transport import subscription
from control.fieldsim.orders import cell_centre
from control.planning.grid_map import GridMap, grid_from_yard
from smartgate import cli
from smartgate.services import __main__ as services
from smartgate.site import load_site
from smartgate.wiring import event_publisher, event_subscriber
from tests.ports import loopback_endpoints
from tests.smartgate.test_site import endpoints, write_site
from tests.waiting import wait_for
from yard.grid import build_grid
from yard.layout import load_layout

REPO = Path(__file__).resolve().parents[2]
YARD_LAYOUT = REPO / "smartgate" / "sites" / "huu_nghi_1119_yard.yaml"
NAME = "field-devices"
# Until the service is listed in ``python -m smartgate.services``, start it the same way from its module.
LAUNCH = ("import sys; from smartgate.services.runtime import configure_logging, install_stop_handlers; "
          "from smartgate.site import load_site; from smartgate.services import field_devices; "
          "configure_logging('field-devices'); stop = install_stop_handlers(); "
          "site = load_site(sys.argv[1], data_dir=sys.argv[2]); "
          "sys.exit(field_devices.run(site, stop, speed=float(sys.argv[3]), igvs=int(sys.argv[4])))")


def service_command(site_file: Path, data_dir: Path, speed: float, igvs: int) -> list[str]:
    if NAME in services.SERVICES:
        return [sys.executable, "-m", "smartgate.services", NAME, "--site", str(site_file), "--data-dir",
                str(data_dir), "--speed", str(speed), "--igvs", str(igvs)]
    return [sys.executable, "-c", LAUNCH, str(site_file), str(data_dir), str(speed), str(igvs)]


def order(grid: GridMap, igv: str, order_id: str, cells: list[int], update: int = 0) -> IGVCommand:
    nodes = tuple(OrderNode(node_id=f"c{c}", sequence_id=2 * k, x=cell_centre(grid, c, 2.0, (0.0, 0.0))[0],
                            y=cell_centre(grid, c, 2.0, (0.0, 0.0))[1]) for k, c in enumerate(cells))
    edges = tuple(OrderEdge(edge_id=f"{order_id}-e{k}", sequence_id=2 * k + 1, start_node_id=nodes[k].node_id,
                            end_node_id=nodes[k + 1].node_id) for k in range(len(nodes) - 1))
    return IGVCommand(command_id=f"{order_id}-{update}", igv_id=igv, order_id=order_id, order_update_id=update,
                      nodes=nodes, edges=edges)


def path_from(grid: GridMap, start: int, steps: int) -> list[int]:
    """A drivable path: each step the first move the map allows that does not go back."""
    cells = [start]
    for _ in range(steps):
        moves = [int(c) for c in grid.successors[cells[-1], 1:] if c >= 0 and c not in cells]
        cells.append(moves[0])
    return cells


class Listener:
    """Every IGVState the broker forwards, collected by a background thread."""

    def __init__(self, subscribe: Callable[[], Any]) -> None:
        self.heard: list[IGVState] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(subscribe,), daemon=True)
        self._thread.start()

    def _listen(self, subscribe: Callable[[], Any]) -> None:
        with subscribe() as events:
            while not self._done.is_set():
                message = events.recv(0.05)
                if isinstance(message, IGVState):
                    self.heard.append(message)

    def of(self, order_id: str) -> list[IGVState]:
        return [s for s in list(self.heard) if s.order_id == order_id]

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)


def send_until(publisher: Publisher, command: IGVCommand, heard: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    """PUB/SUB drops what is sent before a subscription is up: resend (a duplicate is ignored) until answered."""
    return wait_for(heard, timeout_s, step=lambda: publisher.publish(command), poll_s=0.3)


def test_field_devices_process_executes_orders_and_survives_a_malformed_one(tmp_path: Path) -> None:
    def loopback(data: dict[str, Any]) -> None:
        loopback_endpoints(endpoints(data))
        data["yard"] = {"layout": str(YARD_LAYOUT)}

    site_file = write_site(tmp_path, loopback)
    data_dir = tmp_path / "var"
    site = load_site(site_file, data_dir=data_dir)
    assert cli.main(["keys", "--site", str(site_file), "--dir", str(site.bus.keys_dir)]) == 0
    generate_keys(site.bus.keys_dir, missing_keypairs(site.bus.keys_dir, [NAME]))
    grid = grid_from_yard(build_grid(load_layout(YARD_LAYOUT)))
    spots = sorted(name for name in grid.names if name.startswith("igv-parking:"))
    start = grid.names[spots[1]]                                  # igv-02's parking spot
    route = path_from(grid, start, 6)
    log_file = tmp_path / "field-devices.log"
    broker = subprocess.Popen([sys.executable, "-m", "smartgate.services", "broker", "--site", str(site_file),
                               "--data-dir", str(data_dir)], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    listener = Listener(lambda: event_subscriber(site, "api", [subscription(IGVState)]))
    with log_file.open("w") as log:
        devices = subprocess.Popen(service_command(site_file, data_dir, 25.0, 4), cwd=REPO, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        with event_publisher(site, "demo") as publisher:
            # the service announces every IGV on its parking spot
            assert wait_for(lambda: {s.igv_id for s in listener.heard} >= {"igv-01", "igv-04"}, 120.0,
                            poll_s=0.1), log_file.read_text()
            first = next(s for s in listener.heard if s.igv_id == "igv-02")
            assert (first.x, first.y) == cell_centre(grid, start, 2.0, (0.0, 0.0))

            assert send_until(publisher, order(grid, "igv-02", "o1", route),
                              lambda: any(s.remaining_nodes == 0 for s in listener.of("o1"))), log_file.read_text()
            reached = [s.last_node_id for s in listener.of("o1") if not s.errors]
            assert reached[-1] == f"c{route[-1]}"
            assert [n for n in reached if n != "c" + str(route[0])] == [f"c{c}" for c in route[1:]]
            end = listener.of("o1")[-1]
            assert (end.x, end.y, end.driving) == (*cell_centre(grid, route[-1], 2.0, (0.0, 0.0)), False)

            jump = order(grid, "igv-02", "o2", [route[-1], route[-1] + 5])        # not a neighbour
            assert send_until(publisher, jump, lambda: any(s.errors for s in listener.heard
                                                           if s.igv_id == "igv-02" and s.order_id == "o1"))
            error = next(s for s in listener.heard if s.errors and s.order_id == "o1")
            assert error.errors[0].startswith("order rejected: order o2")
            stranger = order(grid, "igv-99", "o3", [start])
            assert send_until(publisher, stranger, lambda: bool(listener.of("o3")))
            assert listener.of("o3")[0].errors == ("order rejected: unknown IGV igv-99",)

            back = path_from(grid, route[-1], 3)
            assert send_until(publisher, order(grid, "igv-02", "o4", back),
                              lambda: any(s.remaining_nodes == 0 for s in listener.of("o4"))), log_file.read_text()
            assert devices.poll() is None
        devices.send_signal(signal.SIGTERM)
        assert devices.wait(timeout=20) == 0
    finally:
        listener.close()
        for process in (devices, broker):
            if process.poll() is None:
                process.terminate()
                process.wait(10)
    output = log_file.read_text()
    assert "field devices: 4 IGVs, cranes crane-1, crane-2, crane-3" in output
    assert "field devices stopping" in output
    assert re.search(r"'rejected\.not_adjacent': [1-9]", output)       # a resent refused order is refused again
    assert re.search(r"'orders_finished': 2\b", output)

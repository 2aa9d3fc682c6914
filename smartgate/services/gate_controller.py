"""A lane's gate controller process: the reference field side, driving a simulated barrier.

It binds the lane's gate link endpoint (``bus.endpoints.gate_links[lane]``) with CURVE under its own key
``gate-<lane>``, admits the client keys of the site's key folder, and serves ``GateCommand`` until SIGTERM or
SIGINT. Barrier state changes and faults go to the log; its heartbeat and counters go to the site broker as
telemetry, as every service's do. ``open_gate_link`` is the matching clearance side.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from bus.heartbeat import HeartbeatConfig
from control.barrier import Barrier, BarrierConfig, BarrierState, SimulatedBarrier
from control.gate_controller import ControllerConfig, GateController, GateControllerServer
from control.gate_link import GateLink, GateLinkConfig
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import client_security, server_security

log = logging.getLogger(__name__)
STEP_S = 0.02
"""The longest the controller waits for a request before it ticks the barrier again."""
CLEARANCE = "clearance"


@dataclass(frozen=True)
class GateControllerOptions:
    """The process's knobs: heartbeat interval (the clearance side must use the same) and simulated travel."""

    heartbeat_s: float = 1.0
    travel_s: float = 2.0

    def __post_init__(self) -> None:
        if not (self.heartbeat_s > 0 and self.travel_s > 0):
            raise ValueError(f"heartbeat and travel times must be > 0 s, got {self.heartbeat_s}, {self.travel_s}")


def gate_component(lane_id: str) -> str:
    """The key name of a lane's gate controller (see ``Site.component_names``)."""
    return f"gate-{lane_id}"


def with_keys_dir(site: Site, keys_dir: Path | None) -> Site:
    """The site with its key folder replaced, for ``--keys``."""
    if keys_dir is None:
        return site
    return site.model_copy(update={"bus": site.bus.model_copy(update={"keys_dir": keys_dir.resolve()})})


def run(site: Site, stop: threading.Event, lane_id: str, options: GateControllerOptions | None = None) -> int:
    """Serve the lane's barrier until ``stop`` is set; 0 on a clean stop."""
    options = options or GateControllerOptions()
    lane = site.lane(lane_id)
    name = gate_component(lane.id)
    travel = BarrierConfig(opening_s=options.travel_s, closing_s=options.travel_s)
    barrier = Barrier(SimulatedBarrier(opening_s=travel.opening_s, closing_s=travel.closing_s), travel,
                      on_change=lambda old, new, why: _log_change(lane.id, old, new, why))
    controller = GateController(ControllerConfig(lane_id=lane.id), barrier)
    endpoint = site.bus.endpoints.gate_links[lane.id]
    with GateControllerServer(controller, endpoint, server_security(site, name),
                              heartbeat=HeartbeatConfig(interval_s=options.heartbeat_s), name=name) as server:
        log.info("gate controller %s: barrier %s serving %s, barrier %s", lane.id, lane.barrier, server.endpoint,
                 barrier.state.value)
        pulse = Pulse(site, name, "gate-controller", lambda: {k: float(v) for k, v in server.snapshot().items()})
        shown = ""
        try:
            while not stop.is_set():
                server.step(STEP_S)
                state = barrier.state.value
                pulse.tick(state=state, force=state != shown)  # every change at once: "open" may last < 1 s
                shown = state
        finally:
            pulse.close()
        log.info("gate controller %s stopping: %s", lane.id, server.snapshot())
    return 0


def open_gate_link(site: Site, lane_id: str, *, last_seq: int = 0, client_id: str | None = None,
                   config: GateLinkConfig | None = None) -> GateLink:
    """The clearance service's link to a lane's gate controller, under the ``clearance`` key."""
    lane = site.lane(lane_id)
    security = client_security(site, CLEARANCE, gate_component(lane.id))
    return GateLink(lane.id, site.bus.endpoints.gate_links[lane.id], security, client_id=client_id,
                    last_seq=last_seq, config=config)


def _log_change(lane_id: str, old: BarrierState, new: BarrierState, why: str) -> None:
    log.info("lane %s barrier %s -> %s (%s)", lane_id, old.value, new.value, why)

"""The field-device simulator as a service: ``python -m smartgate.services field-devices --site FILE``.

IGVs and cranes of the site's yard, simulated (`control.fieldsim.device_service.DeviceSimulator`) at ``speed`` ×
real time: `IGVCommand` orders and `CraneCommand`s come from the site broker, `IGVState` and crane `Telemetry` go
back to it, so a fleet adapter or the control room cannot tell them from real devices. The IGVs start on the yard
layout's parking spots (``igv-parking:*``, in name order); every IGV's state is also sent every few seconds, so a
subscriber that joined late learns where they are. Orders that are malformed or hostile are refused with an error
state and counted; the service keeps running.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import numpy as np

from bus.messages import AnyMessage, CraneCommand, IGVCommand, Message, now_utc
from bus.pubsub import Publisher
from bus.transport import subscription
from control.fieldsim.device_service import DeviceSimulator
from control.fieldsim.orders import cell_centre
from control.planning.grid_map import GridMap, MapError, grid_from_yard
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import event_subscriber
from yard.grid import build_grid
from yard.layout import LayoutError, YardLayout, load_layout

log = logging.getLogger(__name__)

NAME = "field-devices"
STEP_S = 0.005
"""The longest the service waits for a command before it advances the devices again."""
STATES_EVERY_S = 2.0
MAX_COMMANDS_PER_STEP = 1000
CELL_M = 2.0

_Receive = Callable[[float], AnyMessage | None]


def run(site: Site, stop: threading.Event, *, speed: float, igvs: int) -> int:
    """Simulate ``igvs`` IGVs and the yard's cranes until ``stop`` is set; 0 on a clean stop, 1 when the site has
    no usable yard or the arguments do not fit it."""
    try:
        simulator = build_simulator(site, igvs)
        if not (isinstance(speed, int | float) and math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
    except (LayoutError, MapError, ValueError) as exc:
        log.error("field devices cannot start: %s", exc)
        return 1
    pulse = Pulse(site, NAME, "field-devices", lambda: {k: float(v) for k, v in simulator.counters.items()})
    try:
        with event_subscriber(site, NAME, [subscription(IGVCommand), subscription(CraneCommand)]) as commands:
            log.info("field devices: %d IGVs, cranes %s, %.3g × real time", igvs,
                     ", ".join(sorted(simulator.cranes)) or "none", speed)
            _serve(simulator, commands.recv, pulse.publisher, pulse, stop, speed)
    finally:
        pulse.close()
    log.info("field devices stopping: %s", dict(simulator.counters))
    return 0


def build_simulator(site: Site, igvs: int) -> DeviceSimulator:
    """The site yard's IGVs on its parking spots and its cranes over their bays."""
    if site.yard is None or site.yard.layout is None:
        raise ValueError("the site has no yard layout (yard.layout)")
    layout = load_layout(site.yard.layout)
    yard = build_grid(layout, cell_m=CELL_M)
    grid = grid_from_yard(yard, name="yard")
    spots = sorted(name for name in grid.names if name.startswith("igv-parking:"))
    if isinstance(igvs, bool) or not isinstance(igvs, int) or not 1 <= igvs <= len(spots):
        raise ValueError(f"igvs must be 1..{len(spots)} (the yard's parking spots), got {igvs!r}")
    starts = np.array([grid.names[name] for name in spots[:igvs]], dtype=np.int32)
    ids = [f"igv-{i + 1:02d}" for i in range(igvs)]
    return DeviceSimulator(grid, ids, starts, cranes=_crane_positions(layout, grid, yard.origin), cell_m=CELL_M,
                           origin=yard.origin)


def _crane_positions(layout: YardLayout, grid: GridMap, origin: tuple[float, float]) -> dict[str, float]:
    """Each bay's crane, placed over the bay's transfer point (x along the rail, metres)."""
    return {zone.crane: cell_centre(grid, grid.names[zone.id], CELL_M, origin)[0]
            for zone in layout.zones if zone.crane is not None and zone.id in grid.names}


def _serve(simulator: DeviceSimulator, receive: _Receive, publisher: Publisher, pulse: Pulse,
           stop: threading.Event, speed: float) -> None:
    started = time.monotonic()
    next_states = started
    while not stop.is_set():
        out: list[Message] = []
        message = receive(STEP_S)
        for _ in range(MAX_COMMANDS_PER_STEP):
            if message is None:
                break
            out += simulator.handle(message, now_utc())
            message = receive(0.0)
        now = time.monotonic()
        out += simulator.advance((now - started) * speed)
        if now >= next_states:
            out += simulator.states()
            next_states = now + STATES_EVERY_S
        for reply in out:
            publisher.publish(reply)
        pulse.tick()

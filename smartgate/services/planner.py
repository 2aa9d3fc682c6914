"""The planner service process: IGV path plans on request, ``python -m smartgate.services planner --site FILE``.

It binds the site's planner endpoint (``bus.endpoints.planner``) with CURVE under the key ``planner`` (admitting the
client keys of the site's key folder) and answers `PlanRequest` with `PlanReply` (see `control.planning.service`).
Maps: ``yard``, built from the site's yard layout when it has one, and every ``*.map`` file of the folders given
as ``maps`` (by file stem). The numba planners are compiled before the socket is bound, so the first request is
as fast as the others. Its heartbeat and counters (replies by status) go to the site broker as telemetry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from control.planning.grid_map import GridMap, MapError, grid_from_yard
from control.planning.maps_registry import MapRegistry
from control.planning.service import PlannerOptions, PlannerService
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import server_security
from yard.grid import build_grid
from yard.layout import LayoutError, load_layout

log = logging.getLogger(__name__)

NAME = "planner"
STEP_S = 0.02
"""The longest the service waits for a request before it heartbeats again."""


@dataclass(frozen=True)
class PlannerProcessOptions:
    """``maps``: folders of MovingAI ``.map`` files served by stem; ``yard_cell_m``: the yard grid's cell size."""

    maps: tuple[Path, ...] = ()
    yard_cell_m: float = 2.0
    planner: PlannerOptions = field(default_factory=PlannerOptions)


def build_registry(site: Site, maps: Sequence[Path] = (), *, yard_cell_m: float = 2.0) -> MapRegistry:
    """The maps the service answers for: ``yard`` from the site's layout (if any) and the given folders."""
    yard: GridMap | None = None
    layout_path = site.yard.layout if site.yard is not None else None
    if layout_path is not None:
        yard = grid_from_yard(build_grid(load_layout(layout_path), cell_m=yard_cell_m), name="yard")
    return MapRegistry(maps, yard)


def run(site: Site, stop: threading.Event, options: PlannerProcessOptions | None = None) -> int:
    """Serve plans until ``stop`` is set; 0 on a clean stop, 1 when the maps cannot be loaded."""
    options = options or PlannerProcessOptions()
    try:
        registry = build_registry(site, options.maps, yard_cell_m=options.yard_cell_m)
    except (LayoutError, MapError, ValueError) as exc:
        log.error("planner cannot start: %s", exc)
        return 1
    with PlannerService(site.bus.endpoints.planner, registry, server_security(site, NAME), name=NAME,
                        options=options.planner) as service:
        log.info("planner serving %s, maps: %s", service.endpoint, ", ".join(registry.ids()) or "none")
        pulse = Pulse(site, NAME, "planner", service.metrics)
        try:
            while not stop.is_set():
                service.poll(STEP_S)
                pulse.tick()
        finally:
            pulse.close()
        log.info("planner stopping: %s", service.metrics())
    return 0

"""The site broker service: forwards events and telemetry from every publisher to every subscriber."""

from __future__ import annotations

import threading

from bus.broker import Broker
from smartgate.services.runtime import Pulse
from smartgate.site import Site
from smartgate.wiring import BROKER, server_security


def run(site: Site, stop: threading.Event) -> int:
    endpoints = site.bus.endpoints
    with Broker(endpoints.publish, endpoints.subscribe, server_security(site, BROKER)) as broker:
        pulse = Pulse(site, BROKER, "broker", lambda: {k: float(v) for k, v in broker.snapshot().items()})
        try:
            while not stop.is_set():
                broker.step(0.05)
                pulse.tick()
        finally:
            pulse.close()
    return 0

"""Free loopback ports for tests that start real servers and processes."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from typing import Any

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: every probe stays bound until all are chosen, so none is handed out twice."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def free_port() -> int:
    return free_ports(1)[0]


def loopback_endpoints(found: dict[str, Any]) -> None:
    """Move every bus endpoint and gate link of a site's ``bus.endpoints`` to its own fresh loopback port.

    Fresh ports for all of them, not only the ones a test uses: a port chosen at random can equal a fixed one
    left from the bundled site, and the site loader rightly refuses two endpoints on one port.
    """
    lanes = list(found.get("gate_links", {}))
    names = ["publish", "subscribe", "clearance", "planner"]
    ports = iter(free_ports(len(names) + len(lanes)))
    for name in names:
        found[name] = f"tcp://{LOOPBACK}:{next(ports)}"
    found["gate_links"] = {lane: f"tcp://{LOOPBACK}:{next(ports)}" for lane in lanes}

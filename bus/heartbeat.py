"""Heartbeats and peer liveness, as in the zguide's Paranoid Pirate: interval 1 s, liveness 3.

A peer that has sent nothing for ``liveness`` intervals is declared lost, and the owner is told through a
callback so that it can fail safe (a gate controller closes its barrier). Any traffic from a peer counts as a
heartbeat. The clock is injected so that tests drive time instead of sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bus.messages import Heartbeat

Clock = Callable[[], float]
PeerCallback = Callable[[str, bool], None]
"""Called as ``callback(peer, alive)`` when a peer is first heard (True) or declared lost (False)."""


@dataclass(frozen=True)
class HeartbeatConfig:
    """How often to beat and how many silent intervals make a peer lost."""

    interval_s: float = 1.0
    liveness: int = 3

    def __post_init__(self) -> None:
        if not self.interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {self.interval_s}")
        if self.liveness < 1:
            raise ValueError(f"liveness must be >= 1, got {self.liveness}")

    @property
    def expiry_s(self) -> float:
        """Silence after which a peer is lost."""
        return self.interval_s * self.liveness


class PeerLiveness:
    """Tracks when each peer was last heard and which are alive; bounded to ``max_peers``."""

    def __init__(self, config: HeartbeatConfig, on_change: PeerCallback | None = None, *,
                 clock: Clock = time.monotonic, max_peers: int = 1024) -> None:
        self.config = config
        self._on_change = on_change
        self._clock = clock
        self._max_peers = max_peers
        self._last_heard: OrderedDict[str, float] = OrderedDict()
        self._alive: dict[str, bool] = {}

    def beat(self, peer: str) -> None:
        """Record traffic from ``peer``; announces it alive if it was new or lost."""
        self._last_heard[peer] = self._clock()
        self._last_heard.move_to_end(peer)
        if not self._alive.get(peer, False):
            self._alive[peer] = True
            self._notify(peer, True)
        self._evict()

    def check(self) -> list[str]:
        """Declare lost every peer silent for too long; returns those newly lost."""
        deadline = self._clock() - self.config.expiry_s
        lost = [peer for peer, heard in self._last_heard.items() if heard < deadline and self._alive[peer]]
        for peer in lost:
            self._alive[peer] = False
            self._notify(peer, False)
        return lost

    def is_alive(self, peer: str) -> bool:
        """True only for a peer heard within the expiry: an unknown peer is not alive (fail safe)."""
        return self._alive.get(peer, False)

    def state(self) -> dict[str, bool]:
        return dict(self._alive)

    def _notify(self, peer: str, alive: bool) -> None:
        if self._on_change is not None:
            self._on_change(peer, alive)

    def _evict(self) -> None:
        while len(self._last_heard) > self._max_peers:
            peer, _ = self._last_heard.popitem(last=False)
            self._alive.pop(peer, None)


StatusFn = Callable[[], tuple[Literal["ok", "degraded", "fault"], str]]
"""This side's health for its heartbeats: status and a short detail (a barrier controller reports its faults)."""


class HeartbeatSender:
    """Makes this side's ``Heartbeat`` messages when one is due, with an increasing sequence number."""

    def __init__(self, sender: str, role: str, config: HeartbeatConfig, *, clock: Clock = time.monotonic,
                 status: StatusFn | None = None) -> None:
        self.sender = sender
        self.role = role
        self.config = config
        self._clock = clock
        self._status = status
        self._seq = 0
        self._next_due = clock()

    def due(self) -> bool:
        return self._clock() >= self._next_due

    def next_message(self) -> Heartbeat:
        """The next heartbeat; the following one falls due one interval from now."""
        self._seq += 1
        self._next_due = self._clock() + self.config.interval_s
        status, detail = self._status() if self._status is not None else ("ok", "")
        return Heartbeat(sender=self.sender, role=self.role, seq=self._seq, status=status, detail=detail)

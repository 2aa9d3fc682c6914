"""The day simulation's event queue: (time, order of scheduling) so that equal times run first-come first-served."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

__all__ = ["Event", "EventQueue"]


@dataclass(frozen=True, slots=True)
class Event:
    """Something due at ``t``: ``kind`` names the handler, ``key`` what it is about (truck, crane, IGV, fault)."""

    t: float
    kind: str
    key: str = ""
    token: int = 0       # a crane move's number, so a move aborted by a fault does not finish later


@dataclass
class EventQueue:
    _heap: list[tuple[float, int, Event]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, event: Event) -> None:
        heapq.heappush(self._heap, (event.t, next(self._order), event))

    def due(self, t: float) -> list[Event]:
        """Every event at or before ``t``, in order (handlers may push more; call again to get those)."""
        out: list[Event] = []
        while self._heap and self._heap[0][0] <= t:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

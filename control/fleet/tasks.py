"""A task for the fleet: bring an IGV to a pickup cell by the time the crane can serve it there."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """``pickup``: the grid cell the IGV must reach; ``ready_s``: when the crane can serve it there (simulated
    seconds), so the IGV should not arrive much earlier and block the transfer point."""

    task_id: str
    pickup: int
    ready_s: float = 0.0

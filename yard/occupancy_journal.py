"""Yard state in the durable journal: publishing occupancy updates and reading back what rebuilds the state.

The journal is the one source after a restart: the tracker's slot states come back from its `OccupancyUpdate`
messages, the inventory's stacks from those plus the journalled `CraneCommand` and `VehiclePassage` messages, all
in journal order. Corrupt rows are skipped and counted by the journal itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bus.journal import Journal
from bus.messages import CraneCommand, OccupancyUpdate, VehiclePassage

YardEvent = OccupancyUpdate | CraneCommand | VehiclePassage


def record_updates(journal: Journal, updates: Sequence[OccupancyUpdate]) -> list[int]:
    """Journal a frame's updates in one transaction (all or none); returns their seqs."""
    return journal.append_many(updates)


def replay_updates(journal: Journal, after_seq: int = 0) -> Iterator[OccupancyUpdate]:
    """Every journalled `OccupancyUpdate` after ``after_seq``, in journal order."""
    for entry in journal.replay(after_seq, types=OccupancyUpdate):
        if isinstance(entry.message, OccupancyUpdate):
            yield entry.message


def replay_yard_events(journal: Journal, after_seq: int = 0) -> Iterator[YardEvent]:
    """Occupancy updates, crane commands and gate passages after ``after_seq``, interleaved in journal order."""
    for entry in journal.replay(after_seq, types=(OccupancyUpdate, CraneCommand, VehiclePassage)):
        if isinstance(entry.message, OccupancyUpdate | CraneCommand | VehiclePassage):
            yield entry.message

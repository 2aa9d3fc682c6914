"""Journal throughput and latency on SQLite: durable single appends, batched appends, queries and replay.

A single append at ``synchronous=FULL`` pays one fsync of the WAL, so it measures the disk more than the code;
NORMAL is shown beside it for scale. ``append_many`` pays one fsync per batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.journal import Journal
from bus.journal_sql import SynchronousMode
from bus.messages import GateCommand, Heartbeat

pytestmark = pytest.mark.benchmark(group="journal")

T0 = 1_795_000_000.0
BATCH = 1000
STORED = 20_000
LANES = ("in-1", "in-2", "in-3", "out-1", "out-2", "out-3")


def _command(index: int) -> GateCommand:
    return GateCommand(id=f"cmd-{index}", ts_utc=T0 + index, command_id=f"c-{index}", lane_id=LANES[index % 6],
                       passage_id=f"p-{index}", action="OPEN", seq=index, expires_utc=T0 + index + 5)


def _heartbeat(index: int) -> Heartbeat:
    return Heartbeat(id=f"hb-{index}", ts_utc=T0 + index, sender="gate-in-1", role="gate-controller", seq=index)


def _per_second(benchmark, items_per_call: int) -> None:
    """Record items/s beside the timing, when the benchmark ran (not under --benchmark-disable)."""
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean > 0:
        benchmark.extra_info["items_per_s"] = round(items_per_call / stats.stats.mean)


@pytest.fixture
def empty_journal(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Journal]:
    synchronous: SynchronousMode = getattr(request, "param", "FULL")
    with Journal.open(tmp_path / "bench.sqlite", synchronous=synchronous) as journal:
        yield journal


@pytest.fixture(scope="module")
def stored_journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    """A journal holding STORED messages, mixed gate commands and heartbeats over six lanes."""
    path = tmp_path_factory.mktemp("journal") / "stored.sqlite"
    with Journal.open(path) as journal:
        for start in range(0, STORED, BATCH):
            journal.append_many([_command(i) if i % 4 else _heartbeat(i) for i in range(start, start + BATCH)])
        yield journal


@pytest.mark.parametrize("empty_journal", ["FULL", "NORMAL"], indirect=True)
def test_append_single(benchmark, empty_journal: Journal) -> None:
    counter = itertools.count()
    seq = benchmark(lambda: empty_journal.append(_heartbeat(next(counter))))
    assert seq == empty_journal.last_seq()
    _per_second(benchmark, 1)


def test_append_many_batch_of_1000(benchmark, empty_journal: Journal) -> None:
    counter = itertools.count()

    def append_batch() -> list[int]:
        start = next(counter) * BATCH
        return empty_journal.append_many([_heartbeat(i) for i in range(start, start + BATCH)])

    seqs = benchmark(append_batch)
    assert len(seqs) == BATCH
    _per_second(benchmark, BATCH)


def test_query_lane_type_time_window(benchmark, stored_journal: Journal) -> None:
    entries = benchmark(lambda: stored_journal.query(types=GateCommand, lane="in-2", since_utc=T0 + 5000,
                                                     until_utc=T0 + 8000, limit=100))
    assert len(entries) == 100
    assert all(e.lane == "in-2" for e in entries)


def test_query_newest_100(benchmark, stored_journal: Journal) -> None:
    entries = benchmark(lambda: stored_journal.query(limit=100, newest_first=True))
    assert entries[0].seq == stored_journal.last_seq()


def test_get_by_key(benchmark, stored_journal: Journal) -> None:
    entry = benchmark(stored_journal.get, "cmd-12345")
    assert entry is not None
    assert entry.key == "cmd-12345"


def test_replay_all(benchmark, stored_journal: Journal) -> None:
    count = benchmark.pedantic(lambda: sum(1 for _ in stored_journal.replay(batch_size=1000)), rounds=3)
    assert count == STORED
    _per_second(benchmark, STORED)

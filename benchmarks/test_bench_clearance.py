"""Clearance end to end (issue 4): passage in → decision → OPEN acknowledged by the barrier controller.

CurveZMQ on, loopback, the controller a real `smartgate gate-controller` process, the journal a real SQLite file
at ``synchronous=FULL``; see `benchmarks/clearance_load.py` for what each stage covers. One round is one passage,
so the table's median is the median latency and its ops/s the passages per second of latency alone; the
passages/s in the notes count the whole loop (stamping each passage, heartbeats). Target: p99 under 10 ms.

With `make bench` it clears FULL_PASSAGES passages; under `--benchmark-disable` (`make test`) QUICK_PASSAGES, as a
smoke test of the same path.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.clearance_load import ClearancePlant
from bus.messages import GateAck, VehiclePassage

pytestmark = [pytest.mark.benchmark(group="clearance"), pytest.mark.timeout(1800)]

FULL_PASSAGES = 10_000
QUICK_PASSAGES = 200
WARM_UP = 100


def test_bench_passage_to_open_ack(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    passages = FULL_PASSAGES if benchmark.enabled else QUICK_PASSAGES
    warm_up = WARM_UP if benchmark.enabled else 10
    with ClearancePlant(tmp_path, passages + warm_up) as plant:
        plant.warm_up(warm_up)
        if benchmark.enabled:
            started = time.perf_counter_ns()
            benchmark.pedantic(plant.clear, setup=lambda: ((plant.next_passage(),), {}),  # type: ignore[no-untyped-call]
                               rounds=passages)
            plant.measured_by(started)
        else:  # pedantic calls its target once when disabled
            benchmark.pedantic(plant.run, args=(passages,))  # type: ignore[no-untyped-call]
        summary = plant.summary()
        acks = plant.journal.query(types=GateAck, limit=passages + warm_up + 1)
        latest = plant.journal.query(types=VehiclePassage, newest_first=True, limit=1)

    assert summary["passages"] == passages
    assert plant.engine.counters["gate.OPEN.accepted"] == passages + warm_up
    assert len(acks) == passages + warm_up
    assert all(isinstance(entry.message, GateAck) and entry.message.accepted for entry in acks)
    assert latest
    assert isinstance(latest[0].message, VehiclePassage)
    assert latest[0].message.passage_id == f"bench-{passages + warm_up - 1:06d}"
    benchmark.extra_info.update(summary)

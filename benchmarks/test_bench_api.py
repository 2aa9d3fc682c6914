"""The lane-state route under load (issue 8): the real `api` service process on loopback, a load generator process
with N keep-alive connections, each request carrying a bearer token. Target: 1,000 requests/s with p99 < 50 ms.
See `benchmarks/api_load.py` for what is measured and why.

With `make bench` it runs FULL_S seconds on FULL_CONNECTIONS connections; under `--benchmark-disable` (`make
test`) QUICK_S seconds on QUICK_CONNECTIONS, as a smoke test of the same path. The throughput and latency figures
are in the benchmark's extra info (its own timing is of the whole run, one round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.api_load import ApiPlant

pytestmark = [pytest.mark.benchmark(group="api"), pytest.mark.timeout(600)]

FULL_S, FULL_CONNECTIONS = 10.0, 16
QUICK_S, QUICK_CONNECTIONS = 1.0, 4


def test_bench_lane_state_route(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    duration, connections = (FULL_S, FULL_CONNECTIONS) if benchmark.enabled else (QUICK_S, QUICK_CONNECTIONS)
    results: list[dict[str, Any]] = []
    with ApiPlant(tmp_path) as plant:
        benchmark.pedantic(lambda: results.append(plant.load(connections, duration)), rounds=1)  # type: ignore[no-untyped-call]
        assert plant.exit_code is None, plant.log_file.read_text()
    result = results[0]
    assert result["errors"] == 0, result
    assert result["requests"] > 0
    assert result["statuses"] == {"200": result["requests"]}
    benchmark.extra_info.update(result)

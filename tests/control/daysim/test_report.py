"""The day's report as JSON and text, its quantiles, and the PNG of the day."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from control.daysim.plot import plot_day
from control.daysim.report import SimReport, time_quantiles

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUIRED_KEYS = {"trucks_arrived", "trucks_completed", "containers_moved", "time_in_system_s", "max_queue",
                 "crane_utilisation", "igv_utilisation", "collisions", "deadlocks", "wall_s"}


def a_report(hours: int = 24) -> SimReport:
    hour = np.arange(hours)
    arrivals = (100 + 80 * np.sin(hour / 24 * 2 * np.pi)).round()
    return SimReport(
        trucks_arrived=int(arrivals.sum()), trucks_completed=int(arrivals.sum()) - 12, containers_moved=2950,
        time_in_system_s={"p50": 1320.0, "p95": 2890.5}, max_queue=37, crane_utilisation=0.71,
        igv_utilisation=np.float64(0.642), collisions=0, deadlocks=0, wall_s=41.2,
        jobs_created=2950, jobs_ended=2940, jobs_open=10, faults={"igv_breakdown": 2, "crane_stop": 1},
        hourly={"arrivals": arrivals.tolist(), "completed": (arrivals - 2).tolist(),
                "queue": (arrivals / 10).tolist(), "igv_busy": np.linspace(0.2, 0.9, hours).tolist(),
                "crane_busy": np.linspace(0.1, 0.8, hours).tolist()},
        config={"trucks_per_day": 2400.0, "journal": Path("/tmp/day.sqlite"), "process": "smartgate",
                "nan": float("nan"), "cranes": np.int64(3)})


def test_to_json_has_the_issue_keys_and_round_trips() -> None:
    data = a_report().to_json()
    assert data.keys() >= REQUIRED_KEYS
    assert {"jobs_created", "jobs_ended", "jobs_open", "faults", "hourly", "config"} <= data.keys()
    assert data["time_in_system_s"] == {"p50": 1320.0, "p95": 2890.5}
    decoded = json.loads(json.dumps(data, allow_nan=False))
    assert decoded["igv_utilisation"] == pytest.approx(0.642)
    assert decoded["config"] == {"trucks_per_day": 2400.0, "journal": "/tmp/day.sqlite", "process": "smartgate",
                                 "nan": None, "cranes": 3}
    assert len(decoded["hourly"]["arrivals"]) == 24


def test_summary_is_a_few_readable_lines() -> None:
    text = a_report().summary()
    lines = text.splitlines()
    assert 3 <= len(lines) <= 8
    assert "completed" in text
    assert "p95 48.2 min" in text
    assert "max queue 37" in text
    assert "IGVs 64 %" in text
    assert "0 collisions, 0 deadlocks" in text
    assert "igv_breakdown 2" in text


def test_summary_of_an_empty_day() -> None:
    report = SimReport(0, 0, 0, time_quantiles([]), 0, 0.0, 0.0, 0, 0, 0.1)
    assert "0 arrived" in report.summary()
    assert report.completed_share == 1.0
    assert json.loads(json.dumps(report.to_json()))["time_in_system_s"] == {"p50": 0.0, "p95": 0.0}


def test_time_quantiles() -> None:
    values = list(range(1, 101))
    q = time_quantiles(values)
    assert q["p50"] == pytest.approx(50.5)
    assert q["p95"] == pytest.approx(95.05)
    assert time_quantiles([7.0]) == {"p50": 7.0, "p95": 7.0}


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == PNG_SIGNATURE
    assert header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_plot_day_writes_a_real_png(tmp_path: Path) -> None:
    path = plot_day(a_report(), tmp_path / "plots" / "day.png")
    assert path == tmp_path / "plots" / "day.png"
    assert png_size(path) == (1000, 800)
    assert 20_000 < path.stat().st_size < 2_000_000
    assert path.read_bytes().endswith(b"IEND\xaeB`\x82")


def test_plot_day_without_hourly_series(tmp_path: Path) -> None:
    report = SimReport(0, 0, 0, time_quantiles([]), 0, 0.0, 0.0, 0, 0, 0.1)
    path = plot_day(report, tmp_path / "empty.png")
    assert png_size(path) == (1000, 800)

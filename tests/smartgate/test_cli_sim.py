"""`smartgate simulate` and `smartgate capacity` as real processes: JSON and human output, the plot, the job
journal, one-line errors for bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bus.journal import Journal
from bus.messages import JobUpdate

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "smartgate"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORT_KEYS = {"trucks_arrived", "trucks_completed", "containers_moved", "time_in_system_s", "max_queue",
               "crane_utilisation", "igv_utilisation", "collisions", "deadlocks", "wall_s"}


def smartgate(*args: str | Path, module: bool = False, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run the command from the repository root: the installed console script, or ``python -m smartgate.cli``."""
    head = [sys.executable, "-m", "smartgate.cli"] if module or not SCRIPT.exists() else [str(SCRIPT)]
    return subprocess.run([*head, *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          check=False)


def only_json(stdout: str) -> dict[str, object]:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    parsed = json.loads(lines[0])
    assert isinstance(parsed, dict)
    return parsed


@pytest.mark.parametrize("module", [False, True],
                         ids=["script", "module"])
def test_help_lists_both_commands(module: bool) -> None:
    done = smartgate("--help", module=module)
    assert done.returncode == 0, done.stderr
    assert "simulate" in done.stdout
    assert "capacity" in done.stdout


@pytest.mark.parametrize("module", [False, True],
                         ids=["script", "module"])
def test_simulate_prints_one_json_report_and_writes_the_plot(tmp_path: Path, module: bool) -> None:
    plot = tmp_path / "day.png"
    journal = tmp_path / "jobs.sqlite"
    done = smartgate("simulate", "--trucks-per-day", "400", "--hours", "1", "--igvs", "10", "--json",
                     "--plot", plot, "--journal", journal, module=module)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = only_json(done.stdout)
    assert set(report) >= REPORT_KEYS
    times = report["time_in_system_s"]
    assert isinstance(times, dict)
    assert set(times) == {"p50", "p95"}
    assert 0.0 <= times["p50"] <= times["p95"]
    assert report["collisions"] == 0
    assert report["deadlocks"] == 0
    arrived, completed = report["trucks_arrived"], report["trucks_completed"]
    assert isinstance(arrived, int)
    assert isinstance(completed, int)
    assert 0 <= completed <= arrived
    for key in ("crane_utilisation", "igv_utilisation"):
        value = report[key]
        assert isinstance(value, float | int), key
        assert 0.0 <= value <= 1.0, key
    assert report["plot"] == str(plot)
    assert plot.read_bytes().startswith(PNG_SIGNATURE)
    with Journal.open(journal) as opened:
        jobs = {entry.message.job_id for entry in opened.replay(types=JobUpdate)
                if isinstance(entry.message, JobUpdate)}
    assert len(jobs) == report["jobs_created"]


def test_simulate_without_json_prints_a_summary(tmp_path: Path) -> None:
    plot = tmp_path / "plots" / "summary.png"          # a folder that does not exist yet
    done = smartgate("simulate", "--trucks-per-day", "300", "--hours", "1", "--igvs", "8", "--cranes", "2",
                     "--seed", "3", "--plot", plot)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert not text.lstrip().startswith("{")
    for words in ("trucks:", "arrived", "time in system", "utilisation", "0 collisions, 0 deadlocks",
                  f"plot: {plot}"):
        assert words in text, words
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_simulate_takes_the_yard_size_it_is_given(tmp_path: Path) -> None:
    """Cranes, Chinese transfer points and stands reach the simulated site (the report echoes its config)."""
    done = smartgate("simulate", "--trucks-per-day", "600", "--hours", "1", "--igvs", "12", "--cranes", "4",
                     "--china-points", "2", "--stands", "8", "--json", "--plot", tmp_path / "day.png")
    assert done.returncode == 0, done.stderr
    config = only_json(done.stdout)["config"]
    assert isinstance(config, dict)
    assert (config["cranes"], config["china_points"], config["stands_per_bay"]) == (4, 2, 8)


@pytest.mark.parametrize(("args", "message"), [
    (["simulate", "--trucks-per-day", "-5"], "trucks_per_day"),
    (["simulate", "--trucks-per-day", "400", "--china-points", "0"], "china_points"),
    (["simulate", "--trucks-per-day", "400", "--stands", "9"], "stands_per_bay"),
    (["simulate", "--trucks-per-day", "400", "--cranes", "0"], "cranes"),
    (["capacity", "--hours", "1", "--low", "400", "--high", "100"], "high must be above low"),
])     # every SimConfig limit is checked in-process by tests/control/daysim/test_engine.py
def test_bad_values_exit_with_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    plot = tmp_path / "never.png"
    plot_args: list[str | Path] = ["--plot", plot] if args[0] == "simulate" else []
    done = smartgate(*args, *plot_args)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("smartgate: error: ")
    assert message in lines[0]
    assert "unexpected" not in lines[0]               # read as bad input, not as a bug
    assert not plot.exists()


@pytest.mark.parametrize("args", [
    ["simulate"],                                          # --trucks-per-day is required
    ["simulate", "--trucks-per-day", "many"],
    ["simulate", "--trucks-per-day", "400", "--process", "paper"],
    ["capacity", "--low", "x"],
])
def test_malformed_arguments_are_usage_errors(args: list[str]) -> None:
    done = smartgate(*args)
    assert done.returncode == 2
    assert "usage:" in done.stderr
    assert "Traceback" not in done.stderr


def test_capacity_prints_the_search_as_json() -> None:
    done = smartgate("capacity", "--hours", "1", "--igvs", "8", "--seed", "2", "--low", "100", "--high", "200",
                     "--step", "100", "--json")
    assert done.returncode == 0, done.stderr
    result = only_json(done.stdout)
    assert {"trucks_per_day", "tried"} <= set(result)
    assert (result["igvs"], result["cranes"], result["process"], result["hours"]) == (8, 3, "smartgate", 1.0)
    tried = result["tried"]
    assert isinstance(tried, list)
    assert tried
    assert all(set(step) == {"trucks_per_day", "sustained"} and 100 <= step["trucks_per_day"] <= 200
               for step in tried)
    best = result["trucks_per_day"]
    sustained = [step["trucks_per_day"] for step in tried if step["sustained"]]
    assert best == (max(sustained) if sustained else 0)
    assert len(done.stderr.strip().splitlines()) == len(tried)   # one progress line per simulated day


def test_capacity_prints_a_sentence_without_json() -> None:
    done = smartgate("capacity", "--hours", "1", "--igvs", "8", "--cranes", "2", "--process", "manual",
                     "--low", "100", "--high", "200", "--step", "100")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("manual: 2 cranes, 8 IGVs sustain ")
    assert "trucks/day (95% within 60 min)" in done.stdout


def test_capacity_obeys_max_p95_min() -> None:
    """No truck gets through the gate and the yard in a minute, so nothing is sustainable at --max-p95-min 1."""
    done = smartgate("capacity", "--hours", "1", "--igvs", "8", "--seed", "2", "--low", "100", "--high", "200",
                     "--step", "100", "--max-p95-min", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert "not sustained" in done.stderr
    result = only_json(done.stdout)
    assert result["trucks_per_day"] == 0
    assert all(not step["sustained"] for step in result["tried"])  # type: ignore[attr-defined]

"""`run_plan`, the body of ``smartgate plan``: one JSON line, the paths file, one-line errors with exit codes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from control.planning.command import run_plan
from control.planning.grid_map import load_movingai_map
from control.planning.service import warm_up
from control.planning.validate import validate

SHARED_MAPS = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "maps"
KEYS = {"solved", "agents", "makespan", "sum_of_costs", "runtime_ms", "valid", "algo", "map"}

# A 12 × 7 map, wider than high, walls placed off the diagonal so that swapping x and y lands on a wall.
ROWS = [
    "............",
    ".@@@@@@..@..",
    "......@..@..",
    "..@...@.....",
    "..@.....@@@.",
    "..@@@.......",
    "............",
]


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    """Numba compiles on first use, which no deadline bounds: before the timed runs."""
    warm_up()


def write_map(folder: Path, rows: list[str] = ROWS, name: str = "small.map") -> Path:
    path = folder / name
    path.write_text(f"type octile\nheight {len(rows)}\nwidth {len(rows[0])}\nmap\n" + "\n".join(rows) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], map_path: Path, *, scen: Path | None = None, agents: int = 10,
        seed: int = 0, algo: str = "lacam", deadline_ms: float = 2000.0,
        out: Path | None = None) -> tuple[int, str, str]:
    code = run_plan(map_path, scen, agents, seed, algo, deadline_ms, out)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cells_of(paths: list[list[list[int]]], width: int) -> np.ndarray:
    """The --out file's per-agent [x, y] lists as a (T + 1, N) array of cell ids."""
    xy = np.asarray(paths, dtype=np.int64)           # (N, T + 1, 2)
    return (xy[:, :, 1] * width + xy[:, :, 0]).T.astype(np.int32)


@pytest.mark.parametrize("algo", ["pibt", "lacam"])
def test_random_instance_prints_one_json_object_and_writes_valid_paths(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], algo: str) -> None:
    map_path, out = write_map(tmp_path), tmp_path / "paths.json"
    code, stdout, stderr = run(capsys, map_path, agents=12, seed=3, algo=algo, out=out)

    assert (code, stderr) == (0, "")
    lines = stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == KEYS
    assert (result["solved"], result["valid"], result["agents"], result["algo"]) == (True, True, 12, algo)
    assert result["map"] == "small"
    assert 0 < result["makespan"] <= result["sum_of_costs"] <= 12 * result["makespan"]
    assert result["runtime_ms"] >= 0.0

    paths = json.loads(out.read_text())["paths"]
    assert len(paths) == 12
    assert {len(p) for p in paths} == {result["makespan"] + 1}
    for path in paths:   # x is the column and y the row of the map file: every cell named is free there
        assert all(ROWS[y][x] == "." for x, y in path)
    grid = load_movingai_map(map_path)
    plan = cells_of(paths, grid.width)
    assert validate(grid, plan[0], plan[-1], plan) == []


def test_same_seed_same_plan_other_seed_other_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    map_path = write_map(tmp_path)
    plans = []
    for seed, name in ((5, "a.json"), (5, "b.json"), (6, "c.json")):
        assert run(capsys, map_path, agents=8, seed=seed, out=tmp_path / name)[0] == 0
        plans.append(json.loads((tmp_path / name).read_text())["paths"])
    assert plans[0] == plans[1]
    assert plans[0] != plans[2]


@pytest.mark.skipif(not SHARED_MAPS.is_dir(), reason="shared benchmark maps not present")
def test_scenario_file_gives_the_starts_and_goals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "paths.json"
    code, stdout, _ = run(capsys, SHARED_MAPS / "random-32-32-10.map",
                          scen=SHARED_MAPS / "random-32-32-10-random-1.scen", agents=50, out=out)
    assert code == 0
    assert json.loads(stdout)["solved"] is True
    rows = [line.split("\t") for line in (SHARED_MAPS / "random-32-32-10-random-1.scen").read_text().splitlines()[1:51]]
    paths = json.loads(out.read_text())["paths"]
    assert [p[0] for p in paths] == [[int(r[4]), int(r[5])] for r in rows]
    assert [p[-1] for p in paths] == [[int(r[6]), int(r[7])] for r in rows]


@pytest.mark.skipif(not SHARED_MAPS.is_dir(), reason="shared benchmark maps not present")
def test_a_deadline_too_short_still_prints_a_valid_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "paths.json"
    code, stdout, _ = run(capsys, SHARED_MAPS / "maze-32-32-2.map", agents=300, seed=1, deadline_ms=0.05, out=out)
    result = json.loads(stdout)
    assert code == 0
    assert result["valid"] is True
    assert result["runtime_ms"] < 50.0
    grid = load_movingai_map(SHARED_MAPS / "maze-32-32-2.map")
    plan = cells_of(json.loads(out.read_text())["paths"], grid.width)
    assert validate(grid, plan[0], plan[-1], plan, require_goals=False) == []


BAD_MAP = "type octile\nheight 2\nwidth 3\nmap\n...\n"


@pytest.mark.parametrize(
    ("case", "agents", "algo", "deadline_ms", "code", "message"),
    [
        ("missing-map", 2, "lacam", 100.0, 1, "missing.map"),
        ("truncated-map", 2, "lacam", 100.0, 1, "bad.map"),
        ("too-many-agents", 67, "lacam", 100.0, 1, "67 agents do not fit on 66 free cells"),
        ("zero-deadline", 2, "lacam", 0.0, 1, "--deadline-ms must be in"),
        ("negative-deadline", 2, "pibt", -5.0, 1, "--deadline-ms must be in"),
        ("nan-deadline", 2, "pibt", math.nan, 1, "--deadline-ms must be in"),
        ("unknown-algo", 2, "astar", 100.0, 2, "unknown algorithm 'astar'"),
        ("no-agents", 0, "lacam", 100.0, 2, "--agents must be at least 1"),
    ],
)
def test_errors_are_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, agents: int,
                                       algo: str, deadline_ms: float, code: int, message: str) -> None:
    map_path = {"missing-map": tmp_path / "missing.map", "truncated-map": tmp_path / "bad.map"}.get(case)
    if map_path is None:
        map_path = write_map(tmp_path)
    elif case == "truncated-map":
        map_path.write_text(BAD_MAP)
    out = tmp_path / "paths.json"
    result = run(capsys, map_path, agents=agents, algo=algo, deadline_ms=deadline_ms, out=out)
    assert result[:2] == (code, "")
    stderr = result[2]
    assert stderr.startswith("smartgate: error: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert message in stderr
    assert not out.exists()


def test_unwritable_out_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = run(capsys, write_map(tmp_path), agents=3, out=tmp_path / "no-such-dir" / "paths.json")
    assert (code, stdout) == (1, "")
    assert "cannot write the paths" in stderr
    assert stderr.count("\n") == 1

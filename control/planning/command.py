"""The body of ``smartgate plan``: solve one instance from files, check it, print one JSON line.

The CLI (`smartgate/cli.py`) parses the arguments and calls `run_plan`; everything after that lives here so that
the command and the tests share one code path. The plan is validated by `control.planning.validate` before
anything is printed or written: a plan with a conflict is never reported as a result.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from control.planning.grid_map import GridMap, MapError, load_movingai_map, load_movingai_scen, random_instance
from control.planning.lacam import solve_lacam
from control.planning.pibt import solve_pibt
from control.planning.result import InstanceError, PlanResult
from control.planning.service import warm_up
from control.planning.validate import validate

log = logging.getLogger(__name__)

ALGOS = ("pibt", "lacam")
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
MAX_DEADLINE_MS = 600_000.0


class PlanCommandError(ValueError):
    """An input the command cannot use; ``str()`` is the one line printed on stderr."""


def run_plan(map_path: Path, scen: Path | None, agents: int, seed: int, algo: str, deadline_ms: float,
             out: Path | None) -> int:
    """Solve, validate, print ``{"solved", "agents", "makespan", "sum_of_costs", "runtime_ms", ...}``.

    Exit status: 0 when a valid plan was printed (``"solved"`` says whether every agent reached its goal in time),
    1 for an input that cannot be used (bad map or scenario, too many agents, bad deadline, an unwritable
    ``--out``), 2 for a usage error (unknown algorithm, fewer than one agent, a negative seed).
    """
    usage = _usage_problem(agents, seed, algo)
    if usage is not None:
        return _fail(usage, EXIT_USAGE)
    try:
        deadline_s = _deadline(deadline_ms)
        grid = load_movingai_map(map_path)
        starts, goals = _instance(grid, scen, agents, seed)
        result = _solve(grid, starts, goals, algo, seed, deadline_s)
    except (MapError, InstanceError, PlanCommandError) as exc:
        return _fail(str(exc), EXIT_ERROR)
    violations = validate(grid, starts, goals, result.paths, require_goals=result.solved)
    if violations:  # a planner bug: say so, and never hand the plan on
        first = violations[0]
        return _fail(f"plan failed validation: {len(violations)} violation(s), first {first.kind} of agent "
                     f"{first.agent} at t={first.t} {first.detail}".rstrip(), EXIT_ERROR)
    if out is not None:
        try:
            write_paths(out, grid, result.paths)
        except OSError as exc:
            return _fail(f"{out}: cannot write the paths: {exc.strerror or exc}", EXIT_ERROR)
    print(json.dumps(summary(result, agents=len(starts), grid=grid)))
    return EXIT_OK


def summary(result: PlanResult, *, agents: int, grid: GridMap) -> dict[str, object]:
    """The one JSON object the command prints (the plan has been validated when this is called)."""
    return {"solved": result.solved, "agents": agents, "makespan": result.makespan,
            "sum_of_costs": result.sum_of_costs, "runtime_ms": round(result.runtime_ms, 3), "valid": True,
            "algo": result.algo, "map": grid.name}


def paths_as_xy(grid: GridMap, paths: np.ndarray) -> list[list[list[int]]]:
    """(T + 1, N) cells -> per agent, its [x, y] at every step (x the column, y the row of the map file)."""
    steps, agents = paths.shape
    xy = grid.xy(paths.T.reshape(-1)).reshape(agents, steps, 2)
    as_list: list[list[list[int]]] = xy.astype(np.int64).tolist()
    return as_list


def write_paths(out: Path, grid: GridMap, paths: np.ndarray) -> None:
    """Write ``{"paths": [[[x, y], ...] per agent]}`` atomically (a reader never sees half a file)."""
    out = Path(out)
    text = json.dumps({"paths": paths_as_xy(grid, paths)}, separators=(",", ":"))
    handle, temporary = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", prefix=f".{out.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _usage_problem(agents: int, seed: int, algo: str) -> str | None:
    if algo not in ALGOS:
        return f"unknown algorithm {algo!r} (expected one of: {', '.join(ALGOS)})"
    if agents < 1:
        return f"--agents must be at least 1, got {agents}"
    if seed < 0:
        return f"--seed must be >= 0, got {seed}"
    return None


def _deadline(deadline_ms: float) -> float:
    if not (math.isfinite(deadline_ms) and 0.0 < deadline_ms <= MAX_DEADLINE_MS):
        raise PlanCommandError(f"--deadline-ms must be in (0, {MAX_DEADLINE_MS:.0f}], got {deadline_ms}")
    return deadline_ms / 1000.0


def _instance(grid: GridMap, scen: Path | None, agents: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    free = int(grid.free_cells.size)
    if agents > free:
        raise PlanCommandError(f"{grid.name}: {agents} agents do not fit on {free} free cells")
    if scen is not None:
        return load_movingai_scen(scen, grid, agents)
    return random_instance(grid, agents, seed)


def _solve(grid: GridMap, starts: np.ndarray, goals: np.ndarray, algo: str, seed: int,
           budget_s: float) -> PlanResult:
    """The clock starts here, after the files are read and numba's compiled planners are loaded (about 0.7 s in a
    fresh process, once): the deadline bounds the planning, distances included."""
    warm_up()
    deadline_s = time.monotonic() + budget_s
    if algo == "pibt":
        return solve_pibt(grid, starts, goals, seed=seed, deadline_s=deadline_s)
    return solve_lacam(grid, starts, goals, seed=seed, deadline_s=deadline_s)


def _fail(message: str, code: int) -> int:
    print(f"smartgate: error: {message}", file=sys.stderr)
    return code

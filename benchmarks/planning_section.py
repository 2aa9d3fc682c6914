"""Issue 6's part of RESULTS.md: PIBT speed-up, LaCAM against lower bounds, lifelong step times, and the plot.

`render_planning_summary(data)` takes the pytest-benchmark JSON that `benchmarks/run.py` reads and returns the
markdown lines, like the other ``render_*_summary`` functions there; it also draws `plots/planning_latency.png`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.planning_plots import plot_latency

HERE = Path(__file__).resolve().parent
PLOT = HERE / "plots" / "planning_latency.png"


def render_planning_summary(data: dict[str, Any], plot: Path | None = PLOT) -> list[str]:
    """The planning tables (empty when no planning benchmark ran); writes the plot unless ``plot`` is None."""
    pibt = _extra(data, "test_bench_pibt_numba_vs_reference")
    lacam = _extra(data, "test_bench_lacam_400_agents_random_32_32_20")
    sweep = _extra(data, "test_bench_lacam_sweep")
    lifelong = _extras(data, "test_bench_lifelong_step_on_the_yard")
    if pibt is None and lacam is None and sweep is None and not lifelong:
        return []
    lines = ["### IGV path planning (issue 6)", ""]
    lines += _pibt_lines(pibt) + _lacam_lines(lacam, sweep) + _lifelong_lines(lifelong)
    conflicts = sum(int(e.get("conflicts", 0)) for e in [pibt, lacam, sweep, *lifelong] if e is not None)
    lines += [f"Validator conflicts over every plan above: **{conflicts}** (target 0).", ""]
    if plot is not None:
        written = plot_latency(_series(pibt, sweep, lifelong), plot,
                               targets=[(400, 100.0, "LaCAM 400 target"), (200, 5.0, "lifelong 200 target"),
                                        (1000, 50.0, "lifelong 1,000 target")])
        link = Path(os.path.relpath(written, HERE)).as_posix()   # RESULTS.md lives next to this file
        lines += [f"![planning latency against agent count]({link})", ""]
    return lines


def _pibt_lines(extra: dict[str, Any] | None) -> list[str]:
    if extra is None:
        return []
    return ["| PIBT on " + f"{extra.get('map', '?')}, {extra.get('agents', '?')} agents (same instance) "
            "| numba | plain Python (`benchmarks/reference_pibt.py`) | ratio | numba first call (compile) |",
            "|---|---|---|---|---|",
            f"| runtime (distance tables apart: {_ms(extra.get('distances_ms'))}) | {_ms(extra.get('numba_ms'))} "
            f"| {_ms(extra.get('reference_ms'))} | **{_num(extra.get('ratio'))}×** (target ≥ 20×) "
            f"| {_ms(extra.get('compile_ms'))} (first call with numba's cache: {_ms(extra.get('first_call_ms'))}) |",
            f"| makespan | {extra.get('numba_makespan', '?')} | {extra.get('reference_makespan', '?')} | | |", ""]


def _lacam_lines(single: dict[str, Any] | None, sweep: dict[str, Any] | None) -> list[str]:
    lines: list[str] = []
    if single is not None:
        lines += [f"LaCAM, 400 agents on random-32-32-20 ({single.get('runs', '?')} seeds, cold: distance tables "
                  f"included): median {_ms(single.get('runtime_ms_median'))}, max {_ms(single.get('runtime_ms_max'))}"
                  f", solved {single.get('solved', '?')}/{single.get('runs', '?')} "
                  f"(target < 100 ms: {'met' if single.get('target_met') else '**not met**'}).", ""]
    info = sweep or {}
    rows = info.get("rows") or []
    if rows:
        lines += [f"LaCAM on the shared maps, deadline {info.get('deadline_s', 1.0):g} s "
                  "(success = solved by the deadline; costs are means over solved runs against their lower bounds: "
                  "makespan ≥ the longest BFS distance, sum of costs ≥ the sum of BFS distances):", "",
                  "| map | agents | solved | median | max | makespan (LB) | ÷ LB | sum of costs (LB) | ÷ LB |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['map']} | {row['agents']} | {row['solved']}/{row['runs']} "
                         f"| {_ms(row.get('runtime_ms_median'))} | {_ms(row.get('runtime_ms_max'))} "
                         f"| {_num(row.get('makespan'))} ({_num(row.get('makespan_lb'))}) "
                         f"| {_num(row.get('makespan_ratio'))} | {_num(row.get('sum_of_costs'))} "
                         f"({_num(row.get('sum_of_costs_lb'))}) | {_num(row.get('sum_of_costs_ratio'))} |")
        skipped = info.get("skipped")
        lines += ["", f"Skipped (more agents than free cells): {', '.join(skipped) if skipped else 'none'}.", ""]
    return lines


def _lifelong_lines(extras: list[dict[str, Any]]) -> list[str]:
    if not extras:
        return []
    lines = ["Lifelong planning on the bundled yard (one step = plan and move every IGV one cell; a new random job "
             "goal on arrival):", "",
             "| IGVs | free cells | steps | p50 | p99 | max | jobs done / step | target |",
             "|---|---|---|---|---|---|---|---|"]
    for extra in sorted(extras, key=lambda e: int(e.get("igvs", 0))):
        target = extra.get("target_ms")
        verdict = "—" if target is None else f"< {target:g} ms: {'met' if extra.get('target_met') else '**not met**'}"
        lines.append(f"| {extra.get('igvs')} | {extra.get('cells')} | {extra.get('steps')} "
                     f"| {_ms(extra.get('step_ms_p50'))} | {_ms(extra.get('step_ms_p99'))} "
                     f"| {_ms(extra.get('step_ms_max'))} | {_num(extra.get('jobs_per_step'))} | {verdict} |")
    return [*lines, ""]


def _series(pibt: dict[str, Any] | None, sweep: dict[str, Any] | None,
            lifelong: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for row in (sweep or {}).get("rows") or []:
        series.setdefault(f"LaCAM {row['map']} (median)", []).append((int(row["agents"]),
                                                                       float(row["runtime_ms_median"])))
    if lifelong:
        series["lifelong step, yard (p99)"] = [(int(e["igvs"]), float(e["step_ms_p99"])) for e in lifelong]
    if pibt is not None:
        series["PIBT numba, random-32-32-10"] = [(int(pibt["agents"]), float(pibt["numba_ms"]))]
        series["PIBT plain Python, random-32-32-10"] = [(int(pibt["agents"]), float(pibt["reference_ms"]))]
    return series


def _extras(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The extra_info of every run of the benchmark ``name`` (all parameters)."""
    return [dict(b.get("extra_info", {})) for b in data.get("benchmarks", []) if b["name"].split("[", 1)[0] == name]


def _extra(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = _extras(data, name)
    return found[0] if found else None


def _ms(value: object) -> str:
    return f"{value:.2f} ms" if isinstance(value, int | float) else "n/a"


def _num(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"

"""The operations commands of `smartgate`: `simulate` (a day of the gate and yard) and `capacity` (the most
trucks a day a configuration sustains). Registered when `smartgate.cli` is imported."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from smartgate.cli import command

if TYPE_CHECKING:
    from control.daysim.engine import SimConfig

DEFAULT_PLOT_DIR = Path("var/sim")


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours of arrivals (default 24)")
    parser.add_argument("--igvs", type=int, default=50, help="IGVs in the fleet (default 50)")
    parser.add_argument("--cranes", type=int, default=3, help="automatic cranes, one per transfer bay (default 3)")
    parser.add_argument("--china-points", type=int, default=6,
                        help="transfer points at the Chinese end of the corridor, 90 s an IGV each (default 6)")
    parser.add_argument("--stands", type=int, default=6,
                        help="container stands under each crane, a buffer between trucks and IGVs (4..8, default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of arrivals, faults and planners (default 0)")
    parser.add_argument("--process", choices=["smartgate", "manual"], default="smartgate",
                        help="gate processing times: SmartGate's automatic reads, or today's manual checks")
    parser.add_argument("--faults", action="store_true",
                        help="inject a seeded day of faults: IGV breakdowns, blocked cells, crane stops, lost orders")


def _sim_config(args: argparse.Namespace, trucks_per_day: float, journal: Path | None = None) -> SimConfig:
    """The run the common arguments describe (`_common_arguments`), at ``trucks_per_day``."""
    from control.daysim.engine import SimConfig

    return SimConfig(trucks_per_day=trucks_per_day, hours=args.hours, igvs=args.igvs, cranes=args.cranes,
                     china_points=args.china_points, stands_per_bay=args.stands, seed=args.seed,
                     process=args.process, faults=args.faults, journal=journal)


def _simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trucks-per-day", type=float, required=True, help="mean truck arrivals per 24 hours")
    _common_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument("--plot", type=Path, help=f"PNG of the day (default {DEFAULT_PLOT_DIR}/day-<seed>.png)")
    parser.add_argument("--journal", type=Path, help="journal every job's states to this SQLite file")


@command("simulate", "simulate a day of trucks, cranes and IGVs; print throughput, times, queues, utilisation",
         _simulate_arguments)
def _simulate(args: argparse.Namespace) -> int:
    from control.daysim.engine import run_day
    from control.daysim.plot import plot_day

    report = run_day(_sim_config(args, args.trucks_per_day, args.journal))
    plot = args.plot or DEFAULT_PLOT_DIR / f"day-{args.seed}.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    plot_day(report, plot)
    if args.json:
        print(json.dumps({**report.to_json(), "plot": str(plot)}))
    else:
        print(report.summary())
        print(f"plot: {plot}")
    return 0 if report.collisions == 0 and report.deadlocks == 0 else 1


def _capacity_arguments(parser: argparse.ArgumentParser) -> None:
    _common_arguments(parser)
    parser.add_argument("--max-p95-min", type=float, default=60.0,
                        help="sustainable: 95%% of trucks through the gate and yard within this (default 60 min)")
    parser.add_argument("--low", type=int, default=100, help="lowest trucks/day tried (default 100)")
    parser.add_argument("--high", type=int, default=8000, help="highest trucks/day tried (default 8000)")
    parser.add_argument("--step", type=int, default=50, help="resolution in trucks/day (default 50)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")


@command("capacity", "find the highest sustainable trucks per day for a fleet of IGVs and cranes",
         _capacity_arguments)
def _capacity(args: argparse.Namespace) -> int:
    from control.daysim.capacity import find_capacity, sustainable
    from control.daysim.engine import run_day
    from control.daysim.report import SimReport

    def run(trucks: int) -> SimReport:
        report = run_day(_sim_config(args, trucks))
        ok = sustainable(report, max_p95_s=args.max_p95_min * 60.0)
        print(f"  {trucks:5d} trucks/day: completed {report.trucks_completed}/{report.trucks_arrived}, "
              f"p95 {report.time_in_system_s['p95'] / 60:.0f} min, max queue {report.max_queue}, "
              f"{'sustained' if ok else 'not sustained'} ({report.wall_s:.0f} s)", file=sys.stderr)
        return report

    result = find_capacity(run, low=args.low, high=args.high, step=args.step, max_p95_s=args.max_p95_min * 60.0)
    if args.json:
        print(json.dumps({"trucks_per_day": result.trucks_per_day, "igvs": args.igvs, "cranes": args.cranes,
                          "china_points": args.china_points, "stands": args.stands, "process": args.process,
                          "hours": args.hours,
                          "tried": [{"trucks_per_day": n, "sustained": ok} for n, ok, _ in result.tried]}))
    else:
        print(f"{args.process}: {args.cranes} cranes, {args.igvs} IGVs sustain {result.trucks_per_day} trucks/day "
              f"(95% within {args.max_p95_min:g} min)")
    return 0

"""Many seeded simulated days with faults: collisions, deadlocks and jobs ended exactly once, counted over all.

``python -m benchmarks.fault_days --days 100 --workers 2 --out benchmarks/fault_days.json`` runs day after day
(each with its own seed and its own fault plan: IGV breakdowns, blocked cells, crane stops, lost orders) in worker
processes and writes one JSON object: the totals and one row per day. Too heavy for the test suite (about half a
minute per day on the 2-core machine); its figures go to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from control.daysim.engine import SimConfig, run_day


def one_day(seed: int, trucks: float, igvs: int, cranes: int, hours: float) -> dict[str, object]:
    """One faulty day, reduced to what the totals need."""
    report = run_day(SimConfig(trucks_per_day=trucks, hours=hours, igvs=igvs, cranes=cranes, seed=seed, faults=True))
    return {"seed": seed, "collisions": report.collisions, "deadlocks": report.deadlocks,
            "jobs_created": report.jobs_created, "jobs_ended": report.jobs_ended, "jobs_open": report.jobs_open,
            "faults": report.faults, "trucks_arrived": report.trucks_arrived,
            "trucks_completed": report.trucks_completed, "wall_s": round(report.wall_s, 1),
            "illegal_moves": report.config.get("illegal_moves", 0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--trucks-per-day", type=float, default=1500.0)
    parser.add_argument("--igvs", type=int, default=50)
    parser.add_argument("--cranes", type=int, default=6)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/fault_days.json"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    seeds = range(args.first_seed, args.first_seed + args.days)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(one_day, s, args.trucks_per_day, args.igvs, args.cranes, args.hours) for s in seeds]
        days = []
        for future in futures:
            days.append(future.result())
            print(json.dumps(days[-1]), file=sys.stderr, flush=True)
    faults: dict[str, int] = {}
    for day in days:
        for kind, count in day["faults"].items():  # type: ignore[attr-defined]
            faults[kind] = faults.get(kind, 0) + int(count)
    totals = {key: sum(int(day[key]) for day in days)  # type: ignore[call-overload]
              for key in ("collisions", "deadlocks", "illegal_moves", "jobs_created", "jobs_ended", "jobs_open")}
    summary = {"days": len(days), "config": vars(args) | {"out": str(args.out)}, "totals": totals, "faults": faults,
               "every_job_ended_once": totals["jobs_created"] == totals["jobs_ended"] and totals["jobs_open"] == 0,
               "wall_s": round(time.monotonic() - started, 1), "per_day": days}
    args.out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "per_day"}))
    return 0 if totals["collisions"] == 0 and totals["deadlocks"] == 0 and summary["every_job_ended_once"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

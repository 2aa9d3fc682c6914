"""The demo's last act: the containers that gate-in cleared are moved across the border in the yard simulator.

Each passage that clearance opened, with a container read and its check digit right, becomes a truck arriving at
the yard when the lane saw it; the day simulation lifts each container onto an IGV and drives it to the Chinese
yard, journalling every job step to ``<data dir>/jobs.sqlite``. The lines printed are read back from that journal.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from bus.identifiers import is_valid_iso6346
from bus.journal import Journal
from bus.messages import VehiclePassage
from control.clearance import Ledger
from control.daysim.arrivals import TruckArrival
from control.daysim.engine import SimConfig, run_day
from control.daysim.report import SimReport
from control.jobs import job_histories

__all__ = ["cleared_exports", "move_cleared_containers"]

DEMO_IGVS = 8
TRUCK_SPACING_S = 30.0    # the recordings are minutes long; the yard sees the trucks at least this far apart


def cleared_exports(passages: list[VehiclePassage], clearance: Ledger) -> tuple[TruckArrival, ...]:
    """Trucks for the simulator: passages opened at gate-in with readable container numbers, in order seen."""
    decisions = clearance.latest_decisions()
    opened = [p for p in passages if p.direction == "in" and p.containers
              and (d := decisions.get(p.passage_id)) is not None and d.outcome == "OPEN"]
    opened.sort(key=lambda p: p.last_seen_utc)
    arrivals: list[TruckArrival] = []
    for index, passage in enumerate(opened):
        numbers = tuple(c.number for c in passage.containers if c.check_digit_ok and is_valid_iso6346(c.number))[:2]
        if numbers:
            arrivals.append(TruckArrival(truck_id=passage.passage_id, t=60.0 + index * TRUCK_SPACING_S,
                                         kind="export", containers=numbers))
    return tuple(arrivals)


def move_cleared_containers(passages: list[VehiclePassage], clearance: Ledger, data_dir: Path,
                            out: IO[str]) -> SimReport | None:
    """Simulate the yard for the cleared containers and print where each ended; None if there were none."""
    arrivals = cleared_exports(passages, clearance)
    if not arrivals:
        print("  yard: no cleared container to move", file=out)
        return None
    journal_path = data_dir / "jobs.sqlite"
    journal_path.unlink(missing_ok=True)
    hours = max(1.0, (arrivals[-1].t + 600.0) / 3600.0)
    report = run_day(SimConfig(trucks_per_day=len(arrivals) * 24.0 / hours, hours=hours, igvs=DEMO_IGVS,
                               arrivals=arrivals, journal=journal_path))
    print(f"\nYard (simulated): {len(arrivals)} cleared trucks, {report.containers_moved} containers moved to "
          f"China by {DEMO_IGVS} IGVs in {report.wall_s:.1f} s; collisions {report.collisions}, "
          f"deadlocks {report.deadlocks}; jobs journalled in {journal_path}", file=out)
    for line in job_lines(journal_path):
        print(f"  {line}", file=out)
    return report


def job_lines(journal_path: Path) -> list[str]:
    """One line per job from the job journal: container, bay, IGV, and when it was handed over in China."""
    with Journal.open(journal_path) as journal:
        steps = job_histories(journal)
    lines = []
    for job_id, updates in steps.items():
        first, last = updates[0], updates[-1]
        bay = next((u.bay_id for u in updates if u.bay_id), "-")
        igv = next((u.igv_id for u in updates if u.igv_id), "-")
        took = (last.sim_time_s or 0.0) - (first.sim_time_s or 0.0)
        lines.append(f"{first.container_number} ({job_id}): {bay}, {igv}, {last.state} after "
                     f"{took / 60:.1f} min — {' → '.join(u.state for u in updates)}")
    return lines

"""A seeded run of jobs through a job book, shared by the book and journal tests."""

from __future__ import annotations

import random

from bus.messages import JobKind, JobState
from control.jobs import JOB_FLOW, JobBook

FIELDS_AT: dict[JobState, str] = {"at_bay": "bay_id", "on_igv": "igv_id", "on_truck": "truck_id"}


def path_of(kind: JobKind, via_stand: bool, end: JobState | None, stop_after: int) -> list[JobState]:
    """The states after ``created`` one job passes; ``end`` (cancelled/failed) cuts it after ``stop_after`` steps."""
    steps = [state for state in JOB_FLOW[kind][1:] if via_stand or state != "on_stand"]
    return steps if end is None else [*steps[:stop_after], end]


def run_jobs(book: JobBook, jobs: int, seed: int = 7) -> None:
    """Create ``jobs`` jobs and drive each along its flow, interleaved in time order; some never finish."""
    rng = random.Random(seed)
    plans: list[tuple[str, list[JobState]]] = []
    for index in range(jobs):
        kind: JobKind = "export" if index % 3 else "import"
        end: JobState | None = rng.choice([None, None, None, "cancelled", "failed"])
        plan = path_of(kind, rng.random() < 0.4, end, rng.randrange(0, 4))
        if index % 17 == 0:
            plan = plan[: len(plan) // 2]  # still open when the run stops
        job_id = f"job-{index:05d}"
        book.create(job_id, kind, f"MSCU{index:07d}", float(index), passage_id=f"p-{index}", truck_id=f"t-{index}")
        if plan:
            plans.append((job_id, plan))
    t = float(jobs)
    while plans:
        job_id, plan = plans.pop(rng.randrange(len(plans)))
        state = plan.pop(0)
        field = FIELDS_AT.get(state)
        extra = {field: f"{field[:-3]}-{rng.randrange(9)}"} if field else {}
        book.advance(job_id, state, t, detail=f"step {state}", **extra)
        t += rng.random() * 10.0
        if plan:
            plans.append((job_id, plan))

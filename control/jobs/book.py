"""The job book: every job of a run, each change validated against the job flow and handed on as a `JobUpdate`.

Every update carries the job's whole current record (a snapshot), so a journal replay that lost an entry (a
corrupt row) still lands on the right state from the next one. Updates go to the sink in batches: one SQLite
transaction per 256 changes instead of one per change keeps a simulated day's ~25,000 transitions cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, Protocol

from bus.messages import JobKind, JobState, JobUpdate, new_id, now_utc
from control.jobs.model import (
    ABORT_STATES,
    ALL_STATES,
    FINAL_STATES,
    JOB_FIELDS,
    JOB_FLOW,
    MAX_CONTAINER_CHARS,
    TRANSITIONS,
    Job,
    JobError,
    check_id,
    check_time,
)

__all__ = ["BATCH_SIZE", "JobBook", "JobSink"]

log = logging.getLogger(__name__)

BATCH_SIZE: Final = 256
MAX_DETAIL_CHARS: Final = 256  # JobUpdate.detail is bus Text


class JobSink(Protocol):
    """Where job updates go (a journal, a bus publisher); ``write`` gets them in the order they happened."""

    def write(self, updates: Sequence[JobUpdate]) -> None: ...


class JobBook:
    """All jobs of a run; every change is validated and handed to the sink (batched: flush() / every 256).

    A sink failure propagates from the call that flushed; its updates stay queued and go with the next flush (a
    journal append is idempotent by message id, so a retry never duplicates). Without a sink no update is built.
    """

    def __init__(self, sink: JobSink | None = None) -> None:
        self._sink = sink
        self._jobs: dict[str, Job] = {}
        self._open: dict[str, Job] = {}
        self._counts: dict[JobState, int] = dict.fromkeys(ALL_STATES, 0)
        self._ended = 0
        self._pending: list[JobUpdate] = []
        self._id_prefix = f"{new_id()}-"  # + a serial: unique across books and runs, ~25x cheaper than a uuid each
        self._serial = 0
        self.skipped = 0
        """Updates a rebuild could not apply (and, from `load_jobs`, corrupt journal rows): counted, not fatal."""

    # -- changes -----------------------------------------------------------------------------------------------

    def create(self, job_id: str, kind: JobKind, container_number: str, t: float, **fields: str | None) -> Job:
        """A new job in state ``created`` at simulated time ``t``; ``fields`` as for `advance`."""
        check_id("job_id", job_id)
        if job_id in self._jobs:
            raise JobError(f"job {job_id!r} already exists ({self._jobs[job_id].state})")
        if kind not in JOB_FLOW:
            raise JobError(f"job {job_id!r}: unknown kind {kind!r}; expected one of {sorted(JOB_FLOW)}")
        _check_container(job_id, container_number)
        t = check_time("t", t)
        _check_fields(job_id, fields)
        job = Job(job_id, kind, container_number, created_s=t, updated_s=t)
        for name, value in fields.items():
            setattr(job, name, value)
        self._jobs[job_id] = job
        self._open[job_id] = job
        self._counts["created"] += 1
        self._emit(job, "")
        return job

    def advance(self, job_id: str, state: JobState, t: float, *, detail: str = "", **fields: str | None) -> Job:
        """Move a job to ``state`` at ``t``, setting any of passage_id, truck_id, bay_id, crane_id, igv_id.

        Raises `JobError` (and changes nothing) for an unknown job, a transition outside the job's flow, a time
        before the job's last change, a bad field, and above all a second end: a job ends exactly once.
        """
        job = self._jobs.get(job_id)
        if job is None:
            raise JobError(f"unknown job {job_id!r:.80}")
        t = check_time("t", t)
        if state not in TRANSITIONS[job.kind][job.state]:
            raise self._refusal(job, state, t)
        if t < job.updated_s:
            raise JobError(f"job {job_id!r}: time goes backwards ({job.state} at t={job.updated_s:g}, "
                           f"{state} at t={t:g})")
        if len(detail) > MAX_DETAIL_CHARS:
            raise JobError(f"job {job_id!r}: detail is {len(detail)} characters, at most {MAX_DETAIL_CHARS}")
        if fields:
            _check_fields(job_id, fields)
            for name, value in fields.items():
                setattr(job, name, value)
        self._move(job, state, t)
        self._emit(job, detail)
        return job

    def flush(self) -> None:
        """Hand every queued update to the sink now (call at the end of a run and before reading the journal)."""
        if self._pending and self._sink is not None:
            self._sink.write(self._pending)
            self._pending = []

    # -- reading -----------------------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobError(f"unknown job {job_id!r:.80}")
        return job

    def open_jobs(self) -> list[Job]:
        """Jobs not yet in a final state, oldest first."""
        return list(self._open.values())

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state now (every state listed, zeros included)."""
        return dict(self._counts)

    @property
    def ended(self) -> int:
        """Jobs that reached a final state (each counted once)."""
        return self._ended

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    # -- rebuilding --------------------------------------------------------------------------------------------

    @classmethod
    def rebuild(cls, updates: Iterable[JobUpdate], sink: JobSink | None = None) -> JobBook:
        """The book the updates describe (from a journal, in journal order); ``sink`` gets only later changes.

        Lenient where a live book is strict, because a journal may have lost entries: an update that moves a job
        forward along its flow is applied even if steps are missing; one that goes backwards, repeats a state,
        changes the kind or comes after the job ended is skipped and counted in ``skipped``.
        """
        book = cls(sink)
        for update in updates:
            if not book._replay(update):
                book.skipped += 1
        return book

    def _replay(self, update: JobUpdate) -> bool:
        if not isinstance(update, JobUpdate) or update.kind not in JOB_FLOW:
            log.warning("job replay: skipped a non-job update %r", type(update).__name__)
            return False
        job = self._jobs.get(update.job_id)
        t = update.sim_time_s if update.sim_time_s is not None else (job.updated_s if job is not None else 0.0)
        if job is None:
            return self._replay_new(update, t)
        if job.kind != update.kind or not _forward(job, update.state):
            level = logging.ERROR if job.final else logging.WARNING
            log.log(level, "job replay: skipped %s → %s for job %r (%s)", job.state, update.state, job.job_id,
                    "ended twice" if job.final and update.state in FINAL_STATES else "not a forward step")
            return False
        _copy_fields(job, update)
        self._move(job, update.state, t)
        return True

    def _replay_new(self, update: JobUpdate, t: float) -> bool:
        if update.state not in JOB_FLOW[update.kind] and update.state not in ABORT_STATES:
            log.warning("job replay: skipped job %r in state %s, not in the %s flow", update.job_id, update.state,
                        update.kind)
            return False
        if update.state != "created":
            log.warning("job replay: job %r first seen in state %s (its creation was lost)", update.job_id,
                        update.state)
        job = Job(update.job_id, update.kind, update.container_number, created_s=t, updated_s=t)
        _copy_fields(job, update)
        self._jobs[job.job_id] = job
        self._open[job.job_id] = job
        self._counts["created"] += 1
        if update.state != "created":
            self._move(job, update.state, t)
        return True

    # -- internals ---------------------------------------------------------------------------------------------

    def _move(self, job: Job, state: JobState, t: float) -> None:
        self._counts[job.state] -= 1
        self._counts[state] += 1
        job.state = state
        job.updated_s = t
        if state in FINAL_STATES:
            self._ended += 1
            del self._open[job.job_id]

    def _emit(self, job: Job, detail: str) -> None:
        if self._sink is None:
            return
        self._serial += 1
        self._pending.append(JobUpdate(
            id=f"{self._id_prefix}{self._serial}", ts_utc=now_utc(), job_id=job.job_id, kind=job.kind,
            state=job.state, container_number=job.container_number,
            passage_id=job.passage_id, truck_id=job.truck_id, bay_id=job.bay_id, crane_id=job.crane_id,
            igv_id=job.igv_id, detail=detail, sim_time_s=job.updated_s))
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def _refusal(self, job: Job, state: JobState, t: float) -> JobError:
        if job.final and state in FINAL_STATES:
            message = (f"job {job.job_id!r} ended twice: already {job.state} at t={job.updated_s:g}, "
                       f"now {state} at t={t:g}")
            log.error(message)  # a scheduling bug: logged as well, so it shows even if the caller swallows it
            return JobError(message)
        if job.final:
            return JobError(f"job {job.job_id!r} already ended ({job.state} at t={job.updated_s:g}); "
                            f"cannot go to {state!r:.40}")
        allowed = ", ".join(sorted(TRANSITIONS[job.kind][job.state]))
        return JobError(f"job {job.job_id!r} ({job.kind}) cannot go from {job.state} to {state!r:.40}; "
                        f"allowed: {allowed}")


def _forward(job: Job, state: JobState) -> bool:
    """Whether ``state`` lies ahead of the job's state on its flow (or aborts it), skipping lost steps."""
    if job.final:
        return False
    if state in ABORT_STATES:
        return True
    flow = JOB_FLOW[job.kind]
    return state in flow and flow.index(state) > flow.index(job.state)


def _copy_fields(job: Job, update: JobUpdate) -> None:
    job.passage_id = update.passage_id
    job.truck_id = update.truck_id
    job.bay_id = update.bay_id
    job.crane_id = update.crane_id
    job.igv_id = update.igv_id


def _check_container(job_id: str, container_number: object) -> None:
    if not isinstance(container_number, str) or not 0 < len(container_number) <= MAX_CONTAINER_CHARS:
        raise JobError(f"job {job_id!r}: container_number must be 1-{MAX_CONTAINER_CHARS} characters, "
                       f"got {container_number!r:.40}")


def _check_fields(job_id: str, fields: dict[str, str | None]) -> None:
    for name, value in fields.items():
        if name not in JOB_FIELDS:
            raise JobError(f"job {job_id!r}: unknown field {name!r:.40}; expected one of {sorted(JOB_FIELDS)}")
        if value is not None:
            check_id(name, value)

"""A container move (a job) and the states it may pass through.

The flows are written once, as tuples, and every allowed transition is derived from them, so the flow table is the
documentation. ``on_stand`` (the bay's ground buffer under the crane) is optional: a container may go straight from
the truck to an IGV or back. Any state that is not final may end as ``cancelled`` or ``failed``.
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from typing import Final

from bus.messages import Id, JobKind, JobState

__all__ = ["ABORT_STATES", "ALL_STATES", "FINAL_STATES", "JOB_FIELDS", "JOB_FLOW", "MAX_CONTAINER_CHARS", "TRANSITIONS",
           "Job", "JobError", "allowed_next", "check_id", "check_time"]

JOB_FLOW: Final[dict[JobKind, tuple[JobState, ...]]] = {
    "export": ("created", "at_bay", "on_stand", "on_igv", "in_corridor", "delivered", "done"),
    "import": ("created", "on_igv", "in_corridor", "at_bay", "on_stand", "on_truck", "done"),
}
OPTIONAL_STATES: Final[frozenset[JobState]] = frozenset({"on_stand"})
FINAL_STATES: Final[frozenset[JobState]] = frozenset({"done", "cancelled", "failed"})
ABORT_STATES: Final[frozenset[JobState]] = frozenset({"cancelled", "failed"})
JOB_FIELDS: Final[frozenset[str]] = frozenset({"passage_id", "truck_id", "bay_id", "crane_id", "igv_id"})
ALL_STATES: Final[tuple[JobState, ...]] = typing.get_args(JobState)
MAX_CONTAINER_CHARS: Final = 16

_ID_META = typing.get_args(Id)[1]
_ID_PATTERN: Final = re.compile(_ID_META.pattern)
_ID_MAX: Final[int] = _ID_META.max_length


class JobError(ValueError):
    """A job change that must not happen: unknown job, a transition outside its flow, a job ended twice."""


@dataclass(slots=True)
class Job:
    """Where one container move stands. Owned by a `JobBook`: read it, change it only through the book."""

    job_id: str
    kind: JobKind
    container_number: str
    state: JobState = "created"
    passage_id: str | None = None
    truck_id: str | None = None
    bay_id: str | None = None
    crane_id: str | None = None
    igv_id: str | None = None
    created_s: float = 0.0
    updated_s: float = 0.0

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _transitions(flow: tuple[JobState, ...]) -> dict[JobState, frozenset[JobState]]:
    """Each state's successors: the next step, the step after an optional one, and the two abort states."""
    table: dict[JobState, frozenset[JobState]] = {}
    for index, state in enumerate(flow):
        if state in FINAL_STATES:
            table[state] = frozenset()
            continue
        following = {flow[index + 1]}
        if flow[index + 1] in OPTIONAL_STATES:
            following.add(flow[index + 2])
        table[state] = frozenset(following | ABORT_STATES)
    for state in ABORT_STATES:
        table[state] = frozenset()
    return table


# Each kind's transition table, derived from its flow (what allowed_next answers, for hot paths).
TRANSITIONS: Final[dict[JobKind, dict[JobState, frozenset[JobState]]]] = {
    kind: _transitions(flow) for kind, flow in JOB_FLOW.items()
}


def allowed_next(kind: JobKind, state: JobState) -> frozenset[JobState]:
    """The states a job of ``kind`` may move to from ``state`` (empty once final)."""
    table = TRANSITIONS.get(kind)
    if table is None:
        raise JobError(f"unknown job kind {kind!r}; expected one of {sorted(JOB_FLOW)}")
    following = table.get(state)
    if following is None:
        raise JobError(f"state {state!r} is not part of the {kind} flow {JOB_FLOW[kind]}")
    return following


def check_id(name: str, value: object) -> str:
    """``value`` if it is a bus id (what a `JobUpdate` will carry), else `JobError`: fail where the bad id
    enters, not later when the journal refuses the whole batch."""
    if not isinstance(value, str) or len(value) > _ID_MAX or _ID_PATTERN.fullmatch(value) is None:
        raise JobError(f"{name} must be 1-{_ID_MAX} characters of [A-Za-z0-9_.:-], got {value!r:.80}")
    return value


def check_time(name: str, value: object) -> float:
    """``value`` as a simulated time: a finite number of seconds, not negative."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise JobError(f"{name} must be a finite, non-negative number of seconds, got {value!r}")
    return float(value)

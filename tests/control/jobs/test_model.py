"""The job flows: every allowed transition, derived from JOB_FLOW, and nothing else."""

from __future__ import annotations

import pytest

from control.jobs import FINAL_STATES, JOB_FLOW, Job, JobError, allowed_next

ABORT = {"cancelled", "failed"}


@pytest.mark.parametrize(("kind", "state", "expected"), [
    ("export", "created", {"at_bay"}),
    ("export", "at_bay", {"on_stand", "on_igv"}),
    ("export", "on_stand", {"on_igv"}),
    ("export", "on_igv", {"in_corridor"}),
    ("export", "in_corridor", {"delivered"}),
    ("export", "delivered", {"done"}),
    ("import", "created", {"on_igv"}),
    ("import", "on_igv", {"in_corridor"}),
    ("import", "in_corridor", {"at_bay"}),
    ("import", "at_bay", {"on_stand", "on_truck"}),
    ("import", "on_stand", {"on_truck"}),
    ("import", "on_truck", {"done"}),
])
def test_each_open_state_goes_to_its_next_step_or_ends_early(kind, state, expected) -> None:
    assert allowed_next(kind, state) == frozenset(expected | ABORT)


@pytest.mark.parametrize("kind", ["export", "import"])
@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_final_states_lead_nowhere(kind, state) -> None:
    assert allowed_next(kind, state) == frozenset()
    assert Job("j1", kind, "MSCU1234565", state=state).final


@pytest.mark.parametrize(("kind", "state", "message"), [
    ("transfer", "created", "unknown job kind 'transfer'"),
    ("export", "on_truck", "'on_truck' is not part of the export flow"),
    ("import", "delivered", "'delivered' is not part of the import flow"),
    ("export", "teleported", "'teleported' is not part of the export flow"),
])
def test_unknown_kinds_and_states_are_refused_by_name(kind, state, message) -> None:
    with pytest.raises(JobError, match=message):
        allowed_next(kind, state)


def test_flows_start_created_and_end_done() -> None:
    for flow in JOB_FLOW.values():
        assert (flow[0], flow[-1]) == ("created", "done")
    assert not Job("j1", "export", "MSCU1234565").final

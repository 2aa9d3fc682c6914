"""The demo's yard act: which passages become export trucks, and the job lines read back from the real journal."""

from __future__ import annotations

import io
import itertools
from collections import defaultdict
from pathlib import Path
from typing import Literal

import pytest

from bus.identifiers import iso6346_check_digit
from bus.journal import Journal
from bus.messages import ClearanceDecision, ContainerRead, JobUpdate, Outcome, VehiclePassage
from control.clearance import Ledger
from smartgate.demo_yard import TRUCK_SPACING_S, cleared_exports, move_cleared_containers

T0 = 1_760_000_000.0


def number(serial: int, owner: str = "MSKU") -> str:
    head = f"{owner}{serial:06d}"
    return f"{head}{iso6346_check_digit(head)}"


def wrong_digit(valid: str) -> str:
    return f"{valid[:-1]}{(int(valid[-1]) + 1) % 10}"


def container(text: str, ok: bool = True) -> ContainerRead:
    return ContainerRead(number=text, check_digit_ok=ok, confidence=0.9)


def passage(passage_id: str, *containers: ContainerRead, seen: float = 0.0,
            direction: Literal["in", "out"] = "in") -> VehiclePassage:
    return VehiclePassage(passage_id=passage_id, lane_id="L1-in" if direction == "in" else "L1-out",
                          direction=direction, first_seen_utc=T0 + seen - 5.0, last_seen_utc=T0 + seen,
                          containers=containers)


def ledger(*decisions: tuple[str, Outcome]) -> Ledger:
    """A ledger that recorded the decisions in order (a later one for a passage overrides the earlier)."""
    record = Ledger()
    for index, (passage_id, outcome) in enumerate(decisions):
        record.record(ClearanceDecision(decision_id=f"d-{index}", passage_id=passage_id, lane_id="L1-in",
                                        outcome=outcome))
    return record


A, B, C, D = number(100001), number(200002, "CSQU"), number(300003, "TGHU"), number(400004, "OOLU")


@pytest.mark.parametrize(("passages", "decisions", "expected"), [
    ([passage("p1", container(A))], [("p1", "OPEN")], [("p1", (A,))]),
    ([passage("p1", container(A))], [("p1", "HOLD")], []),
    ([passage("p1", container(A))], [("p1", "INSPECT")], []),
    ([passage("p1", container(A))], [("p1", "REJECT")], []),
    ([passage("p1", container(A))], [], []),                                            # never decided
    ([passage("p1", container(A), direction="out")], [("p1", "OPEN")], []),             # leaving the country
    ([passage("p1")], [("p1", "OPEN")], []),                                           # no container read
    ([passage("p1", container(wrong_digit(A), ok=False))], [("p1", "OPEN")], []),      # check digit wrong
    ([passage("p1", container(wrong_digit(A), ok=False), container(B))], [("p1", "OPEN")], [("p1", (B,))]),
    ([passage("p1", container(A), container(B), container(C))], [("p1", "OPEN")], [("p1", (A, B))]),  # 2 at most
    ([passage("p1", container(A))], [("p1", "OPEN"), ("p1", "HOLD")], []),              # overridden: latest counts
    ([passage("p1", container(A))], [("p1", "HOLD"), ("p1", "OPEN")], [("p1", (A,))]),
    ([passage("p1", container(A))], [("p2", "OPEN")], []),                              # another passage's decision
])
def test_cleared_exports_keeps_opened_inbound_passages_with_valid_containers(
        passages: list[VehiclePassage], decisions: list[tuple[str, Outcome]],
        expected: list[tuple[str, tuple[str, ...]]]) -> None:
    trucks = cleared_exports(passages, ledger(*decisions))
    assert [(truck.truck_id, truck.containers) for truck in trucks] == expected
    assert all(truck.kind == "export" and not truck.red_channel for truck in trucks)


def test_cleared_trucks_come_in_the_order_seen_and_spaced_apart() -> None:
    passages = [passage("late", container(C), seen=300.0), passage("held", container(D), seen=50.0),
                passage("early", container(A), seen=10.0), passage("middle", container(B), seen=100.0)]
    record = ledger(("late", "OPEN"), ("held", "HOLD"), ("early", "OPEN"), ("middle", "OPEN"))
    trucks = cleared_exports(passages, record)
    assert [truck.truck_id for truck in trucks] == ["early", "middle", "late"]
    times = [truck.t for truck in trucks]
    assert times[0] > 0.0
    assert [b - a for a, b in itertools.pairwise(times)] == [TRUCK_SPACING_S] * 2


def test_no_passage_gives_no_truck() -> None:
    assert cleared_exports([], Ledger()) == ()


def _journal_jobs(path: Path) -> dict[str, list[JobUpdate]]:
    jobs: dict[str, list[JobUpdate]] = defaultdict(list)
    with Journal.open(path) as journal:
        for entry in journal.replay(types=JobUpdate):
            assert isinstance(entry.message, JobUpdate)
            jobs[entry.message.job_id].append(entry.message)
    return jobs


def test_cleared_containers_are_moved_and_every_job_printed(tmp_path: Path) -> None:
    passages = [passage("p-1", container(A), container(B), seen=1.0), passage("p-2", container(C), seen=2.0),
                passage("p-3", container(D), seen=3.0)]
    record = ledger(("p-1", "OPEN"), ("p-2", "OPEN"), ("p-3", "HOLD"))
    out = io.StringIO()
    report = move_cleared_containers(passages, record, tmp_path, out)
    assert report is not None
    assert report.collisions == 0
    assert report.deadlocks == 0
    assert report.containers_moved == 3
    assert report.jobs_created == report.jobs_ended == 3

    jobs = _journal_jobs(tmp_path / "jobs.sqlite")
    assert set(jobs) == {"p-1-1", "p-1-2", "p-2-1"}
    assert {updates[0].container_number for updates in jobs.values()} == {A, B, C}
    assert all(updates[-1].state == "done" for updates in jobs.values())

    text = out.getvalue()
    assert "Yard (simulated): 2 cleared trucks, 3 containers moved" in text
    assert "collisions 0, deadlocks 0" in text
    assert str(tmp_path / "jobs.sqlite") in text
    job_lines = [line.strip() for line in text.splitlines() if line.startswith("  ")]
    assert len(job_lines) == len(jobs)
    for job_id, updates in jobs.items():
        line = next(line for line in job_lines if f"({job_id})" in line)
        assert line.startswith(f"{updates[0].container_number} ({job_id}): ")
        assert " → ".join(u.state for u in updates) in line
        assert "igv-" in line
        assert "bay-" in line
        assert "done after" in line
    assert D not in text                                   # held at the gate: never reaches the yard


def test_a_second_demo_starts_a_fresh_journal(tmp_path: Path) -> None:
    passages = [passage("p-1", container(A))]
    record = ledger(("p-1", "OPEN"))
    for _ in range(2):
        out = io.StringIO()
        report = move_cleared_containers(passages, record, tmp_path, out)
        assert report is not None
        assert report.containers_moved == 1
        assert len(_journal_jobs(tmp_path / "jobs.sqlite")) == 1
        assert len([line for line in out.getvalue().splitlines() if line.startswith("  ")]) == 1


@pytest.mark.parametrize("decisions", [[], [("p-1", "HOLD")], [("p-1", "REJECT")]])
def test_without_a_cleared_container_nothing_is_simulated(tmp_path: Path,
                                                          decisions: list[tuple[str, Outcome]]) -> None:
    out = io.StringIO()
    report = move_cleared_containers([passage("p-1", container(A))], ledger(*decisions), tmp_path, out)
    assert report is None
    assert "no cleared container" in out.getvalue()
    assert not (tmp_path / "jobs.sqlite").exists()

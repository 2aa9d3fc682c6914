"""The job book: validated changes, counts, exactly-once ends, batched updates, and rebuilding from updates."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import pytest

from bus.codec import decode_as, encode
from bus.messages import JobKind, JobState, JobUpdate
from control.jobs import BATCH_SIZE, JobBook, JobError
from tests.control.jobs.runs import path_of, run_jobs


class ListSink:
    """A sink that keeps each batch it was handed (a real sink, in memory)."""

    def __init__(self) -> None:
        self.batches: list[list[JobUpdate]] = []

    def write(self, updates: Sequence[JobUpdate]) -> None:
        self.batches.append(list(updates))

    @property
    def updates(self) -> list[JobUpdate]:
        return [update for batch in self.batches for update in batch]


class FailingSink(ListSink):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def write(self, updates: Sequence[JobUpdate]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        super().write(updates)


def _book_with(job_state: str = "created", kind: JobKind = "export",
               via_stand: bool = False) -> tuple[JobBook, ListSink]:
    sink = ListSink()
    book = JobBook(sink)
    book.create("j1", kind, "MSCU1234565", 10.0, passage_id="p1")
    t = 10.0
    for state in path_of(kind, via_stand, None, 0):
        if book.get("j1").state == job_state:
            break
        t += 1.0
        book.advance("j1", state, t)
    return book, sink


@pytest.mark.parametrize(("kind", "via_stand"), [("export", False), ("export", True), ("import", False),
                                                 ("import", True)])
def test_a_job_runs_its_whole_flow_and_ends_once(kind, via_stand) -> None:
    book, sink = _book_with("never", kind, via_stand)
    book.flush()
    job = book.get("j1")
    assert (job.state, job.final, job.created_s, job.updated_s) == ("done", True, 10.0, 10.0 + len(sink.updates) - 1)
    assert book.ended == 1
    assert book.open_jobs() == []
    assert book.counts()["done"] == 1
    assert sum(book.counts().values()) == 1
    assert [u.state for u in sink.updates] == ["created", *path_of(kind, via_stand, None, 0)]


def test_updates_carry_the_whole_job_and_the_simulated_time() -> None:
    sink = ListSink()
    book = JobBook(sink)
    book.create("j1", "export", "MSCU1234565", 5.0, passage_id="p1", truck_id="truck-7")
    book.advance("j1", "at_bay", 12.5, bay_id="bay-1", crane_id="crane-1", detail="under crane")
    book.flush()
    last = sink.updates[-1]
    assert (last.job_id, last.kind, last.state, last.container_number) == ("j1", "export", "at_bay", "MSCU1234565")
    assert (last.passage_id, last.truck_id, last.bay_id, last.crane_id, last.igv_id) == \
        ("p1", "truck-7", "bay-1", "crane-1", None)
    assert (last.detail, last.sim_time_s) == ("under crane", 12.5)
    assert decode_as(encode(last), JobUpdate) == last  # valid on the wire, so a journal accepts it
    assert len({u.id for u in sink.updates}) == 2


@pytest.mark.parametrize(("state", "target", "message"), [
    ("created", "on_igv", r"\(export\) cannot go from created to 'on_igv'; allowed: at_bay, cancelled, failed"),
    ("at_bay", "delivered", "cannot go from at_bay to 'delivered'"),
    ("on_igv", "on_stand", "cannot go from on_igv to 'on_stand'"),
    ("on_igv", "on_igv", "cannot go from on_igv to 'on_igv'"),
    ("on_igv", "created", "cannot go from on_igv to 'created'"),
    ("delivered", "on_truck", "cannot go from delivered to 'on_truck'"),
    ("created", "vanished", "cannot go from created to 'vanished'"),
])
def test_transitions_outside_the_flow_are_refused_and_change_nothing(state, target, message) -> None:
    book, sink = _book_with(state)
    book.flush()
    before = (book.get("j1").state, book.counts(), len(sink.updates))
    with pytest.raises(JobError, match=message):
        book.advance("j1", target, 100.0, igv_id="igv-1")
    book.flush()
    assert (book.get("j1").state, book.counts(), len(sink.updates)) == before
    assert book.get("j1").igv_id is None


@pytest.mark.parametrize(("first", "second"), [("done", "cancelled"), ("cancelled", "failed"),
                                               ("failed", "failed"), ("cancelled", "done"), ("done", "done")])
def test_a_second_end_is_refused_logged_and_not_counted(first, second, caplog) -> None:
    book, _sink = _book_with("delivered" if first == "done" else "at_bay")
    book.advance("j1", first, 60.0)
    with caplog.at_level(logging.ERROR, logger="control.jobs.book"), \
            pytest.raises(JobError, match=rf"job 'j1' ended twice: already {first} at t=60, now {second} at t=70"):
        book.advance("j1", second, 70.0)
    assert any("ended twice" in record.getMessage() for record in caplog.records)
    assert (book.ended, book.get("j1").state, book.get("j1").updated_s) == (1, first, 60.0)


def test_a_move_after_the_end_is_refused() -> None:
    book, _ = _book_with("at_bay")
    book.advance("j1", "cancelled", 20.0)
    with pytest.raises(JobError, match=r"job 'j1' already ended \(cancelled at t=20\); cannot go to 'at_bay'"):
        book.advance("j1", "at_bay", 30.0)


@pytest.mark.parametrize(("call", "message"), [
    (lambda b: b.advance("nope", "at_bay", 1.0), "unknown job 'nope'"),
    (lambda b: b.get("nope"), "unknown job 'nope'"),
    (lambda b: b.create("j1", "export", "MSCU1234565", 1.0), "job 'j1' already exists"),
    (lambda b: b.create("j2", "transfer", "MSCU1234565", 1.0), "unknown kind 'transfer'"),
    (lambda b: b.create("j 2", "export", "MSCU1234565", 1.0), "job_id must be 1-64 characters"),
    (lambda b: b.create("", "export", "MSCU1234565", 1.0), "job_id must be"),
    (lambda b: b.create("j" * 65, "export", "MSCU1234565", 1.0), "job_id must be"),
    (lambda b: b.create("j2", "export", "", 1.0), "container_number must be 1-16 characters"),
    (lambda b: b.create("j2", "export", "X" * 17, 1.0), "container_number must be"),
    (lambda b: b.create("j2", "export", "MSCU1234565", -1.0), "t must be a finite, non-negative"),
    (lambda b: b.create("j2", "export", "MSCU1234565", math.nan), "t must be a finite"),
    (lambda b: b.create("j2", "export", "MSCU1234565", 1.0, owner="x"), "unknown field 'owner'"),
    (lambda b: b.create("j2", "export", "MSCU1234565", 1.0, bay_id="bay/1"), "bay_id must be"),
    (lambda b: b.advance("j1", "at_bay", math.inf), "t must be a finite"),
    (lambda b: b.advance("j1", "at_bay", "soon"), "t must be a finite"),
    (lambda b: b.advance("j1", "at_bay", 5.0), r"time goes backwards \(created at t=10, at_bay at t=5\)"),
    (lambda b: b.advance("j1", "at_bay", 11.0, igv_id=7), "igv_id must be"),
    (lambda b: b.advance("j1", "at_bay", 11.0, state_s="1"), "unknown field 'state_s'"),
    (lambda b: b.advance("j1", "at_bay", 11.0, detail="x" * 257), "detail is 257 characters, at most 256"),
])
def test_hostile_calls_get_a_one_line_job_error_and_change_nothing(call, message) -> None:
    book, _ = _book_with("created")
    with pytest.raises(JobError, match=message) as caught:
        call(book)
    assert "\n" not in str(caught.value)
    assert (len(book), book.get("j1").state, book.get("j1").bay_id) == (1, "created", None)


def test_updates_go_to_the_sink_in_batches_of_256_and_on_flush() -> None:
    sink = ListSink()
    book = JobBook(sink)
    for index in range(BATCH_SIZE - 1):
        book.create(f"j{index}", "import", "MSCU1234565", 0.0)
    assert sink.batches == []
    book.create("last", "import", "MSCU1234565", 0.0)
    assert [len(batch) for batch in sink.batches] == [BATCH_SIZE]
    book.advance("last", "on_igv", 1.0)
    book.flush()
    book.flush()
    assert [len(batch) for batch in sink.batches] == [BATCH_SIZE, 1]
    assert [u.job_id for u in sink.updates][:2] == ["j0", "j1"]


def test_a_failing_sink_keeps_the_updates_for_the_next_flush() -> None:
    sink = FailingSink(failures=1)
    book = JobBook(sink)
    book.create("j1", "export", "MSCU1234565", 0.0)
    with pytest.raises(OSError, match="disk full"):
        book.flush()
    book.advance("j1", "at_bay", 1.0)
    book.flush()
    assert [u.state for u in sink.updates] == ["created", "at_bay"]


def test_a_run_of_jobs_keeps_counts_open_jobs_and_ends_consistent() -> None:
    book = JobBook()
    run_jobs(book, 400)
    counts = book.counts()
    assert sum(counts.values()) == len(book) == 400
    assert book.ended == counts["done"] + counts["cancelled"] + counts["failed"]
    assert {job.job_id for job in book.open_jobs()} == {job.job_id for job in book if not job.final}
    assert 0 < len(book.open_jobs()) < 400
    assert min(counts["cancelled"], counts["failed"], counts["done"]) > 0


def test_rebuild_from_the_updates_gives_the_same_book() -> None:
    sink = ListSink()
    book = JobBook(sink)
    run_jobs(book, 300)
    book.flush()
    rebuilt = JobBook.rebuild(sink.updates)
    assert list(rebuilt) == list(book)
    assert (rebuilt.counts(), rebuilt.ended, rebuilt.skipped) == (book.counts(), book.ended, 0)
    assert [job.job_id for job in rebuilt.open_jobs()] == [job.job_id for job in book.open_jobs()]


def test_rebuild_bridges_lost_steps_and_skips_what_cannot_have_happened() -> None:
    sink = ListSink()
    book = JobBook(sink)
    book.create("a", "export", "MSCU1234565", 0.0)
    steps: list[JobState] = ["at_bay", "on_igv", "in_corridor", "delivered", "done"]
    for t, state in enumerate(steps, start=1):
        book.advance("a", state, float(t), igv_id="igv-1" if state == "on_igv" else None)
    book.create("b", "import", "MSCU7654321", 2.0)
    book.advance("b", "on_igv", 3.0)
    book.flush()
    updates = sink.updates
    backwards = JobUpdate(job_id="b", kind="import", state="created", container_number="MSCU7654321", sim_time_s=4.0)
    after_end = JobUpdate(job_id="a", kind="export", state="cancelled", container_number="MSCU1234565", sim_time_s=9.0)
    other_kind = JobUpdate(job_id="b", kind="export", state="delivered", container_number="MSCU7654321")
    lost_steps = [u for u in updates if not (u.job_id == "a" and u.state in {"created", "on_igv", "delivered"})]
    rebuilt = JobBook.rebuild([*lost_steps, backwards, after_end, other_kind, "noise"])  # type: ignore[list-item]
    assert rebuilt.skipped == 4
    assert (rebuilt.get("a").state, rebuilt.get("a").updated_s) == ("done", 5.0)
    assert (rebuilt.get("b").state, rebuilt.ended) == ("on_igv", 1)


def test_a_rebuilt_book_writes_only_later_changes_to_its_sink() -> None:
    first = ListSink()
    book = JobBook(first)
    book.create("j1", "import", "MSCU1234565", 0.0)
    book.flush()
    later = ListSink()
    rebuilt = JobBook.rebuild(first.updates, later)
    rebuilt.advance("j1", "on_igv", 1.0, igv_id="igv-2")
    rebuilt.flush()
    assert [(u.state, u.igv_id) for u in later.updates] == [("on_igv", "igv-2")]

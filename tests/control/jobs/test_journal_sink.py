"""Jobs journalled to a real SQLite journal file and rebuilt from it after reopening, corrupt rows included."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bus.journal import Journal, JournalError
from bus.messages import Heartbeat, JobUpdate
from control.jobs import BATCH_SIZE, JobBook, JournalJobSink, load_jobs
from tests.control.jobs.runs import run_jobs


def _journalled_run(path: Path, jobs: int = 250) -> JobBook:
    with Journal.open(path) as journal:
        sink = JournalJobSink(journal)
        book = JobBook(sink)
        run_jobs(book, jobs)
        journal.append(Heartbeat(sender="sim", role="engine", seq=1))  # other traffic in the same journal
        book.flush()
        assert sink.written == journal.count(types=JobUpdate)
    return book


def _corrupt(path: Path, seq: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET payload = ? WHERE seq = ?", (b"\x00garbage", seq))


def _seq_of(path: Path, job_id: str, state: str) -> int:
    with Journal.open(path) as journal:
        return next(e.seq for e in journal.replay(types=JobUpdate)
                    if isinstance(e.message, JobUpdate) and (e.message.job_id, e.message.state) == (job_id, state))


def test_a_run_reloaded_from_the_journal_file_is_identical(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    book = _journalled_run(path)
    with Journal.open(path) as journal:
        assert journal.count(types=JobUpdate) > 2 * BATCH_SIZE  # several batches, one partial
        rebuilt = load_jobs(journal)
    assert list(rebuilt) == list(book)
    assert (rebuilt.counts(), rebuilt.ended, rebuilt.skipped) == (book.counts(), book.ended, 0)


def test_a_corrupt_step_is_skipped_and_counted_and_the_next_snapshot_restores_the_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    book = _journalled_run(path)
    done = next(job for job in book if job.state == "done" and job.kind == "export")
    _corrupt(path, _seq_of(path, done.job_id, "in_corridor"))
    with Journal.open(path) as journal:
        rebuilt = load_jobs(journal)
        assert journal.corrupt_skipped == 1
    assert rebuilt.skipped == 1
    assert list(rebuilt) == list(book)


def test_a_corrupt_last_step_leaves_only_that_job_behind(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    book = _journalled_run(path)
    done = next(job for job in book if job.state == "done" and job.kind == "import")
    _corrupt(path, _seq_of(path, done.job_id, "done"))
    with Journal.open(path) as journal:
        rebuilt = load_jobs(journal)
    assert rebuilt.skipped == 1
    assert rebuilt.get(done.job_id).state == "on_truck"
    assert rebuilt.ended == book.ended - 1
    assert [job for job in rebuilt if job.job_id != done.job_id] == [job for job in book if job.job_id != done.job_id]


def test_a_reloaded_book_carries_on_writing_to_the_same_journal(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    book = _journalled_run(path, jobs=30)
    job = book.open_jobs()[0]
    with Journal.open(path) as journal:
        resumed = load_jobs(journal, sink=JournalJobSink(journal))
        resumed.advance(job.job_id, "cancelled", 10_000.0, detail="restart")
        resumed.flush()
    with Journal.open(path) as journal:
        again = load_jobs(journal)
    assert (again.get(job.job_id).state, again.ended, again.skipped) == ("cancelled", book.ended + 1, 0)


def test_an_end_journalled_twice_is_skipped_on_reload(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with Journal.open(path) as journal:
        book = JobBook(JournalJobSink(journal))
        book.create("j1", "import", "MSCU1234565", 0.0)
        book.advance("j1", "failed", 1.0)
        book.flush()
        journal.append(JobUpdate(job_id="j1", kind="import", state="done", container_number="MSCU1234565",
                                 sim_time_s=2.0))
        rebuilt = load_jobs(journal)
    assert (rebuilt.get("j1").state, rebuilt.ended, rebuilt.skipped) == ("failed", 1, 1)


def test_a_journal_that_refuses_the_batch_raises_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    with Journal.open(path) as journal:
        book = JobBook(JournalJobSink(journal))
        book.create("j1", "import", "MSCU1234565", 0.0)
    # a closed journal reconnects on demand, so make the file itself unusable
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(JournalError, match="cannot append to journal"):
        book.flush()

"""Job updates in the durable journal, and the job book rebuilt from it after a restart or for a report."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bus.journal import CorruptEntry, Journal
from bus.messages import JobUpdate
from control.jobs.book import JobBook, JobSink

__all__ = ["JournalJobSink", "job_histories", "load_jobs"]


class JournalJobSink:
    """Appends `JobUpdate` messages to a `Journal` (SQLite file or PostgreSQL), one transaction per batch."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.written = 0
        """Updates acknowledged by the journal so far."""

    def write(self, updates: Sequence[JobUpdate]) -> None:
        """Store the batch durably (all or none); raises `JournalError` if the journal cannot."""
        self._journal.append_many(updates)
        self.written += len(updates)


def job_histories(journal: Journal) -> dict[str, list[JobUpdate]]:
    """Each job's journalled updates in order, keyed by job id (corrupt rows skipped): what the control room and
    the demo show of a container's way."""
    histories: dict[str, list[JobUpdate]] = {}
    for entry in journal.replay(types=JobUpdate, on_corrupt=lambda _entry: None):
        if isinstance(entry.message, JobUpdate):
            histories.setdefault(entry.message.job_id, []).append(entry.message)
    return histories


def load_jobs(journal: Journal, *, sink: JobSink | None = None) -> JobBook:
    """The job book replayed from the journal's `JobUpdate` entries (``sink`` gets only later changes).

    A corrupt row is skipped and counted in the book's ``skipped``, as are updates the replay cannot apply.
    """
    corrupt = 0

    def count(_entry: CorruptEntry) -> None:
        nonlocal corrupt
        corrupt += 1

    def updates() -> Iterator[JobUpdate]:
        for entry in journal.replay(types=JobUpdate, on_corrupt=count):
            if isinstance(entry.message, JobUpdate):
                yield entry.message

    book = JobBook.rebuild(updates(), sink)
    book.skipped += corrupt
    return book

"""Jobs (issue 7): one container move each, its states along the export or import flow, the job book that validates
every change, and its journal (``JobUpdate`` messages) from which a restart rebuilds the book."""

from control.jobs.book import BATCH_SIZE, JobBook, JobSink
from control.jobs.journal_sink import JournalJobSink, job_histories, load_jobs
from control.jobs.model import FINAL_STATES, JOB_FLOW, Job, JobError, allowed_next

__all__ = ["BATCH_SIZE", "FINAL_STATES", "JOB_FLOW", "Job", "JobBook", "JobError", "JobSink", "JournalJobSink",
           "allowed_next", "job_histories", "load_jobs"]

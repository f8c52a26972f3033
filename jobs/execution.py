"""Running one attempt of a job: claim, run the kind, publish the file, record the outcome.

Celery delivers at least once. What makes that safe:
- the claim is a compare-and-set (queued -> running), so a duplicate message does nothing;
- a redelivered message (the worker died) takes the job over by bumping `attempts`, and
  every later write of the dead attempt is conditioned on its attempt number;
- result files are written under a temporary name and renamed into place on success, so
  nothing half-written can ever be downloaded.
"""

from __future__ import annotations

import logging
import os
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections
from django.db.models import QuerySet
from django.utils import timezone

from explorer.models import Award
from explorer.search import SearchForm, awards_matching
from jobs import progress, quotas
from jobs.kinds import KINDS
from jobs.models import Job, JobData, State
from jobs.progress import JobCancelled, JobLost, Reporter

logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """A failure whose message is fit for the user (bad filters, too many rows...)."""


@dataclass
class Outcome:
    result: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None  # a temporary file from Run.temp_file(), renamed on success
    file_name: str = ""  # the name offered to the browser
    content_type: str = ""
    rows: int | None = None
    data: dict[str, Any] | None = None  # the full structured result (JobData), if any
    expires: bool = False  # kept data (a result set) expires like a file does


@dataclass
class Run:
    """What a kind's runner gets: the job, its params and a progress reporter."""

    job: Job
    reporter: Reporter

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def awards(self) -> QuerySet[Award]:
        """The awards matching the job's saved search filters."""
        form = SearchForm(self.params.get("filters") or {})
        if not form.is_valid():  # validated at submit; this guards a later schema change
            raise JobFailed("The saved filters are no longer valid: " + "; ".join(form.errors))
        return awards_matching(form.cleaned_data)

    def temp_file(self, suffix: str) -> Path:
        """A private path for this attempt's result file (never served under this name)."""
        directory = Path(settings.EXPORT_ROOT) / "tmp"
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{self.job.id}.attempt{self.job.attempts}{suffix}"


def execute(job_id: str, *, redelivered: bool, worker: str) -> str:
    """Run the job if this delivery may; returns what happened (for logs and tests)."""
    close_old_connections()
    job = claim(job_id, redelivered=redelivered, worker=worker)
    if job is None:
        return "skipped"
    reporter = Reporter(job)
    reporter.started()
    progress.publish_queue(job.queue, coalesce=True)
    run = Run(job=job, reporter=reporter)
    try:
        outcome = KINDS[job.kind].run(run)
    except JobLost:
        logger.warning("job %s was taken over by another attempt", job.id)
        _remove_temp_files(job)
        return "lost"
    except JobCancelled:
        _remove_temp_files(job)
        _finish(job, State.CANCELLED, message="Cancelled")
        return "cancelled"
    except SoftTimeLimitExceeded:
        _remove_temp_files(job)
        limit = _duration(settings.JOB_SOFT_TIME_LIMIT)
        _finish(job, State.FAILED, error=f"The job took longer than its limit of {limit} and was stopped.")
        return "failed"
    except JobFailed as exc:
        _remove_temp_files(job)
        _finish(job, State.FAILED, error=str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("job %s failed", job.id, extra={"job_id": str(job.id)})
        _remove_temp_files(job)
        _finish(job, State.FAILED, error=_plain_error(exc), trace=traceback.format_exc())
        return "failed"
    return _succeed(job, outcome)


def claim(job_id: str, *, redelivered: bool, worker: str) -> Job | None:
    """Move the job to running for this attempt, or None if this delivery must not run it.

    One read, then one compare-and-set on what was read (state, attempt and sequence
    number), which also records the start in the history and shows "Starting". A write
    between the two (a queue push bumps the sequence number) makes it read again.
    """
    while True:
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            return None
        if job.state == State.QUEUED:
            event = "started"
        elif job.state == State.RUNNING and redelivered:
            # The broker redelivered it because the worker running it died: take it over.
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                _fail_lost(job)
                return None
            event = "restarted after the worker was lost"
        else:
            return None  # finished, cancelled, or a duplicate message while it runs elsewhere
        now = timezone.now()
        changes = {
            "state": State.RUNNING,
            "heartbeat_at": now,
            "worker": worker[:200],
            "attempts": job.attempts + 1,
            "progress_done": 0,
            "progress_message": "Starting",
            "progress_seq": job.progress_seq + 1,
            "history": [
                *job.history,
                {"at": now.isoformat(), "event": event, "attempt": job.attempts + 1, "worker": worker},
            ],
        }
        if job.state == State.QUEUED:
            changes["started_at"] = now
        read = {"state": job.state, "attempts": job.attempts, "progress_seq": job.progress_seq}
        if Job.objects.filter(pk=job_id, **read).update(**changes):
            for name, value in changes.items():
                setattr(job, name, value)
            return job


def _fail_lost(job: Job) -> None:
    error = f"The job stopped {job.attempts} times because its worker was lost; it was not retried again."
    Job.objects.filter(pk=job.pk, state=State.RUNNING, attempts=job.attempts).update(
        state=State.FAILED, finished_at=timezone.now(), error=error
    )
    job.refresh_from_db()
    progress.bump_and_publish([job])


def _succeed(job: Job, outcome: Outcome) -> str:
    updates: dict[str, Any] = {"result": outcome.result}
    if outcome.file is not None:
        final = Path(settings.EXPORT_ROOT) / f"{job.id}{outcome.file.suffix}"
        # The rename is atomic on one filesystem: the download sees no file or the whole file.
        os.replace(outcome.file, final)
        updates |= {
            "file_path": str(final),
            "file_name": outcome.file_name,
            "file_size": final.stat().st_size,
            "file_rows": outcome.rows,
            "content_type": outcome.content_type,
        }
    if outcome.file is not None or outcome.expires:
        updates["expires_at"] = timezone.now() + timedelta(days=settings.EXPORT_RETENTION_DAYS)
    if job.progress_total is not None:
        # The last progress update may have been throttled away: write the total too.
        updates |= {"progress_done": job.progress_total, "progress_total": job.progress_total}
    if outcome.data is not None:
        # Written before the state changes, so "succeeded" is never seen without its data.
        # A lost attempt may write it too: the same params give the same data.
        JobData.objects.update_or_create(job_id=job.id, defaults={"payload": outcome.data})
    if not _finish(job, State.SUCCEEDED, message="Done", **updates):
        return "lost"
    if outcome.file is not None:
        quotas.expire_over_storage(owner_id=job.owner_id)  # oldest files past the user's quota
    return "succeeded"


def _finish(
    job: Job, state: State, *, message: str = "", error: str = "", trace: str = "", **updates: Any
) -> bool:
    now = timezone.now()
    entry = {"at": now.isoformat(), "event": state.value, "attempt": job.attempts}
    changes = {
        "state": state,
        "finished_at": now,
        "heartbeat_at": now,
        "progress_message": message or error[:200],
        "error": error,
        "traceback": trace,
        "history": [*job.history, entry],
        **updates,
    }
    attempt = Job.objects.filter(pk=job.pk, state=State.RUNNING, attempts=job.attempts)
    # A compare-and-set on the sequence number too, so the fragment below carries the
    # number written without reading the row back; a push from elsewhere (a cancel
    # request) in between makes it read the number again.
    while not attempt.filter(progress_seq=job.progress_seq).update(
        progress_seq=job.progress_seq + 1, **changes
    ):
        seq = attempt.values_list("progress_seq", flat=True).first()
        if seq is None:
            return False
        job.progress_seq = seq
    for name, value in changes.items():
        setattr(job, name, value)
    job.progress_seq += 1
    progress.publish(job)
    # No queue push here: positions behind a finished job do not change, and the next
    # job's start (which follows at once while any wait) pushes them with fresh ETAs.
    return True


def _remove_temp_files(job: Job) -> None:
    directory = Path(settings.EXPORT_ROOT) / "tmp"
    for path in directory.glob(f"{job.id}.attempt{job.attempts}*"):
        path.unlink(missing_ok=True)


def _duration(seconds: int) -> str:
    """'25 minutes', '90 seconds': a limit in the words a user reads (never '0 minutes')."""
    number, unit = (seconds // 60, "minute") if seconds % 60 == 0 else (seconds, "second")
    return f"{number} {unit}{'' if number == 1 else 's'}"


def _plain_error(exc: Exception) -> str:
    """What the user reads: no traceback, no internals (staff see those in the admin)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"The result file could not be written ({os.strerror(exc.errno)}). Staff have the details."
    return "The job failed because of an internal error. Staff have the details; try again later."

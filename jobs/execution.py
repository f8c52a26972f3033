"""Running one attempt of a job: claim it, run its kind, publish the file, record the end.

Celery delivers at least once. What makes that safe:
- the claim is a compare-and-set (queued -> running), so a duplicate message does nothing;
- a redelivered message (the worker died) takes the job over by bumping `attempts`, and
  every later write of the dead attempt is conditioned on its attempt number;
- result files are written under a temporary name and renamed into place on success, so
  nothing half-written can ever be downloaded.
The state changes themselves are jobs/lifecycle.py's.
"""

from __future__ import annotations

import logging
import os
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from jobs import lifecycle, maintenance
from jobs.kinds import KINDS
from jobs.kinds.base import JobCancelled, JobFailed, JobLost, Outcome, Reporter, Run
from jobs.models import Job, JobData

logger = logging.getLogger(__name__)


def execute(job_id: str, *, redelivered: bool, worker: str) -> str:
    """Run the job if this delivery may; returns what happened (for logs and tests)."""
    close_old_connections()
    job = lifecycle.claim(job_id, redelivered=redelivered, worker=worker)
    if job is None:
        return "skipped"
    if job.attempts > 1:
        # A taken-over attempt's partial file: its worker died, or writes no more that counts.
        _remove_temp_files(job, earlier=True)
    lifecycle.announce_queue(job.queue, coalesce=True)
    run = Run(job=job, reporter=Reporter(job, write=lifecycle.record_progress))
    try:
        outcome = KINDS[job.kind].run(run)
    except JobLost:
        logger.warning("job %s was taken over by another attempt", job.id)
        _remove_temp_files(job)
        return "lost"
    except JobCancelled:
        _remove_temp_files(job)
        return "cancelled" if lifecycle.stop(job) else "lost"
    except SoftTimeLimitExceeded:
        _remove_temp_files(job)
        limit = _duration(settings.JOB_SOFT_TIME_LIMIT)
        lifecycle.fail(job, error=f"The job took longer than its limit of {limit} and was stopped.")
        return "failed"
    except JobFailed as exc:
        _remove_temp_files(job)
        lifecycle.fail(job, error=str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("job %s failed", job.id, extra={"job_id": str(job.id)})
        _remove_temp_files(job)
        lifecycle.fail(job, error=_plain_error(exc), trace=traceback.format_exc())
        return "failed"
    return _succeed(job, outcome)


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
    if not lifecycle.finish(job, **updates):
        return "lost"
    if outcome.file is not None:
        maintenance.expire_over_storage(owner_id=job.owner_id)  # oldest files past the quota
    return "succeeded"


def _remove_temp_files(job: Job, *, earlier: bool = False) -> None:
    """This attempt's temporary files (Run.temp_file), or those of the attempts before it."""
    prefix = f"{job.id}.attempt"
    for path in (Path(settings.EXPORT_ROOT) / "tmp").glob(f"{prefix}*"):
        number = path.name[len(prefix) :].split(".", 1)[0]
        if number.isdigit() and (int(number) < job.attempts if earlier else int(number) == job.attempts):
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

"""The periodic upkeep of jobs (run by Celery beat through jobs/tasks.py): expiring old
results, catching jobs whose worker went silent, sweeping uploads no job will read."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from explorer.models import ResultSet, ResultSetMember
from jobs import lifecycle, quotas, services, uploads
from jobs.models import PENDING_STATES, Job, JobData, State


def expire(job: Job, *, reason: str = lifecycle.EXPIRED_MESSAGE) -> bool:
    """Mark a finished job expired and delete what it kept (file, result set, report data)."""
    expired = lifecycle.expire(job, message=reason)
    # After the state change, so no page offers what is being deleted.
    if job.file_path:
        Path(job.file_path).unlink(missing_ok=True)
    ResultSet.objects.filter(pk=job.id).delete()
    ResultSetMember.objects.filter(set_id=job.id).delete()
    JobData.objects.filter(job=job).delete()
    return expired


def expire_files() -> int:
    """Expire the results past their retention."""
    expired = 0
    for job in Job.objects.filter(state=State.SUCCEEDED, expires_at__lte=timezone.now()).iterator():
        expired += expire(job)
    # Temporary files of attempts that died without cleaning up.
    cutoff = time.time() - settings.CELERY_TASK_TIME_LIMIT * 2
    for path in (Path(settings.EXPORT_ROOT) / "tmp").glob("*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
    return expired


def expire_over_storage(*, owner_id: int) -> list[Job]:
    """Expire the user's oldest result files beyond EXPORT_STORAGE_QUOTA_MB (jobs/quotas.py);
    called after a job's file is published. The jobs expired."""
    reason = f"Expired early: your result files passed your {quotas.storage_quota_text()} storage quota"
    return [job for job in quotas.over_storage(owner_id=owner_id) if expire(job, reason=reason[:200])]


def check_stale_jobs() -> int:
    """Requeue (or fail, after JOB_MAX_ATTEMPTS) running jobs whose heartbeat stopped.

    Usually the broker redelivers a dead worker's message first; this catches the rest
    (a lost connection to the database, a hard time limit, a message gone for good).
    A job that moved meanwhile (it wrote progress, so it lives) is left alone.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS)
    stale = Job.objects.filter(state=State.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    )
    handled = 0
    for job in stale:
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            error = (
                f"The job stopped responding and was given up after {job.attempts} attempts. Try again later."
            )
            handled += lifecycle.fail(job, error=error, retry=False)
        elif lifecycle.requeue(job, reason="heartbeat stopped"):
            services.enqueue(job)
            handled += 1
    return handled


def remove_orphaned_uploads(*, older_than: float | None = None) -> int:
    """Delete stored uploads that no pending import job will read (cancelled while
    queued, given up as stale); younger ones may belong to a job being submitted."""
    directory = Path(settings.UPLOAD_ROOT)
    if not directory.is_dir():
        return 0
    cutoff = time.time() - (settings.UPLOAD_ORPHAN_SECONDS if older_than is None else older_than)
    pending = {
        job.params.get("upload")
        for job in Job.objects.filter(kind="import", state__in=PENDING_STATES).only("params")
    }
    removed = 0
    for path in directory.iterdir():
        if path.is_file() and path.name not in pending and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed + uploads.remove_stale(
        older_than=settings.UPLOAD_ORPHAN_SECONDS if older_than is None else older_than
    )

"""Celery tasks: thin wrappers that take ids and call the job modules."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from celery import Task, shared_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from jobs import execution, progress
from jobs.models import Job, JobData, State

logger = logging.getLogger(__name__)


@worker_process_init.connect
def _in_worker_process(**kwargs: object) -> None:
    progress.worker_process = True


@shared_task(bind=True, name="jobs.tasks.run_job")
def run_job(self: Task, job_id: str) -> str:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    outcome = execution.execute(job_id, redelivered=redelivered, worker=self.request.hostname or "")
    logger.info("job %s %s", job_id, outcome, extra={"job_id": job_id, "outcome": outcome})
    return outcome


@shared_task(name="jobs.tasks.expire_files")
def expire_files() -> int:
    """Delete results past their retention (files, result sets, report data) and mark
    their jobs expired."""
    from explorer.models import ResultSetMember

    expired = 0
    for job in Job.objects.filter(state=State.SUCCEEDED, expires_at__lte=timezone.now()).iterator():
        if Job.objects.filter(pk=job.pk, state=State.SUCCEEDED).update(
            state=State.EXPIRED, progress_message="The result expired and was deleted"
        ):
            expired += 1
        # After the state change, so no page offers what is being deleted.
        if job.file_path:
            Path(job.file_path).unlink(missing_ok=True)
        ResultSetMember.objects.filter(set_id=job.id).delete()
        JobData.objects.filter(job=job).delete()
    # Temporary files of attempts that died without cleaning up.
    cutoff = timezone.now().timestamp() - settings.CELERY_TASK_TIME_LIMIT * 2
    for path in (Path(settings.EXPORT_ROOT) / "tmp").glob("*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
    return expired


@shared_task(name="jobs.tasks.check_stale_jobs")
def check_stale_jobs() -> int:
    """Requeue (or fail, after JOB_MAX_ATTEMPTS) running jobs whose heartbeat stopped.

    Usually the broker redelivers a dead worker's message first; this catches the rest
    (a lost connection to the database, a hard time limit, a message gone for good).
    """
    cutoff = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS)
    stale = Job.objects.filter(state=State.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True)
    )
    handled = 0
    for job in stale:
        same_attempt = Job.objects.filter(pk=job.pk, state=State.RUNNING, attempts=job.attempts)
        now = timezone.now()
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            error = (
                f"The job stopped responding and was given up after {job.attempts} attempts. Try again later."
            )
            changed = same_attempt.update(
                state=State.FAILED,
                finished_at=now,
                error=error,
                progress_message=error[:200],
                progress_seq=F("progress_seq") + 1,
                history=[*job.history, {"at": now.isoformat(), "event": "failed", "attempt": job.attempts}],
            )
        else:
            # The timeline says why the job started again.
            event = {"at": now.isoformat(), "event": "requeued: heartbeat stopped", "attempt": job.attempts}
            changed = same_attempt.update(
                state=State.QUEUED,
                progress_message="Requeued: its worker stopped responding",
                history=[*job.history, event],
            )
            if changed:
                from jobs.services import enqueue

                job.refresh_from_db()
                enqueue(job)
        if changed:
            handled += 1
            job.refresh_from_db()
            progress.bump_and_publish([job])
    return handled


@shared_task(name="jobs.tasks.remove_orphaned_uploads")
def remove_orphaned_uploads() -> int:
    from jobs import imports

    return imports.remove_orphaned_uploads()

"""Celery tasks: thin shells that take ids and call the job modules. Only Celery imports
this module; everything else enqueues by task name (jobs/services.py)."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.signals import worker_process_init

from jobs import execution, maintenance, progress, worker_process

logger = logging.getLogger(__name__)


@worker_process_init.connect
def _in_worker_process(**kwargs: object) -> None:
    progress.use_sender_thread()
    worker_process.isolate()


@shared_task(bind=True, name="jobs.tasks.run_job")
def run_job(self: Task, job_id: str) -> str:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    outcome = execution.execute(job_id, redelivered=redelivered, worker=self.request.hostname or "")
    logger.info("job %s %s", job_id, outcome, extra={"job_id": job_id, "outcome": outcome})
    return outcome


@shared_task(name="jobs.tasks.expire_files")
def expire_files() -> int:
    return maintenance.expire_files()


@shared_task(name="jobs.tasks.check_stale_jobs")
def check_stale_jobs() -> int:
    return maintenance.check_stale_jobs()


@shared_task(name="jobs.tasks.remove_orphaned_uploads")
def remove_orphaned_uploads() -> int:
    return maintenance.remove_orphaned_uploads()

"""Submitting, cancelling and re-running jobs: what views, the API and the admin call."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404

from config.celery import app
from jobs import kinds, lifecycle, progress, quotas
from jobs.kinds.base import KindSpec, params_hash
from jobs.models import PENDING_STATES, Job, State

logger = logging.getLogger(__name__)

# The task every job runs, by name: only Celery imports jobs/tasks.py.
RUN_JOB = "jobs.tasks.run_job"


class InvalidParams(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid job parameters")
        self.errors = errors


class TooManyJobs(Exception):
    retry_after: int | None = None  # seconds, when known (the API sends it as Retry-After)

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"You already have {cap} jobs queued or running. Wait for one to finish or cancel one."
        )


class HourlyQuotaExceeded(TooManyJobs):
    def __init__(self, quota: int, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        Exception.__init__(
            self,
            f"You started {quota} jobs in the last hour, the most one user may. "
            f"The next can start in about {minutes} minute{'' if minutes == 1 else 's'}.",
        )
        self.retry_after = retry_after


def job_for_user(user: User, job_id: object) -> Job:
    """The user's own job, or 404 (another user's job id is indistinguishable from none)."""
    return get_object_or_404(Job, pk=job_id, owner=user)


def validate_params(*, user: User, kind: object, params: object) -> tuple[KindSpec, dict[str, Any]]:
    """The kind and normalized params of a valid request, or InvalidParams with field errors."""
    allowed = kinds.allowed(user)
    spec = allowed.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise InvalidParams({"kind": [f"Choose one of: {', '.join(sorted(allowed))}."]})
    if not isinstance(params, Mapping):
        raise InvalidParams({"params": ["Parameters must be a JSON object."]})
    form = spec.form(data=params, user=user)
    if not form.is_valid():
        raise InvalidParams({name: [str(m) for m in messages] for name, messages in form.errors.items()})
    return spec, form.normalized()


def submit_job(*, user: User, kind: object, params: object) -> tuple[Job, bool]:
    """Create and enqueue a job, or return the identical pending one: (job, created).

    Concurrent identical submits are settled by the partial unique constraint; the
    per-user cap by locking the user's row, so two requests cannot both pass the count.
    """
    spec, normalized = validate_params(user=user, kind=kind, params=params)
    digest = params_hash(spec.name, normalized)
    try:
        with transaction.atomic():
            list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
            # A few rows at most (the cap): one read finds the twin and counts them.
            pending = Job.objects.filter(owner=user, state__in=PENDING_STATES)
            keys = list(pending.values_list("pk", "kind", "params_hash"))
            for pk, pending_kind, pending_hash in keys:
                if (pending_kind, pending_hash) == (spec.name, digest):
                    return Job.objects.get(pk=pk), False
            if len(keys) >= settings.JOB_ACTIVE_CAP:
                raise TooManyJobs(settings.JOB_ACTIVE_CAP)
            if wait := quotas.hourly_wait(user=user):
                raise HourlyQuotaExceeded(settings.JOB_HOURLY_QUOTA, wait)
            job = lifecycle.create(
                owner=user, kind=spec.name, params=normalized, params_hash=digest, queue=spec.queue
            )
            transaction.on_commit(lambda: enqueue(job))
    except IntegrityError:
        # The other request of a concurrent pair created it first.
        twin = Job.objects.filter(
            owner=user, kind=spec.name, params_hash=digest, state__in=PENDING_STATES
        ).first()
        if twin is None:
            raise
        return twin, False
    return job, True


QUEUE_UNREACHABLE = (
    "The job could not be queued: the job queue (RabbitMQ) is unreachable. Try again in a minute."
)


def enqueue(job: Job) -> None:
    """Publish the job's message (after commit, so the worker always finds the row)."""
    progress.publish(job)  # before the worker can publish a later state
    try:
        # The limits travel in the message and win over the worker's own: name them here.
        app.send_task(
            RUN_JOB,
            args=[str(job.id)],
            task_id=str(job.id),
            queue=job.queue,
            soft_time_limit=settings.JOB_SOFT_TIME_LIMIT,
            time_limit=settings.CELERY_TASK_TIME_LIMIT,
        )
    except Exception:  # the broker is unreachable and kombu has given up retrying
        logger.exception("could not queue job %s", job.id, extra={"job_id": str(job.id)})
        # A job whose message was never published would stay queued for good (and hold a
        # place under the user's cap): end it at once, in words the user can act on. The
        # caller's object is updated too: the submit answers with this state.
        lifecycle.fail(job, error=QUEUE_UNREACHABLE, event="failed: could not be queued")


def cancel_job(*, user: User, job: Job) -> Job:
    """Cancel a pending job: a queued one at once, a running one at its next chunk."""
    if job.owner_id != user.pk and not user.is_staff:
        raise PermissionError("not your job")
    was_queued = job.state == State.QUEUED
    if lifecycle.cancel(job) and was_queued and job.state == State.CANCELLED:
        # Best effort: the worker would skip it anyway, because the row is no longer queued.
        app.control.revoke(str(job.id))
        lifecycle.announce_queue(job.queue)
    return job


def rerun_job(*, user: User, job: Job) -> tuple[Job, bool]:
    """Submit a new job with the same kind and params as a finished one (as its owner)."""
    return submit_job(user=job.owner if user.is_staff else user, kind=job.kind, params=job.params)

"""Submitting, cancelling and re-running jobs: what views, the API and the admin call."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone

from jobs import progress, quotas
from jobs.kinds import KINDS, params_hash
from jobs.models import PENDING_STATES, Job, Kind, State

logger = logging.getLogger(__name__)


RESULT_SET_GONE = "This result set is not one of your finished scans, or it has expired."


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


def job_for_user(user: AbstractBaseUser, job_id: object) -> Job:
    """The user's own job, or 404 (another user's job id is indistinguishable from none)."""
    return get_object_or_404(Job, pk=job_id, owner=user)


def result_set_for_user(user: AbstractBaseUser, set_id: object) -> Job | None:
    """The user's finished scan job whose matches are result set `set_id`, or None."""
    return Job.objects.filter(pk=set_id, owner=user, kind=Kind.SCAN, state=State.SUCCEEDED).first()


def validate_params(*, user: AbstractBaseUser, kind: object, params: object) -> dict[str, Any]:
    """The normalized params of a valid request, or InvalidParams with field errors."""
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None or (spec.staff_only and not user.is_staff):
        allowed = sorted(k for k, s in KINDS.items() if user.is_staff or not s.staff_only)
        raise InvalidParams({"kind": [f"Choose one of: {', '.join(allowed)}."]})
    if not isinstance(params, Mapping):
        raise InvalidParams({"params": ["Parameters must be a JSON object."]})
    form = spec.form(data=params)
    if not form.is_valid():
        raise InvalidParams({name: list(messages) for name, messages in form.errors.items()})
    normalized = form.normalized()
    result_set = (normalized.get("filters") or {}).get("set")
    if result_set and not result_set_for_user(user, result_set):
        raise InvalidParams({"filters": [f"set: {RESULT_SET_GONE}"]})
    return normalized


def submit_job(*, user: AbstractBaseUser, kind: str, params: object) -> tuple[Job, bool]:
    """Create and enqueue a job, or return the identical pending one: (job, created).

    Concurrent identical submits are settled by the partial unique constraint; the
    per-user cap by locking the user's row, so two requests cannot both pass the count.
    """
    normalized = validate_params(user=user, kind=kind, params=params)
    digest = params_hash(kind, normalized)
    spec = KINDS[kind]
    try:
        with transaction.atomic():
            list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
            # A few rows at most (the cap): one read finds the twin and counts them.
            pending = Job.objects.filter(owner=user, state__in=PENDING_STATES)
            keys = list(pending.values_list("pk", "kind", "params_hash"))
            for pk, pending_kind, pending_hash in keys:
                if (pending_kind, pending_hash) == (kind, digest):
                    return Job.objects.get(pk=pk), False
            if len(keys) >= settings.JOB_ACTIVE_CAP:
                raise TooManyJobs(settings.JOB_ACTIVE_CAP)
            if wait := quotas.hourly_wait(user=user):
                raise HourlyQuotaExceeded(settings.JOB_HOURLY_QUOTA, wait)
            job = Job.objects.create(
                owner=user,
                kind=kind,
                params=normalized,
                params_hash=digest,
                queue=spec.queue,
                history=[{"at": timezone.now().isoformat(), "event": "created"}],
            )
            transaction.on_commit(lambda: enqueue(job))
    except IntegrityError:
        # The other request of a concurrent pair created it first.
        twin = _pending_twin(user, kind, digest)
        if twin is None:
            raise
        return twin, False
    return job, True


def _pending_twin(user: AbstractBaseUser, kind: str, digest: str) -> Job | None:
    return Job.objects.filter(owner=user, kind=kind, params_hash=digest, state__in=PENDING_STATES).first()


def enqueue(job: Job) -> None:
    """Publish the job's message (after commit, so the worker always finds the row)."""
    from jobs.tasks import run_job

    progress.publish(job)  # before the worker can publish a later state
    try:
        # The limits travel in the message and win over the worker's own: name them here.
        run_job.apply_async(
            args=[str(job.id)],
            task_id=str(job.id),
            queue=job.queue,
            soft_time_limit=settings.JOB_SOFT_TIME_LIMIT,
            time_limit=settings.CELERY_TASK_TIME_LIMIT,
        )
    except Exception:  # the broker is unreachable and kombu has given up retrying
        logger.exception("could not queue job %s", job.id, extra={"job_id": str(job.id)})
        _fail_unqueued(job)


QUEUE_UNREACHABLE = (
    "The job could not be queued: the job queue (RabbitMQ) is unreachable. Try again in a minute."
)


def _fail_unqueued(job: Job) -> None:
    """A job whose message was never published would stay queued for good (and hold a
    place under the user's cap): end it at once, in words the user can act on."""
    now = timezone.now()
    history = [*job.history, {"at": now.isoformat(), "event": "failed: could not be queued"}]
    if Job.objects.filter(pk=job.pk, state=State.QUEUED).update(
        state=State.FAILED, finished_at=now, error=QUEUE_UNREACHABLE, history=history
    ):
        job.refresh_from_db()  # also the caller's object: the submit answers with this state
        progress.bump_and_publish([job])


def cancel_job(*, user: AbstractBaseUser, job: Job) -> Job:
    """Cancel a pending job: a queued one at once, a running one at its next chunk."""
    if job.owner_id != user.pk and not user.is_staff:
        raise PermissionError("not your job")
    now = timezone.now()
    cancelled = Job.objects.filter(pk=job.pk, state=State.QUEUED).update(
        state=State.CANCELLED, finished_at=now, progress_message="Cancelled before it started"
    )
    if cancelled:
        from config.celery import app

        # Best effort: the worker would skip it anyway, because the row is no longer queued.
        app.control.revoke(str(job.id))
        job.refresh_from_db()
        progress.bump_and_publish([job])
        progress.publish_queue(job.queue)
        return job
    if Job.objects.filter(pk=job.pk, state=State.RUNNING).update(cancel_requested=True):
        job.refresh_from_db()
        job.progress_message = "Cancelling…"
        progress.bump_and_publish([job])
    job.refresh_from_db()
    return job


def rerun_job(*, user: AbstractBaseUser, job: Job) -> tuple[Job, bool]:
    """Submit a new job with the same kind and params as a finished one (as its owner)."""
    return submit_job(user=job.owner if user.is_staff else user, kind=job.kind, params=job.params)

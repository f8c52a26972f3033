"""Queue position and ETA of a job, computed from the Job table (DESIGN.md "Jobs")."""

from __future__ import annotations

import statistics
import time
from typing import TypedDict

from django.db import connection
from django.utils import timezone

from jobs.models import Job, State

# Recent finished jobs of a kind that the ETA of a queued job is estimated from.
ETA_SAMPLE = 20


class Position(TypedDict):
    queue_position: int | None
    eta_seconds: int | None


def position_and_eta(job: Job, *, position: int | None = None, typical: float | None = None) -> Position:
    """Pass `position` and `typical` when they are known (a whole queue being pushed)."""
    if job.state == State.QUEUED:
        if position is None:
            position = _counted_position(job)
        if typical is None:
            typical = typical_run_seconds(job.kind)
        eta = None if typical is None else round(position * typical)
        return {"queue_position": position, "eta_seconds": eta}
    if job.state == State.RUNNING:
        return {"queue_position": None, "eta_seconds": _remaining_seconds(job)}
    return {"queue_position": None, "eta_seconds": None}


def _counted_position(job: Job) -> int:
    """Jobs ahead of it, plus one. A submit shows the new job twice (the pushed fragment and
    the API's answer): the count is kept on the instance until its sequence number moves."""
    known = getattr(job, "_counted_position", None)
    if known is not None and known[0] == job.progress_seq:
        return known[1]
    # Counted on every submit and page with a queued job: plain SQL is half the ORM's cost.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {Job._meta.db_table} WHERE queue = %s AND state = %s AND created_at < %s",
            [job.queue, State.QUEUED, connection.ops.adapt_datetimefield_value(job.created_at)],
        )
        position = cursor.fetchone()[0] + 1
    job._counted_position = (job.progress_seq, position)  # type: ignore[attr-defined]  # a per-instance memo
    return position


# Per process, a kind's typical run time is reused for this long: ETAs are estimates, and
# recomputing it for every pushed fragment was 4 % of the web server's time at 40 jobs/s.
TYPICAL_CACHE_SECONDS = 10.0
_typical: dict[str, tuple[float, float | None]] = {}


def typical_run_seconds(kind: str) -> float | None:
    """Median run time of the last ETA_SAMPLE successful jobs of this kind."""
    now = time.monotonic()
    cached = _typical.get(kind)
    if cached and cached[0] > now:
        return cached[1]
    value = _median_run_seconds(kind)
    _typical[kind] = (now + TYPICAL_CACHE_SECONDS, value)
    return value


def _median_run_seconds(kind: str) -> float | None:
    recent = Job.objects.filter(kind=kind, state=State.SUCCEEDED, started_at__isnull=False).order_by(
        "-finished_at"
    )[:ETA_SAMPLE]
    durations = [
        (j.finished_at - j.started_at).total_seconds()
        for j in recent.only("started_at", "finished_at")
        if j.finished_at and j.started_at
    ]
    return statistics.median(durations) if durations else None


def _remaining_seconds(job: Job) -> int | None:
    """From the job's own rate so far."""
    if not job.started_at or not job.progress_total or job.progress_done <= 0:
        return None
    elapsed = (timezone.now() - job.started_at).total_seconds()
    rate = job.progress_done / max(elapsed, 1e-6)
    return max(0, round((job.progress_total - job.progress_done) / rate))

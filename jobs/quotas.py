"""Per-user quotas over time: jobs started per rolling hour, and stored result files.

JOB_ACTIVE_CAP bounds how many jobs run at once; these bound what a user (or a scanner
with their token) piles up over time. JOB_HOURLY_QUOTA refuses a new job (429) once the
user started that many in the last hour. EXPORT_STORAGE_QUOTA_MB caps the result files a
user keeps: when a new file takes them past it, their oldest files expire at once, the
way retention expires them (jobs/maintenance.py), and the newest is always kept.
Either setting at 0 turns its quota off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from jobs.models import Job, State

WINDOW = timedelta(hours=1)
MB = 1024 * 1024


def hourly_wait(*, user: User) -> int:
    """Seconds until the user may start another job under JOB_HOURLY_QUOTA (0: now).

    Reads at most JOB_HOURLY_QUOTA rows along the (owner, -created_at) index. Called by
    submit_job with the user's row locked, so concurrent submits cannot both pass.
    """
    quota = settings.JOB_HOURLY_QUOTA
    if not quota:
        return 0
    now = timezone.now()
    recent = list(
        Job.objects.filter(owner=user, created_at__gt=now - WINDOW)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:quota]
    )
    if len(recent) < quota:
        return 0
    # The oldest of the last `quota` jobs leaves the window first and makes room.
    return max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds()))


def storage_quota_text() -> str:
    return filesizeformat(settings.EXPORT_STORAGE_QUOTA_MB * MB)


def over_storage(*, owner_id: int) -> list[Job]:
    """The user's succeeded jobs whose files lie beyond EXPORT_STORAGE_QUOTA_MB, oldest
    files counted last. The newest file is never among them, even when it alone is larger
    than the quota: it is the one the user just asked for."""
    quota = settings.EXPORT_STORAGE_QUOTA_MB * MB
    if not quota:
        return []
    files = Job.objects.filter(owner_id=owner_id, state=State.SUCCEEDED).exclude(file_path="")
    total, over = 0, []
    for position, (pk, size) in enumerate(
        files.order_by("-finished_at", "-created_at").values_list("pk", "file_size")
    ):
        total += size or 0
        if total > quota and position > 0:
            over.append(pk)
    return list(Job.objects.filter(pk__in=over)) if over else []


@dataclass(frozen=True)
class Usage:
    jobs_this_hour: int
    hourly_quota: int  # 0: no quota
    stored_bytes: int
    storage_quota_bytes: int  # 0: no quota


def usage(*, user: User) -> Usage:
    """What the jobs page shows of the user's quotas."""
    since = timezone.now() - WINDOW
    stored = Job.objects.filter(owner=user, state=State.SUCCEEDED).exclude(file_path="")
    return Usage(
        jobs_this_hour=Job.objects.filter(owner=user, created_at__gt=since).count(),
        hourly_quota=settings.JOB_HOURLY_QUOTA,
        stored_bytes=stored.aggregate(total=Sum("file_size"))["total"] or 0,
        storage_quota_bytes=settings.EXPORT_STORAGE_QUOTA_MB * MB,
    )

"""The figures of the staff System page: queues, workers, jobs, wait and run times.

Every figure that needs the broker or Redis is fetched with a short timeout and comes
back as None ("unavailable") when that service is down, so the page answers in about a
second whatever is broken; the database figures are one query each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from kombu import Connection

from jobs import local_worker
from jobs.kinds import KINDS
from jobs.models import Job, State

TIMEOUT_SECONDS = 1.0
PING_SECONDS = 0.5  # workers answer a ping in milliseconds; the page waits this long
WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class QueueDepth:
    name: str
    messages: int | None  # None: the queue is not declared yet (no worker has started)
    consumers: int | None


@dataclass(frozen=True)
class Timing:
    kind: str
    jobs: int
    wait_median: float | None
    wait_p95: float | None
    run_median: float | None
    run_p95: float | None


def queue_depths() -> list[QueueDepth] | None:
    """Messages waiting (ready, not yet delivered) and consumers per job queue, or None."""
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=TIMEOUT_SECONDS) as broker:
            broker.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
            depths = []
            for queue in settings.CELERY_TASK_QUEUES:
                # Passive: only asks, never creates (or redeclares with other arguments).
                # A missing queue closes the channel, so each question gets its own.
                channel = broker.channel()
                try:
                    _, messages, consumers = channel.queue_declare(queue=queue.name, passive=True)
                except broker.channel_errors:
                    messages = consumers = None
                finally:
                    channel.close()
                depths.append(QueueDepth(queue.name, messages, consumers))
            return depths
    except Exception:  # a broker that is down, or a queue not declared yet: "unavailable"
        return None


def workers_online() -> list[str] | None:
    """Names of the workers that answer a ping, or None when the broker is unreachable."""
    if settings.LOCAL_WORKER:
        return ["local worker (inside the web process)"] if local_worker.ready.is_set() else []
    from config.celery import app

    try:
        replies = app.control.ping(timeout=PING_SECONDS)
    except Exception:
        return None
    return sorted(name for reply in replies for name in reply)


def channel_layer_ok() -> bool | None:
    """Can this process reach Redis (live updates)? None in local mode (nothing to reach)."""
    if not settings.REDIS_URL:
        return None
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
    )
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def jobs_per_state() -> dict[str, int]:
    counts = dict(Job.objects.values_list("state").annotate(n=Count("pk")).order_by())
    return {state.label: counts.get(state.value, 0) for state in State}


def failures_since(*, since: timedelta = WINDOW) -> int:
    return Job.objects.filter(state=State.FAILED, finished_at__gte=timezone.now() - since).count()


_TIMINGS = """
    SELECT kind, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))
    FROM jobs_job
    WHERE finished_at >= %s AND started_at IS NOT NULL
    GROUP BY kind
"""


def timings(*, since: timedelta = WINDOW) -> list[Timing]:
    """Median and p95 of queue wait and run time per kind, over jobs that finished (in
    any final state) within `since` after starting."""
    with connection.cursor() as cursor:
        cursor.execute(_TIMINGS, [timezone.now() - since])
        rows = {kind: row for kind, *row in cursor.fetchall()}
    return [
        Timing(kind, int(row[0]), *(None if value is None else round(float(value), 1) for value in row[1:]))
        for kind in KINDS
        if (row := rows.get(kind))
    ]


def timing_chart(rows: list[Timing]) -> dict[str, object]:
    """The data of the page's bar chart (static/js/charts.js format)."""
    return {
        "labels": [row.kind for row in rows],
        "series": [
            {"label": label, "values": [getattr(row, field) or 0 for row in rows]}
            for label, field in (
                ("Wait, median", "wait_median"),
                ("Wait, p95", "wait_p95"),
                ("Run, median", "run_median"),
                ("Run, p95", "run_p95"),
            )
        ],
        "format": "seconds",
    }

"""The one module that talks to the channel layer, and the reporter a running job uses.

Every message is the job's status fragment (templates/jobs/_job_status.html), rendered
from the Job row and sent to its owner's group only. Sending is best effort: the channel
layer delivers at most once, so pages also get the state from the database when they
(re)connect or poll; a failed send is logged and never fails the job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from jobs import queueing
from jobs.models import Job, State

logger = logging.getLogger(__name__)

# Progress messages per second per job, at most: enough to look live, cheap for the layer.
MAX_UPDATES_PER_SECOND = 4
# A state change pushes new positions to at most this many queued jobs behind it.
QUEUE_PUSH_LIMIT = 100

# Local mode: the in-memory channel layer lives in daphne's event loop, so the worker
# thread hands its sends to that loop (set by jobs/local_worker.py).
local_loop: asyncio.AbstractEventLoop | None = None


class JobCancelled(Exception):
    """The owner cancelled the running job; it stops at the next chunk."""


class JobLost(Exception):
    """Another attempt took the job over (a redelivery after this worker was presumed dead)."""


def user_group(user_id: int) -> str:
    """The channel-layer group of one user's sockets (never leaves the server)."""
    return f"jobs.user.{user_id}"


def render_status(
    job: Job, *, oob: bool = False, request: HttpRequest | None = None, **known: float | None
) -> str:
    """The job's status fragment; `oob` for socket pushes (htmx swaps them in by id)."""
    context = {"job": job, "oob": oob, **queueing.position_and_eta(job, **known)}
    return render_to_string("jobs/_job_status.html", context, request=request)


def publish(job: Job, **known: float | None) -> None:
    """Push the job's current fragment to its owner's sockets."""
    html = render_status(job, oob=True, **known)
    _send(user_group(job.owner_id), {"type": "job.update", "job_id": str(job.id), "html": html})


def bump_and_publish(jobs: Iterable[Job]) -> None:
    """Give each job a new sequence number and push it (state changed outside a worker)."""
    jobs = list(jobs)
    seqs = _bump_seqs([job.pk for job in jobs]) if jobs else {}
    for job in jobs:
        job.progress_seq = seqs.get(job.pk, job.progress_seq)
        publish(job)


def publish_queue(queue: str, *, coalesce: bool = False) -> None:
    """A job left the queue (started, cancelled): the ones behind it moved up.

    One query reads the waiting jobs and one bumps all their sequence numbers; the
    fragments then go out in one batch (bench/throughput_bench.py: per-job sends and
    updates made this 140 ms per started job with 20 jobs waiting). A worker passes
    `coalesce`: when jobs start faster than QUEUE_PUSH_INTERVAL, the pushes in between
    are folded into one that follows at the end of the interval.
    """
    if coalesce and not _due(queue):
        return
    _push_queue(queue)


QUEUE_PUSH_INTERVAL = 0.5
_queue_lock = threading.Lock()
_queue_pushed: dict[str, float] = {}
_queue_pending: set[str] = set()


def _due(queue: str) -> bool:
    """True to push now; otherwise make sure one trailing push is scheduled."""
    now = time.monotonic()
    with _queue_lock:
        wait = _queue_pushed.get(queue, 0.0) + QUEUE_PUSH_INTERVAL - now
        if wait <= 0:
            _queue_pushed[queue] = now
            return True
        if queue not in _queue_pending:
            _queue_pending.add(queue)
            timer = threading.Timer(wait, _trailing_push, [queue])
            timer.daemon = True
            timer.start()
        return False


def _trailing_push(queue: str) -> None:
    with _queue_lock:
        _queue_pending.discard(queue)
        _queue_pushed[queue] = time.monotonic()
    try:
        _push_queue(queue)
    except Exception:
        logger.warning("could not push queue positions of %s", queue, exc_info=True)
    finally:
        connection.close()  # this timer thread's own connection


def _push_queue(queue: str) -> None:
    waiting = list(
        Job.objects.filter(queue=queue, state=State.QUEUED).order_by("created_at")[:QUEUE_PUSH_LIMIT]
    )
    if not waiting:
        return
    seqs = _bump_seqs([job.pk for job in waiting])
    typical: dict[str, float | None] = {}
    messages = []
    for position, job in enumerate(waiting, start=1):
        if job.kind not in typical:
            typical[job.kind] = queueing.typical_run_seconds(job.kind)
        job.progress_seq = seqs.get(job.pk, job.progress_seq)
        html = render_status(job, oob=True, position=position, typical=typical[job.kind])
        messages.append(
            (user_group(job.owner_id), {"type": "job.update", "job_id": str(job.id), "html": html})
        )
    _send_all(messages)


def _bump_seqs(job_ids: list[object]) -> dict[object, int]:
    prepared = [Job._meta.pk.get_db_prep_value(job_id, connection) for job_id in job_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Job._meta.db_table} SET progress_seq = progress_seq + 1 "
            f"WHERE id IN ({', '.join(['%s'] * len(prepared))}) RETURNING id, progress_seq",
            prepared,
        )
        rows = cursor.fetchall()
    return {Job._meta.pk.to_python(job_id): seq for job_id, seq in rows}


def _send(group: str, message: dict[str, str]) -> None:
    _send_all([(group, message)])


def _send_all(messages: list[tuple[str, dict[str, str]]]) -> None:
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send() -> None:
        await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))

    try:
        if local_loop is not None and local_loop.is_running():
            asyncio.run_coroutine_threadsafe(send(), local_loop).result(5)
        elif worker_process and not isinstance(layer, InMemoryChannelLayer):
            asyncio.run_coroutine_threadsafe(send(), _sender_loop()).result(5)
        else:  # daphne's sync views (asgiref hands this to its loop), tests
            async_to_sync(send)()
    except Exception:
        logger.warning("could not push %d job update(s)", len(messages), exc_info=True)


# Set in each Celery pool process (jobs/tasks.py): sends go through one lasting loop there.
worker_process = False
_sender: tuple[int, asyncio.AbstractEventLoop] | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> asyncio.AbstractEventLoop:
    """One event loop per worker process, in a daemon thread, for its sends.

    async_to_sync would make a new loop per call, and the Redis layer a new connection for
    each loop: 2 ms a message instead of 0.2 ms. Keyed by pid: a forked pool child makes
    its own (a loop's thread does not survive fork).
    """
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-sender", daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]


class Reporter:
    """Progress for one attempt of one running job.

    `update()` is cheap to call per chunk: it writes to the database and pushes a fragment
    at most MAX_UPDATES_PER_SECOND times a second (and always when forced), writes a
    heartbeat, and raises JobCancelled or JobLost when the job should stop. Each write is
    a compare-and-set on (state=running, attempts=this attempt) returning the new seq.
    """

    def __init__(self, job: Job) -> None:
        self.job = job
        self.attempt = job.attempts
        self._last = 0.0

    def started(self) -> None:
        """Push the running state that the claim wrote ("Starting")."""
        self._last = time.monotonic()
        publish(self.job)
        self._pause_for_tests()

    def update(
        self,
        done: int | None = None,
        *,
        total: int | None = None,
        message: str | None = None,
        force: bool = False,
    ) -> None:
        job = self.job
        if done is not None:
            job.progress_done = done
        if total is not None:
            job.progress_total = total
        if message is not None:
            job.progress_message = message[:200]
        now = time.monotonic()
        if not force and now - self._last < 1 / MAX_UPDATES_PER_SECOND:
            return
        self._last = now
        job.heartbeat_at = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Job._meta.db_table} SET progress_done = %s, progress_total = %s, "
                "progress_message = %s, heartbeat_at = %s, progress_seq = progress_seq + 1 "
                "WHERE id = %s AND state = %s AND attempts = %s AND NOT cancel_requested "
                "RETURNING progress_seq",
                [
                    job.progress_done,
                    job.progress_total,
                    job.progress_message,
                    connection.ops.adapt_datetimefield_value(job.heartbeat_at),
                    Job._meta.pk.get_db_prep_value(job.pk, connection),
                    State.RUNNING,
                    self.attempt,
                ],
            )
            row = cursor.fetchone()
        if row is None:
            current = Job.objects.filter(pk=job.pk).values("state", "attempts", "cancel_requested").first()
            if current and current["cancel_requested"] and current["attempts"] == self.attempt:
                raise JobCancelled
            raise JobLost
        job.progress_seq = row[0]
        publish(job)
        self._pause_for_tests()

    def _pause_for_tests(self) -> None:
        if settings.JOB_TEST_SLOWDOWN_MS:
            time.sleep(settings.JOB_TEST_SLOWDOWN_MS / 1000)  # tests only: each state stays visible

    def check(self) -> None:
        """Between chunks: stop if cancelled (throttled like update)."""
        self.update()

"""Every change of a job's row, in one place: the job's state machine.

Each transition is one compare-and-set UPDATE on what the caller's instance says the row
holds (its state, attempt and sequence number). It writes the new state and fields,
appends one entry to the history and bumps the sequence number by exactly one; when it
wins, the instance is updated in place and the new state is pushed to the owner's
sockets. When another writer moved the row first (a cancel request, a queue push), the
row is read again and the transition tried again while it still applies. The return
value says whether it won.

    queued --claim--> running --finish--> succeeded --expire--> expired
      |                 |------fail-----> failed
      |                 |------stop-----> cancelled   (the worker, after request_cancel)
      |                 |------requeue--> queued      (its heartbeat stopped)
      |                 '------takeover-> running     (redelivered: its worker died)
      |------cancel---> cancelled
      '------fail-----> failed                        (the message could not be queued)

Progress is not a state change: it rewrites the progress fields and the heartbeat of the
running attempt under the same compare-and-set, with one sequence bump, and adds nothing
to the history (the job's timeline of state changes).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections, connection
from django.utils import timezone

from jobs import progress, queueing
from jobs.kinds.base import Written
from jobs.models import Job, State

logger = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, EXPIRED = (
    State.QUEUED, State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED, State.EXPIRED,
)  # fmt: skip

# transition: (the states it starts from, the state it ends in; None: the state stays)
TRANSITIONS: dict[str, tuple[frozenset[State], State | None]] = {
    "claim": (frozenset({QUEUED}), RUNNING),
    "takeover": (frozenset({RUNNING}), RUNNING),
    "progress": (frozenset({RUNNING}), None),
    "finish": (frozenset({RUNNING}), SUCCEEDED),
    "fail": (frozenset({QUEUED, RUNNING}), FAILED),
    "requeue": (frozenset({RUNNING}), QUEUED),
    "cancel": (frozenset({QUEUED}), CANCELLED),
    "request_cancel": (frozenset({RUNNING}), None),
    "stop": (frozenset({RUNNING}), CANCELLED),
    "expire": (frozenset({SUCCEEDED}), EXPIRED),
}
Fields = Mapping[str, Any] | Callable[[Job], Mapping[str, Any]]


def applies(transition: str, state: str) -> bool:
    return state in TRANSITIONS[transition][0]


def _transition(
    job: Job,
    transition: str,
    *,
    event: str | None,
    fields: Fields = {},  # noqa: B006 (never mutated)
    attempt_bound: bool = True,
    retry: bool = True,
    publish: bool = True,
) -> bool:
    """Apply `transition` to the row `job` was read from; see the module docstring.

    `fields` may be a function of the current row (re-evaluated after a re-read).
    `attempt_bound`: only while the row is still on the instance's attempt (a worker
    acting for its attempt). `retry=False`: give up when anything moved the row at all
    (the stale check must not act on a job that just showed signs of life).
    """
    sources, target = TRANSITIONS[transition]
    attempt = job.attempts
    while job.state in sources and (not attempt_bound or job.attempts == attempt):
        now = timezone.now()
        changes = dict(fields(job) if callable(fields) else fields)
        if target is not None:
            changes["state"] = target
        if event is not None:
            entry = {"at": now.isoformat(), "event": event}
            if job.attempts or changes.get("attempts"):
                entry["attempt"] = changes.get("attempts", job.attempts)
            if changes.get("worker"):
                entry["worker"] = changes["worker"]
            changes["history"] = [*job.history, entry]
        changes["progress_seq"] = job.progress_seq + 1
        read = {"state": job.state, "attempts": job.attempts, "progress_seq": job.progress_seq}
        if Job.objects.filter(pk=job.pk, **read).update(**changes):
            for name, value in changes.items():
                setattr(job, name, value)
            if publish:
                progress.publish(job)
            return True
        if not retry or not _reread(job):
            return False
    return False


def _reread(job: Job) -> bool:
    """Copy the row's current values onto the instance; False if the row is gone."""
    row = Job.objects.filter(pk=job.pk).first()
    if row is None:
        return False
    for field in Job._meta.concrete_fields:
        setattr(job, field.attname, getattr(row, field.attname))
    return True


# --- The transitions ---------------------------------------------------------------------


def create(*, owner: User, kind: str, params: dict[str, Any], params_hash: str, queue: str) -> Job:
    """A new queued job (the caller enqueues it after commit)."""
    return Job.objects.create(
        owner=owner,
        kind=kind,
        params=params,
        params_hash=params_hash,
        queue=queue,
        history=[{"at": timezone.now().isoformat(), "event": "created"}],
    )


def claim(job_id: str, *, redelivered: bool, worker: str) -> Job | None:
    """Move the job to running for a new attempt, or None if this delivery must not run it.

    A queued job starts; a running one is taken over only when the broker redelivered its
    message (its worker died), and failed instead after JOB_MAX_ATTEMPTS attempts.
    Finished jobs and duplicate messages are skipped.
    """
    job = Job.objects.filter(pk=job_id).first()
    while job is not None:
        if job.state == QUEUED:
            transition, event = "claim", "started"
        elif job.state == RUNNING and redelivered:
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                fail(
                    job,
                    error=f"The job stopped {job.attempts} times because its worker was lost; "
                    "it was not retried again.",
                )
                return None
            transition, event = "takeover", "restarted after the worker was lost"
        else:
            return None

        def starting(row: Job, *, first: bool = transition == "claim") -> dict[str, Any]:
            now = timezone.now()
            return {
                "heartbeat_at": now,
                "worker": worker[:200],
                "attempts": row.attempts + 1,
                "progress_done": 0,
                "progress_message": "Starting",
                **({"started_at": now} if first else {}),
            }

        if _transition(job, transition, event=event, fields=starting, attempt_bound=False, retry=False):
            return job
        job = Job.objects.filter(pk=job_id).first()  # moved meanwhile (a queue push): look again
    return None


def record_progress(job: Job) -> Written:
    """Write the running attempt's progress fields (already set on `job`) and heartbeat."""
    fields = {
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "progress_message": job.progress_message,
        "heartbeat_at": timezone.now(),
    }
    attempt = job.attempts
    if _transition(job, "progress", event=None, fields=fields) and not job.cancel_requested:
        return Written.OK
    if job.state == RUNNING and job.attempts == attempt and job.cancel_requested:
        return Written.CANCELLED
    return Written.LOST


def finish(job: Job, **fields: Any) -> bool:
    """The attempt succeeded; `fields` are its result (file, summary, expiry)."""
    now = timezone.now()
    done = {"finished_at": now, "heartbeat_at": now, "progress_message": "Done", "error": "", "traceback": ""}
    return _transition(job, "finish", event="succeeded", fields={**done, **fields})


def fail(job: Job, *, error: str, trace: str = "", event: str = "failed", retry: bool = True) -> bool:
    """The job failed, with `error` in words for its owner (staff see `trace`)."""
    now = timezone.now()
    fields = {
        "finished_at": now,
        "heartbeat_at": now,
        "progress_message": error[:200],
        "error": error,
        "traceback": trace,
    }
    return _transition(job, "fail", event=event, fields=fields, retry=retry)


def requeue(job: Job, *, reason: str) -> bool:
    """Back to the queue after its worker stopped responding (the caller enqueues it)."""
    fields = {"progress_message": "Requeued: its worker stopped responding"}
    return _transition(job, "requeue", event=f"requeued: {reason}", fields=fields, retry=False)


def cancel(job: Job) -> bool:
    """A queued job is cancelled at once; a running one is asked to stop at its next chunk
    (its worker then records `stop`). False if it was neither."""
    if job.state == QUEUED:
        fields = {"finished_at": timezone.now(), "progress_message": "Cancelled before it started"}
        if _transition(
            job, "cancel", event="cancelled before it started", fields=fields, attempt_bound=False
        ):
            return True
    if job.state == RUNNING and not job.cancel_requested:
        fields = {"cancel_requested": True, "progress_message": "Cancelling…"}
        return _transition(
            job, "request_cancel", event="cancel requested", fields=fields, attempt_bound=False
        )
    return False


def stop(job: Job) -> bool:
    """The running attempt saw the cancel request and stopped, leaving no file."""
    now = timezone.now()
    fields = {"finished_at": now, "heartbeat_at": now, "progress_message": "Cancelled"}
    return _transition(job, "stop", event="cancelled", fields=fields)


EXPIRED_MESSAGE = "The result expired and was deleted"


def expire(job: Job, *, message: str = EXPIRED_MESSAGE) -> bool:
    """Its result's retention is over (the caller deletes the file and data)."""
    fields = {"progress_message": message}
    return _transition(job, "expire", event="expired", fields=fields, attempt_bound=False)


# --- Queue positions ---------------------------------------------------------------------

# A state change pushes new positions to at most this many queued jobs behind it.
QUEUE_PUSH_LIMIT = 100
QUEUE_PUSH_INTERVAL = 0.5
_queue_lock = threading.Lock()
_queue_pushed: dict[str, float] = {}


def announce_queue(queue: str, *, coalesce: bool = False) -> None:
    """A job left the queue (started, cancelled): the ones behind it moved up.

    Not a transition: the waiting jobs' rows only get a new sequence number, so their new
    fragments (with the new positions) win over older ones in the page. One query reads
    them and one bumps them all; the fragments go out in one batch (bench/throughput_bench.py:
    per-job sends and updates made this 140 ms per started job with 20 jobs waiting). A
    worker passes `coalesce`: when jobs start faster than QUEUE_PUSH_INTERVAL, the pushes in
    between are folded into one that follows at the end of the interval.
    """
    if coalesce and not _due(queue):
        return
    _push_queue(queue)


def _due(queue: str) -> bool:
    """True to push now; otherwise make sure one trailing push is scheduled."""
    now = time.monotonic()
    with _queue_lock:
        wait = _queue_pushed.get(queue, 0.0) + QUEUE_PUSH_INTERVAL - now
        if wait <= 0:
            _queue_pushed[queue] = now
            return True
    _trailing.schedule(queue, now + wait)
    return False


class _TrailingPushes:
    """The trailing pushes of one process, made by one long-lived thread that keeps its
    database connection while pushes keep coming and gives it back after IDLE_SECONDS
    without one (a timer thread per push opened a new PostgreSQL session each time:
    bench/throughput_bench.py opened 0.11-0.12 sessions a job, now 0.03). A forked pool
    process starts afresh, with a thread of its own on first use."""

    IDLE_SECONDS = 5.0

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Also in a forked child, which has none of its parent's threads."""
        self._wake = threading.Condition()
        self._due: dict[str, float] = {}  # queue: when its trailing push is due (monotonic)
        self._thread: threading.Thread | None = None  # the one running; another one ends

    def schedule(self, queue: str, at: float) -> None:
        with self._wake:
            if queue in self._due:
                return  # already scheduled: this push folds into it
            self._due[queue] = at
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="trailing queue pushes", daemon=True)
                self._thread.start()
            self._wake.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Drop the scheduled pushes, end the thread and wait for it to close its connection;
        the next push starts a new one."""
        with self._wake:
            thread, self._thread = self._thread, None
            self._due.clear()
            self._wake.notify()
        if thread is not None:
            thread.join(timeout)

    def _current(self) -> bool:
        return self._thread is threading.current_thread()

    def _run(self) -> None:
        try:
            while self._current():
                due = self._wait_for_due(self.IDLE_SECONDS)
                if due is None:  # idle: the session goes back until there is work again
                    connection.close()
                    due = self._wait_for_due(None) or []
                for queue in due:
                    self._push(queue)
        finally:
            connection.close()

    def _push(self, queue: str) -> None:
        with _queue_lock:
            _queue_pushed[queue] = time.monotonic()
        close_old_connections()  # CONN_MAX_AGE and a broken connection, as for a request
        try:
            _push_queue(queue)
        except Exception:
            logger.warning("could not push queue positions of %s", queue, exc_info=True)
        finally:
            close_old_connections()

    def _wait_for_due(self, timeout: float | None) -> list[str] | None:
        """The queues whose push is due, once one is; None after `timeout` seconds with
        nothing scheduled, or once stopped."""
        with self._wake:
            idle_until = None if timeout is None else time.monotonic() + timeout
            while self._current():
                now = time.monotonic()
                if due := [queue for queue, at in self._due.items() if at <= now]:
                    for queue in due:
                        del self._due[queue]
                    return due
                if self._due:
                    self._wake.wait(min(self._due.values()) - now)
                elif idle_until is None:
                    self._wake.wait()
                elif now < idle_until:
                    self._wake.wait(idle_until - now)
                else:
                    return None
            return None


_trailing = _TrailingPushes()
os.register_at_fork(after_in_child=_trailing.reset)


def stop_trailing_pushes() -> None:
    """Drop this process's scheduled queue pushes and close their thread's connection
    (tests/conftest.py after each test, so none reaches into the next or holds the test
    database open)."""
    _trailing.stop()


def _push_queue(queue: str) -> None:
    waiting = list(Job.objects.filter(queue=queue, state=QUEUED).order_by("created_at")[:QUEUE_PUSH_LIMIT])
    if not waiting:
        return
    seqs = _bump_seqs([job.pk for job in waiting])
    typical: dict[str, float | None] = {}
    positioned = []
    for position, job in enumerate(waiting, start=1):
        if job.kind not in typical:
            typical[job.kind] = queueing.typical_run_seconds(job.kind)
        job.progress_seq = seqs.get(job.pk, job.progress_seq)
        positioned.append((job, {"position": position, "typical": typical[job.kind]}))
    progress.publish_all(positioned)


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

"""The one module that talks to the channel layer: job fragments to their owners' sockets.

Every message is the job's status fragment (templates/jobs/_job_status.html), rendered
from the Job row and sent to its owner's group only. Sending is best effort: the channel
layer delivers at most once, so pages also get the state from the database when they
(re)connect or poll; a failed send is logged and never fails the job. Which state changes
are pushed is jobs/lifecycle.py's business; this module only renders and sends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterable, Mapping

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.http import HttpRequest
from django.template.loader import render_to_string

from jobs import queueing
from jobs.models import Job

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    """The channel-layer group of one user's sockets (never leaves the server)."""
    return f"jobs.user.{user_id}"


def render_status(
    job: Job,
    *,
    oob: bool = False,
    request: HttpRequest | None = None,
    position: int | None = None,
    typical: float | None = None,
) -> str:
    """The job's status fragment; `oob` for socket pushes (htmx swaps them in by id).

    `position` and `typical` (its kind's typical run time) when the caller knows them.
    """
    context = {"job": job, "oob": oob, **queueing.position_and_eta(job, position=position, typical=typical)}
    return render_to_string("jobs/_job_status.html", context, request=request)


def publish(job: Job) -> None:
    """Push the job's current fragment to its owner's sockets."""
    publish_all([(job, {})])


def publish_all(jobs: Iterable[tuple[Job, Mapping[str, float | None]]]) -> None:
    """Push several fragments in one batch; each job with what render_status may know."""
    messages = [
        (
            user_group(job.owner_id),
            {"type": "job.update", "job_id": str(job.id), "html": render_status(job, oob=True, **known)},  # type: ignore[arg-type]  # known: percent/eta, floats
        )
        for job, known in jobs
    ]
    _send_all(messages)


# How this process reaches the channel layer (see use_event_loop, use_sender_thread).
_local_loop: asyncio.AbstractEventLoop | None = None
_sender_thread = False
_sender: tuple[int, asyncio.AbstractEventLoop] | None = None
_sender_lock = threading.Lock()


def use_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Local mode: the in-memory channel layer lives in daphne's event loop, so sends from
    the in-process worker's thread are handed to that loop (jobs/local_worker.py)."""
    global _local_loop
    _local_loop = loop


def use_sender_thread() -> None:
    """A Celery pool process: sends go through one lasting event loop in a thread of its
    own (jobs/tasks.py). async_to_sync would make a new loop per call, and the Redis layer
    a new connection for each loop: 2 ms a message instead of 0.2 ms."""
    global _sender_thread
    _sender_thread = True


def _send_all(messages: list[tuple[str, dict[str, str]]]) -> None:
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send() -> None:
        await asyncio.gather(*(layer.group_send(group, message) for group, message in messages))

    try:
        if _local_loop is not None and _local_loop.is_running():
            asyncio.run_coroutine_threadsafe(send(), _local_loop).result(5)
        elif _sender_thread and not isinstance(layer, InMemoryChannelLayer):
            asyncio.run_coroutine_threadsafe(send(), _sender_loop()).result(5)
        else:  # daphne's sync views (asgiref hands this to its loop), tests
            async_to_sync(send)()
    except Exception:
        logger.warning("could not push %d job update(s)", len(messages), exc_info=True)


def _sender_loop() -> asyncio.AbstractEventLoop:
    """The worker process's sending loop, keyed by pid: a forked pool child makes its own
    (a loop's thread does not survive fork)."""
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-sender", daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]

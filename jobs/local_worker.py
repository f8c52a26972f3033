"""Local mode's worker: a Celery worker in a thread of the daphne process.

The in-memory broker and channel layer exist only inside one process (DESIGN.md
"Modes"), so `make run` (config/local.py) starts the worker in daphne's process once it
listens, and gives it daphne's event loop: the worker's socket pushes are handed to that
loop (jobs/progress.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from jobs import progress

logger = logging.getLogger(__name__)
_started = threading.Lock()
_worker_thread: threading.Thread | None = None
ready = threading.Event()  # set once the worker consumes from its queues


def start(loop: asyncio.AbstractEventLoop) -> None:
    global _worker_thread
    with _started:
        if _worker_thread is not None:
            return
        progress.use_event_loop(loop)
        _worker_thread = threading.Thread(target=_run, name="local-celery-worker", daemon=True)
        _worker_thread.start()


def _run() -> None:
    from config.celery import app as celery_app

    # Built in this thread: building the worker runs Celery's Django fixup, which closes
    # the calling thread's database connections, and in daphne's event loop thread Django
    # refuses that (the SynchronousOnlyOperation every local start used to print).
    worker = celery_app.WorkController(
        pool_cls="solo",
        concurrency=1,
        queues=["interactive", "bulk"],
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel="INFO",
        ready_callback=lambda consumer: ready.set(),
    )
    logger.info("local mode: started an in-process worker")
    worker.start()

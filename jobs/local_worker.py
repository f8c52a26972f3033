"""Local mode's worker: a Celery worker in a thread of the daphne process.

The in-memory broker and channel layer exist only inside one process (DESIGN.md
"Modes"), so `make run` (RUN_LOCAL_WORKER=1) starts the worker here. It is started from
inside the event loop on the first ASGI call, so that its socket pushes can be handed
to that loop (jobs/progress.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from jobs import progress

logger = logging.getLogger(__name__)
_started = threading.Lock()
_worker_thread: threading.Thread | None = None


def with_local_worker(application: Any) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        start(asyncio.get_running_loop())
        return await application(scope, receive, send)

    return app


def start(loop: asyncio.AbstractEventLoop) -> None:
    global _worker_thread
    with _started:
        if _worker_thread is not None:
            return
        from config.celery import app as celery_app

        progress.use_event_loop(loop)
        worker = celery_app.WorkController(
            pool_cls="solo",
            concurrency=1,
            queues=["interactive", "bulk"],
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="INFO",
        )
        _worker_thread = threading.Thread(target=worker.start, name="local-celery-worker", daemon=True)
        _worker_thread.start()
        logger.info("local mode: started an in-process worker")

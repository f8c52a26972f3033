"""`celery -A tests.slow_worker worker`: the real worker, pausing after each state and
progress write for TEST_PROGRESS_PAUSE_MS, so that tests can watch a small job run and
cancel it mid-way without huge data sets or sleeps of their own.

Test code only: the app itself never sleeps for tests. tests/services.py starts a worker
with this module when a test asks for the pause.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery.signals import worker_process_init

from config.celery import app

__all__ = ["app"]
PAUSE = int(os.environ.get("TEST_PROGRESS_PAUSE_MS", "0")) / 1000


@worker_process_init.connect
def _pause_after_writes(**kwargs: object) -> None:
    from jobs import lifecycle  # Django is set up in the pool process by now

    claim, record_progress = lifecycle.claim, lifecycle.record_progress

    def paused_claim(*args: Any, **kwargs: Any) -> Any:
        job = claim(*args, **kwargs)
        if job is not None:
            time.sleep(PAUSE)  # the "Starting" state stays visible
        return job

    def paused_progress(job: Any) -> Any:
        written = record_progress(job)
        time.sleep(PAUSE)
        return written

    lifecycle.claim, lifecycle.record_progress = paused_claim, paused_progress

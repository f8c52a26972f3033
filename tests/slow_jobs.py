"""A pause after each state and progress write of a real worker, for TEST_PROGRESS_PAUSE_MS,
so that tests can watch a small job run and cancel it mid-way without huge data sets or
sleeps of their own. Test code only: the app itself never sleeps for tests.

Importing this module connects the pause to Celery's worker_process_init, which a prefork
pool child and local mode's in-process worker both send once Django is set up. A separate
`celery worker` gets it through `-A tests.slow_worker`; `make run` through a
sitecustomize that imports this module (tests/jobs/test_local_mode.py).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery.signals import worker_process_init

PAUSE = int(os.environ.get("TEST_PROGRESS_PAUSE_MS", "0")) / 1000


@worker_process_init.connect
def _pause_after_writes(**kwargs: object) -> None:
    from jobs import lifecycle

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

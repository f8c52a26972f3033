"""`celery -A tests.slow_worker worker`: the real worker with tests/slow_jobs.py's pause
after each write (tests/services.py starts it when a test asks for the pause)."""

from __future__ import annotations

import tests.slow_jobs  # noqa: F401  (connects the pause)
from config.celery import app

__all__ = ["app"]

"""What a Celery pool process does once, before its first job: step aside for the pages.

Searches, facets and entity pages run in daphne on the same cores as the workers. A job
gives way to them twice (bench/search_load_bench.py):
- CPU: the process lowers its own priority to WORKER_NICE (its children, such as the
  export's reader process, inherit it). The kernel then gives a page's request the CPU
  first and the job whatever is left, which on an idle machine is all of it.
- Database: its sessions carry their own settings, libpq `options` from WORKER_DB_OPTIONS
  after a statement_timeout of the job's hard time limit, and an application_name that
  pg_stat_activity shows. With WORKER_DATABASE_URL they log in as another role, whose
  own `ALTER ROLE ... SET` settings apply as well.
The local in-process worker (a thread of daphne) does not call this: it shares the web
process's priority and connection settings.
"""

from __future__ import annotations

import os
from typing import Any

import dj_database_url
from django.conf import settings
from django.db import connections

APPLICATION_NAME = "philgeps-worker"
CONNECTION_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")


def worker_options(options: dict[str, Any]) -> dict[str, Any]:
    """The database OPTIONS of a worker: `options` with the worker's session settings."""
    timeout_ms = settings.CELERY_TASK_TIME_LIMIT * 1000
    parts = (options.get("options", ""), f"-c statement_timeout={timeout_ms}", settings.WORKER_DB_OPTIONS)
    libpq = " ".join(part for part in parts if part)
    # An application_name the database URL sets is the operator's (or a test's): it stays.
    return {"application_name": APPLICATION_NAME, **options, "options": libpq}


def lower_priority(nice: int) -> int:
    """Raise this process's niceness to `nice` (never lower it: that needs privileges)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    return os.getpriority(os.PRIO_PROCESS, 0)


def isolate() -> None:
    lower_priority(settings.WORKER_NICE)
    database = settings.DATABASES["default"]  # the dict every connection of this process reads
    if settings.WORKER_DATABASE_URL:
        role: dict[str, Any] = dict(dj_database_url.parse(settings.WORKER_DATABASE_URL))
        database.update({key: role[key] for key in CONNECTION_KEYS if key in role})
    database["OPTIONS"] = worker_options(database.get("OPTIONS", {}))
    # A connection inherited from the parent (made with the old settings) is dropped by
    # Celery's Django fixup on this same signal, without closing the parent's session.
    connections["default"].settings_dict.update(database)  # the same dict: a no-op, kept explicit

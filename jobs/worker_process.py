"""What a Celery pool process does once, before its first job: step aside for the pages.

Searches, facets and entity pages run in daphne on the same cores as the workers. A job
gives way to them (bench/search_load_bench.py):
- CPU: the process lowers its own priority to WORKER_NICE (its children, such as the
  export's reader process, inherit it). The kernel then gives a page's request the CPU
  first and the job whatever is left, which on an idle machine is all of it.
- Database: its sessions carry their own settings, libpq `options` from WORKER_DB_OPTIONS
  after a statement_timeout of the job's hard time limit, and an application_name that
  pg_stat_activity shows. With WORKER_DATABASE_URL they log in as another role, whose
  own `ALTER ROLE ... SET` settings apply as well.
- Database CPU: PostgreSQL serves every session at the same priority, so a report's
  aggregates take the cores from a page's search as an equal. With WORKER_DB_NICE and the
  server on this host, each new session's server process is reniced like the worker
  (renice_backend; parallel query is off for workers then, as its helpers would not be).
- A CPU quota: priority only orders processes that share a core, so the jobs still take the
  other core, and a search beside them ran 2.7x slower at p95. WORKER_CPU_CGROUP names a
  cgroup the operator made with a quota (one core, say); each pool process joins it, with
  its local database sessions' server processes. The jobs then get at most the quota in
  all, and the loaded p95 was 1.24-1.46x the idle one (bench/RESULTS.md).
The local in-process worker (a thread of daphne) does not call this: it shares the web
process's priority and connection settings.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

logger = logging.getLogger(__name__)

APPLICATION_NAME = "philgeps-worker"
CONNECTION_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")


def worker_options(options: dict[str, Any]) -> dict[str, Any]:
    """The database OPTIONS of a worker: `options` with the worker's session settings."""
    timeout_ms = settings.CELERY_TASK_TIME_LIMIT * 1000
    # Parallel helpers are server processes of their own, which keep priority 0 and the cgroup
    # of the postmaster.
    separate = settings.WORKER_DB_NICE or settings.WORKER_CPU_CGROUP
    serial = "-c max_parallel_workers_per_gather=0" if separate else ""
    parts = (
        options.get("options", ""),
        f"-c statement_timeout={timeout_ms}",
        serial,
        settings.WORKER_DB_OPTIONS,
    )
    libpq = " ".join(part for part in parts if part)
    # An application_name the database URL sets is the operator's (or a test's): it stays.
    return {"application_name": APPLICATION_NAME, **options, "options": libpq}


def lower_priority(nice: int) -> int:
    """Raise this process's niceness to `nice` (never lower it: that needs privileges)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    return os.getpriority(os.PRIO_PROCESS, 0)


LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")


def local_backend_pid(connection: BaseDatabaseWrapper) -> int | None:
    """The pid of this session's PostgreSQL server process, if that process is on this
    host: the pid is only looked up where the connection is local (a pid from another host
    could name any process here), and only a process named `postgres` is given."""
    host = connection.settings_dict.get("HOST") or ""
    if connection.vendor != "postgresql" or not (host in LOCAL_HOSTS or host.startswith("/")):
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        return pid if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres" else None
    except OSError:  # no /proc (not Linux), gone
        return None


def renice_backend(connection: BaseDatabaseWrapper, nice: int) -> bool:
    """Raise the niceness of this session's local PostgreSQL server process to `nice`, if
    it is ours to renice."""
    pid = local_backend_pid(connection)
    return pid is not None and _renice(pid, nice)


def _renice(pid: int, nice: int) -> bool:
    try:
        if os.getpriority(os.PRIO_PROCESS, pid) < nice:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError as error:  # another user's process, gone
        logger.info("worker database session %s keeps its priority: %s", pid, error)
        return False
    return True


def join_cgroup(pid: int, group: str) -> bool:
    """Move a process into the cgroup at `group` (its `cgroup.procs`, v1 or v2)."""
    try:
        (Path(group) / "cgroup.procs").write_text(f"{pid}\n")
    except OSError as error:  # not root, another user's process, gone
        logger.warning("process %s stays out of WORKER_CPU_CGROUP %s: %s", pid, group, error)
        return False
    return True


def _isolate_new_session(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    pid = local_backend_pid(connection)
    if pid is None:
        return
    if settings.WORKER_DB_NICE:
        _renice(pid, settings.WORKER_DB_NICE)
    if settings.WORKER_CPU_CGROUP:
        join_cgroup(pid, settings.WORKER_CPU_CGROUP)


def isolate() -> None:
    lower_priority(settings.WORKER_NICE)
    if settings.WORKER_CPU_CGROUP:
        join_cgroup(os.getpid(), settings.WORKER_CPU_CGROUP)  # its children (the export's reader) follow
    if settings.WORKER_DB_NICE or settings.WORKER_CPU_CGROUP:
        connection_created.connect(_isolate_new_session, dispatch_uid="worker-db-session")
    database = settings.DATABASES["default"]  # the dict every connection of this process reads
    if settings.WORKER_DATABASE_URL:
        role: dict[str, Any] = dict(dj_database_url.parse(settings.WORKER_DATABASE_URL))
        database.update({key: role[key] for key in CONNECTION_KEYS if key in role})
    database["OPTIONS"] = worker_options(database.get("OPTIONS", {}))
    # A connection inherited from the parent (made with the old settings) is dropped by
    # Celery's Django fixup on this same signal, without closing the parent's session.
    connections["default"].settings_dict.update(database)  # the same dict: a no-op, kept explicit

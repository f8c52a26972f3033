"""A worker pool process steps aside for the pages: lower CPU priority, its own database
session settings and role (jobs/worker_process.py)."""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, connections

from jobs import worker_process
from jobs.kinds.export import rows as exporters
from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]


def test_lower_priority_raises_niceness_and_never_lowers_it():
    # In a child process: the test process keeps its own priority.
    code = (
        "import os; from jobs.worker_process import lower_priority; "
        "print(os.getpriority(os.PRIO_PROCESS, 0), lower_priority(7), lower_priority(3))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    before, after, again = map(int, result.stdout.split())
    assert after == max(before, 7)
    assert again == after  # 3 would need privileges and would undo the isolation


def test_worker_options_add_the_timeout_and_name_after_the_existing_options(settings):
    settings.WORKER_DB_OPTIONS = "-c work_mem=3MB -c statement_timeout=5000"
    settings.CELERY_TASK_TIME_LIMIT = 100

    options = worker_process.worker_options({"options": "-c search_path=public", "sslmode": "prefer"})

    assert options["sslmode"] == "prefer"
    assert options["application_name"] == "philgeps-worker"
    # libpq applies -c settings in order: the operator's options win over the default.
    assert options["options"] == (
        "-c search_path=public -c statement_timeout=100000 -c work_mem=3MB -c statement_timeout=5000"
    )
    # A name the database URL gives (?application_name=...) is kept.
    assert worker_process.worker_options({"application_name": "mine"})["application_name"] == "mine"


@pytest.fixture
def worker_database(monkeypatch):
    """The default database settings, which isolate() changes in place, restored after."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    saved = copy.deepcopy(database)
    monkeypatch.setattr(worker_process, "lower_priority", lambda nice: nice)  # not this process
    yield database
    database.clear()
    database.update(saved)


def _session_settings(params: dict) -> tuple[str, str, str]:
    raw = connection.get_new_connection(params)
    try:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('work_mem'), current_setting('statement_timeout'),"
                " current_setting('application_name')"
            )
            return cursor.fetchone()
    finally:
        raw.close()


@pytest.mark.django_db
def test_a_worker_session_runs_with_the_worker_settings(settings, worker_database):
    settings.WORKER_DB_OPTIONS = "-c work_mem=3MB"
    settings.WORKER_DATABASE_URL = ""
    settings.CELERY_TASK_TIME_LIMIT = 90

    worker_process.isolate()

    assert _session_settings(connection.get_connection_params()) == ("3MB", "90s", "philgeps-worker")
    # The export's reader process connects with the worker's settings too (it is handed
    # DATABASE_KEYS of the worker's connection).
    sql = (
        "SELECT current_setting('statement_timeout'), current_setting('application_name'),"
        " current_setting('jit')"
    )
    assert list(exporters._rows_from_reader_process(sql, [])) == [("90s", "philgeps-worker", "off")]


def _admin(params: dict, sql: str) -> None:
    """Outside the test's transaction, so that a new connection sees it."""
    raw = connection.get_new_connection(params)
    try:
        raw.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute(sql)
    finally:
        raw.close()


@pytest.mark.django_db
def test_a_worker_database_url_logs_in_as_that_role(settings, worker_database):
    admin = connection.get_connection_params()
    _admin(admin, "DROP ROLE IF EXISTS philgeps_test_worker")
    _admin(admin, "CREATE ROLE philgeps_test_worker LOGIN")
    # The role's own settings apply at login, under the options of the connection.
    _admin(admin, "ALTER ROLE philgeps_test_worker SET work_mem = '5MB'")
    try:
        host = worker_database["HOST"] or "127.0.0.1"
        settings.WORKER_DB_OPTIONS = ""
        settings.WORKER_DATABASE_URL = (
            f"postgres://philgeps_test_worker@{host.replace('/', '%2F')}:{worker_database['PORT'] or 5432}"
            f"/{worker_database['NAME']}"
        )

        worker_process.isolate()

        assert worker_database["USER"] == "philgeps_test_worker"
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            with raw.cursor() as cursor:
                cursor.execute("SELECT current_user, current_setting('work_mem')")
                assert cursor.fetchone() == ("philgeps_test_worker", "5MB")
        finally:
            raw.close()
    finally:
        _admin(admin, "DROP ROLE IF EXISTS philgeps_test_worker")


def test_worker_settings_refuse_a_cpu_cgroup_that_is_no_cgroup(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "WORKER_CPU_CGROUP": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert f"WORKER_CPU_CGROUP {tmp_path} is not a cgroup" in result.stderr


def test_worker_settings_refuse_a_niceness_above_19():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "WORKER_NICE": "20"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "WORKER_NICE must be at most 19" in result.stderr


@pytest.mark.services
def test_a_real_worker_runs_jobs_niced_and_with_the_worker_session(start_worker, client, alice):
    import psutil

    from explorer import demo
    from jobs.models import Job, State
    from tests.jobs.helpers import api_submit, export_params
    from tests.services import wait_for

    demo.seed(awards=300, seed=5)
    worker = start_worker(extra_env={"WORKER_NICE": "7", "WORKER_DB_OPTIONS": "-c work_mem=3MB"})
    client.force_login(alice)
    job_id = api_submit(client, **export_params("xlsx")).json()["id"]
    job = wait_for(lambda: Job.objects.filter(pk=job_id, state__in=[State.SUCCEEDED, State.FAILED]).first())
    assert job.state == State.SUCCEEDED, job.error

    main = psutil.Process(worker.process.pid)
    ours = psutil.Process().nice()
    assert main.nice() == ours  # the main process only consumes messages
    pool = main.children()
    assert pool
    assert all(process.nice() == max(7, ours) for process in pool)
    # The pool process keeps its session (CONN_MAX_AGE): PostgreSQL shows its settings.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [worker_process.APPLICATION_NAME],
        )
        assert cursor.fetchone()[0] >= 1


@pytest.mark.parametrize(
    ("setting", "value"), [("WORKER_DB_NICE", 7), ("WORKER_CPU_CGROUP", "/sys/fs/cgroup/cpu/jobs")]
)
def test_a_database_niceness_or_cpu_cgroup_turns_parallel_query_off_for_workers(settings, setting, value):
    settings.WORKER_DB_OPTIONS = ""
    settings.WORKER_DB_NICE = 0
    settings.WORKER_CPU_CGROUP = ""
    assert "max_parallel_workers_per_gather" not in worker_process.worker_options({})["options"]
    setattr(settings, setting, value)

    # Parallel helpers are server processes of their own, which would keep priority 0 and
    # stay outside the cgroup.
    assert "-c max_parallel_workers_per_gather=0" in worker_process.worker_options({})["options"]


@pytest.fixture
def cpu_cgroup() -> Iterator[Path]:
    """A cgroup of the `cpu` controller (v1 or v2) with a quota of 1.5 cores, removed after
    the test with its processes moved back to the root group (needs root, as CI has)."""
    v1, v2 = Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup")
    name = f"philgeps-test-{os.getpid()}"
    try:
        if (v1 / "cpu.cfs_quota_us").exists():
            root, group = v1, v1 / name
            group.mkdir()
            (group / "cpu.cfs_quota_us").write_text("150000")  # of the default 100 ms period
        else:
            root, group = v2, v2 / name
            (v2 / "cgroup.subtree_control").write_text("+cpu")
            group.mkdir()
            (group / "cpu.max").write_text("150000 100000")
    except OSError as error:  # not root, or no cpu controller: as with a missing service
        problem = f"needs a writable cgroup cpu controller under /sys/fs/cgroup (root): {error}"
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 but this test {problem}")
        pytest.skip(problem)
    try:
        yield group
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (root / "cgroup.procs").write_text(pid)
        group.rmdir()


@pytest.mark.services
def test_a_real_worker_runs_its_jobs_and_their_database_sessions_in_its_cpu_cgroup(
    start_worker, client, alice, cpu_cgroup
):
    import psutil

    from explorer import demo
    from jobs.models import Job, State
    from tests.jobs.helpers import api_submit, export_params
    from tests.services import wait_for

    demo.seed(awards=300, seed=5)
    worker = start_worker(extra_env={"WORKER_CPU_CGROUP": str(cpu_cgroup)})
    client.force_login(alice)
    job_id = api_submit(client, **export_params("xlsx")).json()["id"]
    job = wait_for(lambda: Job.objects.filter(pk=job_id, state__in=[State.SUCCEEDED, State.FAILED]).first())
    assert job.state == State.SUCCEEDED, job.error

    inside = {int(pid) for pid in (cpu_cgroup / "cgroup.procs").read_text().split()}
    main = psutil.Process(worker.process.pid)
    pool = {process.pid for process in main.children()}
    assert pool
    assert pool <= inside
    assert main.pid not in inside  # the main process only consumes messages
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            [worker_process.APPLICATION_NAME],
        )
        sessions = {row[0] for row in cursor.fetchall()}
    assert sessions
    assert sessions <= inside  # the pool processes keep their sessions


@pytest.mark.django_db
def test_a_local_session_server_process_takes_the_database_niceness():
    other = connections.create_connection("default")  # not the test's own session
    try:
        other.ensure_connection()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        before = os.getpriority(os.PRIO_PROCESS, pid)

        assert worker_process.renice_backend(other, 7)
        assert os.getpriority(os.PRIO_PROCESS, pid) == max(before, 7)
    finally:
        other.close()


class _RemoteConnection:
    vendor = "postgresql"
    settings_dict = {"HOST": "db.example.org"}

    def cursor(self):
        raise AssertionError("a remote server's pid names no process here: it is never asked")


def test_a_remote_server_process_is_left_alone():
    assert not worker_process.renice_backend(_RemoteConnection(), 7)

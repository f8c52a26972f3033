"""Fault injection on the real services (issue 8, faults 2-6): what breaks, what survives.

Brokers and Redis that a test stops are its own (`private_rabbit`, `private_redis`); the
shared servers are never touched. PostgreSQL faults end only the worker's own sessions,
found by the application_name its DATABASE_URL gives it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection

from explorer import demo
from jobs import execution, maintenance, services
from jobs.models import FINAL_STATES, ApiToken, Job, State
from tests.jobs.helpers import api_submit, export_params, fragment_attrs, messages_until, open_socket
from tests.services import Daphne, database_url, service_env, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]


class Api:
    """The JSON API of a daphne process, with token auth (what a script would use)."""

    def __init__(self, server: Daphne, token: str) -> None:
        self.server = server
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(
        self, path: str, body: object = None, *, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.url + path, data=data, headers=headers or self.headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def submit(self, **filters: str) -> str:
        status, body = self.call("/api/jobs/", {"kind": "export", "params": export_params("csv", **filters)})
        assert status == 201, body
        return body["id"]


def session_cookie(client: Client) -> dict[str, str]:
    return {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}


def reconnect(server: Daphne, client: Client) -> ClientConnection | None:
    try:
        return open_socket(server, client)
    except InvalidStatus:
        return None


def final(job_ids: list[str]) -> bool:
    return Job.objects.filter(pk__in=job_ids, state__in=FINAL_STATES).count() == len(job_ids)


def files(root: Path) -> list[Path]:
    """Every file under an export root (results and temporary files, links included)."""
    return sorted(path for path in root.rglob("*") if not path.is_dir())


def finished(job_id: str, timeout: float = 60) -> Job:
    return wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=FINAL_STATES).first(),
        timeout=timeout,
        what=f"job {job_id} to end",
    )


def test_rabbitmq_restart_with_50_jobs_queued_and_running_loses_and_repeats_nothing(
    private_rabbit, start_worker, tmp_path, alice
):
    demo.seed(awards=3000, seed=21)
    root = tmp_path / "exports"
    env = {"CELERY_BROKER_URL": private_rabbit.url, "TEST_PROGRESS_PAUSE_MS": "150", "EXPORT_ROOT": str(root)}
    workers = [start_worker("w", concurrency=2, extra_env=env) for _ in range(2)]
    web = Daphne(tmp_path, env=service_env(CELERY_BROKER_URL=private_rabbit.url, JOB_ACTIVE_CAP="100"))
    try:
        api = Api(web, ApiToken.issue(alice))
        job_ids = [api.submit(amount_min=str(1000 * i)) for i in range(50)]
        wait_for(
            lambda: Job.objects.filter(pk__in=job_ids, state=State.RUNNING).count() >= 2,
            what="some jobs to be running",
        )
        assert Job.objects.filter(pk__in=job_ids, state=State.QUEUED).count() > 20

        private_rabbit.stop()
        private_rabbit.start()

        wait_for(lambda: final(job_ids), timeout=180, what="all 50 jobs to end after the restart")
        # The web process publishes again by itself, and the workers still consume.
        after = api.submit(q="after the restart")
        wait_for(lambda: final([after]), timeout=60, what="a job submitted after the restart")
    finally:
        web.stop()

    jobs = list(Job.objects.filter(pk__in=[*job_ids, after]))
    assert Counter(job.state for job in jobs) == {State.SUCCEEDED: 51}
    for job in jobs:
        events = [entry["event"] for entry in job.history]
        assert events.count("succeeded") == 1, events
        assert 1 <= job.attempts <= 2, events
        assert job.file_rows == job.result["rows"]
        assert Path(job.file_path).stat().st_size == job.file_size
    # One whole file per job, and no temporary file left behind.
    assert files(root) == sorted(Path(job.file_path) for job in jobs)
    for worker in workers:  # the same processes, reconnected by themselves
        assert worker.process.poll() is None
        connected = f"Connected to amqp://guest:**@127.0.0.1:{private_rabbit.port}//"
        assert worker.log.read_text().count(connected) >= 2


def test_redis_down_jobs_still_finish_pages_poll_and_live_updates_resume_when_it_returns(
    private_redis, start_worker, tmp_path, client, alice
):
    demo.seed(awards=2000, seed=22)
    env = {"REDIS_URL": private_redis.url}
    worker = start_worker("w", extra_env=env)
    web = Daphne(tmp_path, env=service_env(**env))
    client.force_login(alice)
    api = Api(web, ApiToken.issue(alice))
    try:
        with open_socket(web, client) as socket:
            before = api.submit(q="before")
            messages_until(socket, before, state="succeeded")

        private_redis.stop()
        during = api.submit(q="during")
        assert finished(during).state == State.SUCCEEDED
        # The page's fallback: pending fragments poll the status URL, which reads the database.
        status, html = api.call(f"/jobs/{during}/status/", headers=session_cookie(client))
        assert status == 200
        assert fragment_attrs(html)["data-state"] == "succeeded"
        status, health = api.call("/healthz")
        assert status == 503
        assert health["checks"]["channel_layer"]["ok"] is False

        private_redis.start()  # same port, nothing else restarted
        # The layer's Redis client finds its old connection dead on first use and connects
        # again on the next call; the page's socket extension retries the same way.
        socket = wait_for(lambda: reconnect(web, client), timeout=20, what="a socket after Redis returned")
        with socket:
            after = api.submit(q="after")
            seen = messages_until(socket, after, state="succeeded")
        assert {m["data-state"] for m in seen if m["data-job-id"] == after} >= {"running", "succeeded"}
        # /healthz answers from checks up to HEALTHZ_CACHE_SECONDS old.
        wait_for(lambda: api.call("/healthz")[0] == 200, timeout=20, what="/healthz to see Redis again")
    finally:
        web.stop()
    assert worker.process.poll() is None


def test_database_connection_dropped_mid_job_is_caught_by_the_stale_check_and_run_again(
    start_worker, tmp_path, client, alice, settings
):
    demo.seed(awards=3000, seed=23)
    root = tmp_path / "exports"
    name = f"faults-worker-{os.getpid()}"  # the worker's sessions, and only those, carry it
    start_worker(
        "w",
        extra_env={
            "DATABASE_URL": f"{database_url()}?application_name={name}",
            "TEST_PROGRESS_PAUSE_MS": "700",
            "EXPORT_ROOT": str(root),
        },
    )
    client.force_login(alice)
    job_id = api_submit(client, **export_params("csv")).json()["id"]
    wait_for(lambda: Job.objects.filter(pk=job_id, state=State.RUNNING).exists(), what="the job to run")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            [name],
        )
        assert len(cursor.fetchall()) >= 1

    # The attempt cannot write its heartbeat any more; beat's check sees it go silent.
    settings.JOB_STALE_SECONDS = 3
    wait_for(lambda: maintenance.check_stale_jobs() == 1, what="the stale check to requeue the job")
    job = finished(job_id)

    assert job.state == State.SUCCEEDED, job.error
    assert job.attempts == 2
    events = [entry["event"] for entry in job.history]
    assert events == ["created", "started", "requeued: heartbeat stopped", "started", "succeeded"]
    assert files(root) == [Path(job.file_path)]
    assert job.file_rows == 3000


def test_a_job_over_its_time_limit_is_failed_with_the_limit_and_its_temp_file_removed(
    start_worker, tmp_path, client, alice, settings
):
    demo.seed(awards=6000, seed=24)
    root = tmp_path / "exports"
    env = {"JOB_SOFT_TIME_LIMIT": "2", "TEST_PROGRESS_PAUSE_MS": "500", "EXPORT_ROOT": str(root)}
    start_worker("w", extra_env=env)
    # The message carries the publisher's limits: this process publishes, so it gets the
    # worker's JOB_SOFT_TIME_LIMIT too.
    settings.JOB_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT = 2, 2 + 120
    client.force_login(alice)
    job_id = api_submit(client, **export_params("csv")).json()["id"]
    wait_for(lambda: files(root / "tmp"), what="the export to be writing its temporary file")

    job = finished(job_id)

    assert job.state == State.FAILED
    assert job.error == "The job took longer than its limit of 2 seconds and was stopped."
    assert files(root) == []
    assert client.get(f"/api/jobs/{job_id}/download/").status_code == 404


def test_a_full_disk_fails_the_export_in_plain_words_and_serves_nothing(
    start_worker, tmp_path, client, alice
):
    demo.seed(awards=6000, seed=25)
    root = tmp_path / "exports"
    client.force_login(alice)
    job_id = api_submit(client, **export_params("csv")).json()["id"]
    # The attempt's temporary file is a device that answers every write with ENOSPC.
    (root / "tmp").mkdir(parents=True)
    (root / "tmp" / f"{job_id}.attempt1.csv").symlink_to("/dev/full")
    start_worker("w", extra_env={"EXPORT_ROOT": str(root)})

    job = finished(job_id)

    assert job.state == State.FAILED
    assert (
        job.error == "The result file could not be written (No space left on device). Staff have the details."
    )
    assert "Traceback" in job.traceback  # for staff, in the admin
    assert files(root) == []
    assert (job.file_path, client.get(f"/api/jobs/{job_id}/download/").status_code) == ("", 404)


@pytest.mark.django_db(transaction=True)
def test_an_export_directory_that_cannot_be_created_fails_the_job_in_plain_words(settings, tmp_path, alice):
    settings.EXPORT_ROOT = tmp_path / "a-file"
    settings.EXPORT_ROOT.write_text("not a directory")
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("csv"))

    assert execution.execute(str(job.id), redelivered=False, worker="inline") == "failed"

    job.refresh_from_db()
    assert job.error == "The result file could not be written (Not a directory). Staff have the details."
    assert settings.EXPORT_ROOT.read_text() == "not a directory"


def test_a_submit_while_rabbitmq_is_down_fails_in_plain_words_and_holds_no_place(
    private_rabbit, transactional_db, tmp_path, alice
):
    web = Daphne(tmp_path, env=service_env(CELERY_BROKER_URL=private_rabbit.url, JOB_ACTIVE_CAP="1"))
    try:
        api = Api(web, ApiToken.issue(alice))
        private_rabbit.stop()
        status, body = api.call("/api/jobs/", {"kind": "export", "params": export_params("csv")})
        assert status == 201, body  # the job exists, and its state says what happened
        assert body["state"] == "failed"
        assert "job queue (RabbitMQ) is unreachable" in body["error"]
        job = Job.objects.get(pk=body["id"])
        assert (job.state, job.attempts, job.finished_at is not None) == (State.FAILED, 0, True)

        private_rabbit.start()
        # No stuck "queued" job holds the user's only place: the same request now queues.
        status, again = api.call("/api/jobs/", {"kind": "export", "params": export_params("csv")})
        assert status == 201, again
        assert again["state"] == "queued"
        assert again["id"] != body["id"]
    finally:
        web.stop()

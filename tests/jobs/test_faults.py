"""Fault injection on the real services (issue 8, faults 2-6): what breaks, what survives.

Brokers and Redis that a test stops are its own (`private_rabbit`, `private_redis`); the
shared servers are never touched. PostgreSQL faults end only the worker's own sessions,
found by the application_name its DATABASE_URL gives it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from explorer import demo
from jobs.models import FINAL_STATES, ApiToken, Job, State
from tests.jobs.helpers import export_params
from tests.services import Daphne, service_env, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow]
pytest_plugins = ["tests.services"]


class Api:
    """The JSON API of a daphne process, with token auth (what a script would use)."""

    def __init__(self, server: Daphne, token: str) -> None:
        self.server = server
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, path: str, body: object = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server.url + path, data=data, headers=self.headers)
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


def final(job_ids: list[str]) -> bool:
    return Job.objects.filter(pk__in=job_ids, state__in=FINAL_STATES).count() == len(job_ids)


def files(root: Path) -> list[Path]:
    """Every file under an export root (results and temporary files)."""
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_rabbitmq_restart_with_50_jobs_queued_and_running_loses_and_repeats_nothing(
    private_rabbit, start_worker, tmp_path, alice
):
    demo.seed(awards=3000, seed=21)
    root = tmp_path / "exports"
    env = {"CELERY_BROKER_URL": private_rabbit.url, "JOB_TEST_SLOWDOWN_MS": "150", "EXPORT_ROOT": str(root)}
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
    for worker in workers:
        wait_for(worker.ping, timeout=10, what=f"{worker.name} to answer over the restarted broker")

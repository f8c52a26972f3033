"""The periodic tasks: file expiry and the stale-job check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs import maintenance, services
from jobs.models import Job, State
from tests.jobs.helpers import export_params

pytestmark = pytest.mark.django_db


def finished_export(owner, tmp_path: Path, *, expires_in: timedelta) -> Job:
    job, _ = services.submit_job(user=owner, kind="export", params=export_params(q=str(expires_in)))
    path = tmp_path / f"{job.id}.csv"
    path.write_text("a,b\n")
    Job.objects.filter(pk=job.pk).update(
        state=State.SUCCEEDED, file_path=str(path), file_name="x.csv", expires_at=timezone.now() + expires_in
    )
    job.refresh_from_db()
    return job


def test_expired_files_are_deleted_and_their_jobs_marked_expired(alice_client, alice, tmp_path):
    old = finished_export(alice, tmp_path, expires_in=timedelta(hours=-1))
    fresh = finished_export(alice, tmp_path, expires_in=timedelta(days=1))

    assert maintenance.expire_files() == 1

    old.refresh_from_db()
    assert old.state == State.EXPIRED
    assert not Path(old.file_path).exists()
    assert Path(fresh.file_path).exists()
    response = alice_client.get(f"/api/jobs/{old.id}/download/")
    assert response.status_code == 410
    assert "expired" in response.json()["error"]
    assert alice_client.get(f"/jobs/{old.id}/download/").status_code == 410


def test_stale_running_jobs_are_requeued_then_failed(alice, settings):
    settings.JOB_MAX_ATTEMPTS = 2
    job, _ = services.submit_job(user=alice, kind="export", params=export_params())
    silent = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(state=State.RUNNING, attempts=1, heartbeat_at=silent)

    assert maintenance.check_stale_jobs() == 1
    job.refresh_from_db()
    assert job.state == State.QUEUED

    Job.objects.filter(pk=job.pk).update(state=State.RUNNING, attempts=2, heartbeat_at=silent)
    assert maintenance.check_stale_jobs() == 1
    job.refresh_from_db()
    assert job.state == State.FAILED
    assert "stopped responding" in job.error


def test_a_job_with_a_recent_heartbeat_is_left_alone(alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params())
    Job.objects.filter(pk=job.pk).update(state=State.RUNNING, attempts=1, heartbeat_at=timezone.now())

    assert maintenance.check_stale_jobs() == 0
    assert Job.objects.get(pk=job.pk).state == State.RUNNING

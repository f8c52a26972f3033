"""Quotas over time (jobs/quotas.py): jobs per user per rolling hour, stored result files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from explorer import demo
from jobs import execution, maintenance, quotas, services
from jobs.models import Job, State
from tests.jobs.helpers import api_submit, export_params

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def finish(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, finished_at=timezone.now())


def submit_finished(user, count: int) -> list[Job]:  # type: ignore[no-untyped-def]
    """`count` jobs started and finished now (so the active cap never gets in the way)."""
    jobs = []
    for i in range(count):
        job, _ = services.submit_job(user=user, kind="export", params=export_params(q=f"road {i}"))
        finish(job)
        jobs.append(job)
    return jobs


def test_the_hourly_quota_refuses_a_new_job_and_says_when_the_next_can_start(alice, bob, settings):
    settings.JOB_HOURLY_QUOTA = 3
    first, *_ = submit_finished(alice, 3)
    Job.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=50))

    with pytest.raises(services.HourlyQuotaExceeded) as refused:
        services.submit_job(user=alice, kind="export", params=export_params(q="bridge"))

    assert "You started 3 jobs in the last hour" in str(refused.value)
    assert "about 10 minutes" in str(refused.value)
    assert 9 * 60 < refused.value.retry_after <= 10 * 60
    assert Job.objects.filter(owner=alice).count() == 3
    services.submit_job(user=bob, kind="export", params=export_params(q="bridge"))  # bob's own hour


def test_jobs_older_than_an_hour_leave_the_window(alice, settings):
    settings.JOB_HOURLY_QUOTA = 2
    old, _ = submit_finished(alice, 2)
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=61))

    _, created = services.submit_job(user=alice, kind="export", params=export_params(q="bridge"))

    assert created


def test_an_identical_pending_job_is_returned_even_at_the_quota(alice, settings):
    settings.JOB_HOURLY_QUOTA = 1
    job, _ = services.submit_job(user=alice, kind="export", params=export_params(q="road"))

    again, created = services.submit_job(user=alice, kind="export", params=export_params(q="road"))

    assert (again.pk, created) == (job.pk, False)


def test_the_api_answers_429_with_retry_after_and_the_page_a_readable_refusal(alice_client, alice, settings):
    settings.JOB_HOURLY_QUOTA = 2
    submit_finished(alice, 2)

    api = api_submit(alice_client, **export_params(q="bridge"))
    page = alice_client.post(
        "/jobs/submit/", {"kind": "export", "format": "csv", "q": "bridge"}, headers=HTMX
    )

    assert api.status_code == 429
    assert api.json()["error"].startswith("You started 2 jobs in the last hour")
    assert 3500 < int(api["Retry-After"]) <= 3600
    assert page.status_code == 429
    assert "You started 2 jobs in the last hour" in page.content.decode()


def test_a_quota_of_zero_is_no_quota(alice, settings):
    settings.JOB_HOURLY_QUOTA = 0
    submit_finished(alice, 5)

    assert quotas.hourly_wait(user=alice) == 0


def kept_export(owner, tmp_path: Path, *, size: int, age_minutes: int) -> Job:  # type: ignore[no-untyped-def]
    """A finished export of `size` bytes that finished `age_minutes` ago."""
    job, _ = services.submit_job(user=owner, kind="export", params=export_params(q=f"kept {age_minutes}"))
    path = tmp_path / f"{job.id}.csv"
    path.write_bytes(b"x" * size)
    Job.objects.filter(pk=job.pk).update(
        state=State.SUCCEEDED,
        file_path=str(path),
        file_name="x.csv",
        file_size=size,
        finished_at=timezone.now() - timedelta(minutes=age_minutes),
        expires_at=timezone.now() + timedelta(days=7),
    )
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)  # the job runs here: it closes and reopens connections
def test_a_new_file_past_the_storage_quota_expires_the_oldest_files_first(alice, bob, tmp_path, settings):
    settings.EXPORT_STORAGE_QUOTA_MB = 1
    settings.EXPORT_ROOT = tmp_path / "exports"
    demo.seed(awards=50, seed=41)
    oldest = kept_export(alice, tmp_path, size=600_000, age_minutes=30)
    older = kept_export(alice, tmp_path, size=600_000, age_minutes=20)
    newer = kept_export(alice, tmp_path, size=600_000, age_minutes=10)
    bobs = kept_export(bob, tmp_path, size=900_000, age_minutes=40)
    job, _ = services.submit_job(user=alice, kind="export", params=export_params())

    assert execution.execute(str(job.id), redelivered=False, worker="inline") == "succeeded"

    states = {j.pk: j.state for j in Job.objects.all()}
    assert states[job.pk] == State.SUCCEEDED
    assert (states[newer.pk], states[older.pk], states[oldest.pk]) == (
        State.SUCCEEDED,
        State.EXPIRED,
        State.EXPIRED,
    )
    assert states[bobs.pk] == State.SUCCEEDED  # another user's files count for them only
    assert not Path(oldest.file_path).exists()
    assert not Path(older.file_path).exists()
    assert Path(newer.file_path).exists()
    oldest.refresh_from_db()
    assert "storage quota" in oldest.progress_message


def test_the_newest_file_is_kept_even_when_it_alone_passes_the_quota(alice, tmp_path, settings):
    settings.EXPORT_STORAGE_QUOTA_MB = 1
    old = kept_export(alice, tmp_path, size=100, age_minutes=5)
    big = kept_export(alice, tmp_path, size=3 * 1024 * 1024, age_minutes=1)

    expired = maintenance.expire_over_storage(owner_id=alice.pk)

    assert [job.pk for job in expired] == [old.pk]
    big.refresh_from_db()
    assert big.state == State.SUCCEEDED


def test_the_jobs_page_shows_both_quotas(alice_client, alice, tmp_path, settings):
    settings.JOB_HOURLY_QUOTA = 40
    settings.EXPORT_STORAGE_QUOTA_MB = 500
    submit_finished(alice, 2)
    kept_export(alice, tmp_path, size=3 * 1024 * 1024, age_minutes=1)

    page = alice_client.get("/jobs/").content.decode()

    assert "This hour: 3 of 40 jobs started." in page
    assert "Result files kept: 3.0\xa0MB of 500.0\xa0MB" in page

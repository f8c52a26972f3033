"""Submitting jobs: validation, idempotency (also under concurrency), the per-user cap."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from jobs import services
from jobs.models import Job, State
from tests.jobs.helpers import api_submit, export_params

pytestmark = pytest.mark.django_db


def test_submit_creates_a_queued_job_with_normalized_params(alice):
    job, created = services.submit_job(
        user=alice, kind="export", params={"format": "xlsx", "filters": {"q": "  road   repair ", "area": ""}}
    )

    assert created
    assert job.state == State.QUEUED
    assert job.queue == "bulk"
    assert job.params == {"format": "xlsx", "filters": {"q": "road repair"}}
    assert job.history[0]["event"] == "created"


def test_identical_pending_submit_returns_the_same_job(alice, bob):
    first, _ = services.submit_job(user=alice, kind="export", params=export_params(q="road"))
    # Same search written differently: the normalized params are identical.
    again, created = services.submit_job(user=alice, kind="export", params=export_params(q=" road "))
    other_format, _ = services.submit_job(user=alice, kind="export", params=export_params("xlsx", q="road"))
    bobs, _ = services.submit_job(user=bob, kind="export", params=export_params(q="road"))

    assert (again.pk, created) == (first.pk, False)
    assert other_format.pk != first.pk
    assert bobs.pk != first.pk


def test_a_finished_job_does_not_block_a_new_identical_one(alice):
    first, _ = services.submit_job(user=alice, kind="export", params=export_params())
    Job.objects.filter(pk=first.pk).update(state=State.SUCCEEDED)

    second, created = services.submit_job(user=alice, kind="export", params=export_params())

    assert created
    assert second.pk != first.pk


def test_cap_on_active_jobs(alice, settings):
    settings.JOB_ACTIVE_CAP = 2
    services.submit_job(user=alice, kind="export", params=export_params(q="a"))
    services.submit_job(user=alice, kind="export", params=export_params(q="b"))

    with pytest.raises(services.TooManyJobs, match="2 jobs queued or running"):
        services.submit_job(user=alice, kind="export", params=export_params(q="c"))
    # The identical pending job is still returned: it adds nothing.
    _, created = services.submit_job(user=alice, kind="export", params=export_params(q="a"))
    assert not created


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("export", {"format": "pdf"}, "format"),
        ("export", {"filters": {"q": "x"}}, "format"),
        ("export", {"format": "csv", "filters": {"date_from": "yesterday"}}, "filters"),
        ("export", {"format": "csv", "filters": {"colour": "red"}}, "filters"),
        ("export", {"format": "csv", "filters": "q=road"}, "filters"),
        ("export", ["csv"], "params"),
        ("telepathy", {}, "kind"),
        ("import", {}, "kind"),  # staff only
    ],
)
def test_bad_params_are_refused_with_the_field_named(alice, kind, params, field):
    with pytest.raises(services.InvalidParams) as refused:
        services.submit_job(user=alice, kind=kind, params=params)

    assert field in refused.value.errors
    assert Job.objects.count() == 0


def test_api_answers_201_then_200_then_400_and_429(alice_client, settings):
    settings.JOB_ACTIVE_CAP = 1
    created = api_submit(alice_client, **export_params(q="road"))
    same = api_submit(alice_client, **export_params(q="road"))
    bad = api_submit(alice_client, format="pdf", filters={"amount_min": "lots"})
    over = api_submit(alice_client, **export_params(q="bridge"))

    assert created.status_code == 201
    assert same.status_code == 200
    assert same.json()["id"] == created.json()["id"]
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"format", "filters"}
    assert "amount_min" in bad.json()["fields"]["filters"][0]
    assert over.status_code == 429
    assert "1 jobs queued or running" in over.json()["error"]


def test_api_job_json_has_the_fixed_shape(alice_client):
    body = api_submit(alice_client, **export_params(q="road")).json()

    assert set(body) == {
        "id", "kind", "state", "params", "progress", "queue_position", "eta_seconds", "created_at",
        "started_at", "finished_at", "result", "file", "error", "download_url",
    }  # fmt: skip
    assert set(body["progress"]) == {"done", "total", "percent", "message", "seq"}
    assert (body["state"], body["queue_position"], body["file"]) == ("queued", 1, None)


def test_api_rejects_a_body_that_is_not_json(alice_client):
    response = alice_client.post("/api/jobs/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "body" in response.json()["fields"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_identical_submits_make_one_job(alice):
    barrier = threading.Barrier(2)
    results: list[tuple[str, bool]] = []

    def submit() -> None:
        try:
            barrier.wait()
            job, created = services.submit_job(user=alice, kind="export", params=export_params(q="flood"))
            results.append((str(job.pk), created))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Job.objects.count() == 1
    assert sorted(created for _, created in results) == [False, True]
    assert len({job_id for job_id, _ in results}) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_different_submits_respect_the_cap(alice, settings):
    settings.JOB_ACTIVE_CAP = 1
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(q: str) -> None:
        try:
            barrier.wait()
            services.submit_job(user=alice, kind="export", params=export_params(q=q))
            outcomes.append("created")
        except services.TooManyJobs:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(q,)) for q in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "refused"]
    assert Job.objects.count() == 1


def test_the_pipeline_check_kind_is_for_staff_only(client, alice, staff):
    client.force_login(alice)
    refused = api_submit(client, "ping")
    assert refused.status_code == 400
    assert "kind" in refused.json()["fields"]

    client.force_login(staff)
    accepted = api_submit(client, "ping")
    assert accepted.status_code == 201
    assert accepted.json()["kind"] == "ping"


def test_queue_pushes_from_a_worker_are_coalesced_with_one_trailing_push(monkeypatch):
    from jobs import lifecycle
    from tests.services import wait_for

    pushed: list[str] = []
    monkeypatch.setattr(lifecycle, "_push_queue", pushed.append)
    monkeypatch.setattr(lifecycle, "_queue_pushed", {})
    monkeypatch.setattr(lifecycle, "QUEUE_PUSH_INTERVAL", 0.3)

    for _ in range(5):  # five jobs start within the interval
        lifecycle.announce_queue("bulk", coalesce=True)
    assert pushed == ["bulk"]  # the first goes out at once ...
    wait_for(lambda: len(pushed) == 2, timeout=5, what="the trailing push")  # ... the rest as one
    lifecycle.announce_queue("interactive")  # not coalesced (a cancel from a page)
    assert pushed == ["bulk", "bulk", "interactive"]


@pytest.mark.django_db(transaction=True)
def test_trailing_queue_pushes_share_one_database_session(alice, monkeypatch):
    """A timer thread per trailing push opened a new PostgreSQL session for each one."""
    from django.db.backends.signals import connection_created

    from jobs import lifecycle
    from tests.services import wait_for

    job, _ = services.submit_job(user=alice, kind="export", params=export_params())
    opened: list[str] = []

    def count(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(threading.current_thread().name)

    connection_created.connect(count)
    try:
        for pushes in range(1, 4):
            lifecycle._queue_pushed[job.queue] = time.monotonic()  # just pushed: this one trails
            lifecycle.announce_queue(job.queue, coalesce=True)
            wanted = job.progress_seq + pushes
            wait_for(
                lambda n=wanted: Job.objects.get(pk=job.pk).progress_seq == n, timeout=5, what="the push"
            )
    finally:
        connection_created.disconnect(count)

    assert opened == ["trailing queue pushes"]


def test_the_scan_forms_regex_checkbox_is_not_the_mode_filter(alice, client):
    """Issue 17, bug 1: the page's checkbox was named `mode`, so it became the filter."""
    client.force_login(alice)
    page_fields = {"kind": "scan", "pattern": r"\b(rice|fuel)\b", "regex": "on", "mode": "Public Bidding"}
    response = client.post("/jobs/submit/", page_fields, headers={"HX-Request": "true"})

    assert response.status_code == 201, response.content
    job = Job.objects.get()
    assert job.params["mode"] == "regex"
    assert job.params["filters"] == {"mode": "Public Bidding"}
    assert "regex" not in job.params
    # The page's params are the API's: the same hash, so the API finds this pending job.
    same, created = services.submit_job(
        user=alice,
        kind="scan",
        params={"pattern": r"\b(rice|fuel)\b", "mode": "regex", "filters": {"mode": "Public Bidding"}},
    )
    assert (same.pk, created) == (job.pk, False)


def test_the_scan_form_refuses_a_backreference_in_words(alice, client):
    client.force_login(alice)
    response = client.post(
        "/jobs/submit/",
        {"kind": "scan", "pattern": r"(\w+) \1", "regex": "on"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert "Backreferences" in response.content.decode()
    assert not Job.objects.exists()
    # Unticked, the same text is a plain substring: nothing to refuse.
    plain = client.post(
        "/jobs/submit/", {"kind": "scan", "pattern": r"(\w+) \1"}, headers={"HX-Request": "true"}
    )
    assert plain.status_code == 201
    assert Job.objects.get().params["mode"] == "substring"

"""The scan job end to end: API -> worker -> result set on the search page -> export."""

from __future__ import annotations

import csv
import io

import pytest

from explorer import demo
from explorer.models import Award, ResultSetMember
from jobs.maintenance import expire_files
from jobs.models import Job, State
from tests.explorer.test_scan import python_scan
from tests.jobs.helpers import api_submit, export_params, messages_until, open_socket
from tests.services import wait_for

pytestmark = pytest.mark.services
SMALL_BLOCKS = {"SCAN_BLOCK_AWARDS": "200"}


def finished(job_id: str) -> Job:
    return wait_for(
        lambda: Job.objects.filter(
            pk=job_id, state__in=[State.SUCCEEDED, State.FAILED, State.CANCELLED]
        ).first(),
        timeout=60,
        what=f"job {job_id} to finish",
    )


def test_scan_saves_exactly_the_matching_awards_as_a_result_set_to_search_and_export(
    start_worker, daphne, client, alice
):
    # Small blocks, and a pause after each progress write so the throttle lets every one out.
    start_worker(extra_env={**SMALL_BLOCKS, "TEST_PROGRESS_PAUSE_MS": "300"})
    demo.seed(awards=1500, seed=33)
    client.force_login(alice)
    pattern = r"\b(rice|fuel|diesel)\b"
    with open_socket(daphne, client) as socket:
        response = api_submit(client, "scan", pattern=pattern, mode="regex", fields=["title", "notice_title"])
        assert response.status_code == 201, response.content
        job_id = response.json()["id"]
        seen = [m for m in messages_until(socket, job_id, state="succeeded") if m["data-job-id"] == job_id]

    percents = [int(m["data-percent"]) for m in seen if m["data-percent"]]
    assert percents == sorted(percents)
    assert len(set(percents)) >= 3  # real progress over several blocks
    expected = python_scan(pattern, regex=True, case_sensitive=False, fields=["title", "notice_title"])
    assert expected
    job = Job.objects.get(pk=job_id)
    assert job.result["matches"] == len(expected)
    assert job.result["scanned"] == Award.objects.count()
    assert set(ResultSetMember.objects.filter(set_id=job.id).values_list("award_id", flat=True)) == expected
    assert job.expires_at is not None

    # The search page shows the set, and it can be refined with filters.
    page = client.get(job.result_url())
    assert page.status_code == 200
    assert f"<strong>{len(expected)}</strong> awards" in page.content.decode()
    refined = client.get(job.result_url() + "&amount_min=500000")
    wanted = Award.objects.filter(id__in=expected, amount__gte=500000).count()
    assert f"<strong>{wanted}</strong> awards" in refined.content.decode()

    # ... and exported: exactly the refined set.
    export = api_submit(client, **export_params("csv", set=job_id, amount_min="500000")).json()["id"]
    assert finished(export).state == State.SUCCEEDED
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(client.get(f"/jobs/{export}/download/").streaming_content).decode("utf-8-sig")
            )
        )
    )
    exported = {row[-1] for row in rows[1:]}
    assert exported == {
        str(p)
        for p in Award.objects.filter(id__in=expected, amount__gte=500000).values_list("public_id", flat=True)
    }

    # When the job expires, so does its result set.
    Job.objects.filter(pk=job.pk).update(expires_at=job.finished_at)
    expire_files()
    assert not ResultSetMember.objects.filter(set_id=job.id).exists()
    assert client.get(job.result_url()).status_code == 400


def test_another_users_result_set_is_refused_on_the_page_and_in_the_api(worker, client, alice, bob):
    demo.seed(awards=200, seed=34)
    client.force_login(alice)
    job_id = api_submit(client, "scan", pattern="supply").json()["id"]
    assert finished(job_id).state == State.SUCCEEDED

    client.force_login(bob)
    page = client.get(f"/?set={job_id}")
    assert page.status_code == 400
    assert "not one of your finished scans" in page.content.decode()
    response = api_submit(client, **export_params("csv", set=job_id))
    assert response.status_code == 400
    assert "not one of your finished scans" in " ".join(response.json()["fields"]["filters"])


def test_a_backtracking_pattern_is_refused_at_submit_and_a_catastrophic_one_just_runs(worker, client, alice):
    demo.seed(awards=300, seed=35)
    Award.objects.filter(pk=Award.objects.order_by("id").first().pk).update(title="a" * 3000 + "!")
    client.force_login(alice)

    refused = api_submit(client, "scan", pattern=r"(\w+) \1", mode="regex")
    assert refused.status_code == 400
    assert "Backreferences" in " ".join(refused.json()["fields"]["pattern"])

    job_id = api_submit(client, "scan", pattern=r"(a+)+$", mode="regex").json()["id"]
    job = finished(job_id)
    assert job.state == State.SUCCEEDED, job.error
    # Python's re would take exponential time on the planted title; the rule is simple:
    # `(a+)+$` matches exactly the texts that end in "a".
    expected = {
        award_id
        for award_id, *texts in Award.objects.values_list("id", "title", "notice__title")
        if any(text and text.lower().endswith("a") for text in texts)
    }
    assert set(ResultSetMember.objects.filter(set_id=job.id).values_list("award_id", flat=True)) == expected


def test_a_scan_can_be_cancelled_mid_run_and_leaves_no_result_set(start_worker, client, alice):
    start_worker(extra_env={**SMALL_BLOCKS, "TEST_PROGRESS_PAUSE_MS": "300"})
    demo.seed(awards=3000, seed=36)
    client.force_login(alice)
    job_id = api_submit(client, "scan", pattern="e").json()["id"]
    wait_for(
        lambda: Job.objects.filter(pk=job_id, state=State.RUNNING, progress_done__gt=0).exists(),
        what="the scan to be under way",
    )

    client.post(f"/api/jobs/{job_id}/cancel/")

    job = finished(job_id)
    assert job.state == State.CANCELLED
    assert 0 < job.progress_done < job.progress_total
    assert not ResultSetMember.objects.filter(set_id=job_id).exists()

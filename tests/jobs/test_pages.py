"""Job pages and fragments: submit from a page, buttons rendered from pending jobs, history."""

from __future__ import annotations

import re

import pytest

from jobs import services
from jobs.models import Job
from tests.jobs.helpers import export_params, fragment_attrs

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def test_htmx_submit_answers_the_status_fragment_and_a_second_click_the_same_job(alice_client):
    form = {"kind": "export", "format": "xlsx", "q": "road", "amount_min": "1000"}

    first = alice_client.post("/jobs/submit/", form, headers=HTMX)
    second = alice_client.post("/jobs/submit/", form, headers=HTMX)

    job = Job.objects.get()
    assert (first.status_code, second.status_code) == (201, 200)
    assert fragment_attrs(first.content.decode())["data-job-id"] == str(job.id)
    assert fragment_attrs(second.content.decode())["data-job-id"] == str(job.id)
    assert job.params == {"format": "xlsx", "filters": {"q": "road", "amount_min": "1000"}}


def test_refusals_are_readable_fragments(alice_client, settings):
    settings.JOB_ACTIVE_CAP = 1
    bad = alice_client.post("/jobs/submit/", {"kind": "export", "format": "pdf"}, headers=HTMX)
    alice_client.post("/jobs/submit/", {"kind": "export", "format": "csv"}, headers=HTMX)
    over = alice_client.post("/jobs/submit/", {"kind": "export", "format": "xlsx"}, headers=HTMX)

    assert bad.status_code == 400
    assert "format: Select a valid choice. pdf is not one of the available choices." in bad.content.decode()
    assert over.status_code == 429
    assert "1 jobs queued or running" in over.content.decode()


def test_without_javascript_submit_redirects_to_the_job_page(alice_client):
    response = alice_client.post("/jobs/submit/", {"kind": "export", "format": "csv"})

    assert response.status_code == 302
    assert response["Location"] == Job.objects.get().get_absolute_url()


@pytest.mark.parametrize(
    ("referer", "location"),
    [
        ("http://testserver/?q=road", "http://testserver/?q=road"),
        ("/?q=road", "/?q=road"),
        ("", "/"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("http://testserver.evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("https:///evil.example", "/"),
    ],
)
def test_a_refused_submit_without_javascript_goes_back_only_to_a_page_of_this_site(
    alice_client, referer, location
):
    response = alice_client.post("/jobs/submit/", {"kind": "export", "format": "pdf"}, HTTP_REFERER=referer)

    assert response.status_code == 302
    assert response["Location"] == location


def test_buttons_are_replaced_by_the_pending_job_of_the_same_search(alice_client, alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("xlsx", q="road"))

    same = alice_client.get("/jobs/actions/", {"q": "road"}).content.decode()
    other = alice_client.get("/jobs/actions/", {"q": "bridge"}).content.decode()

    assert f'id="job-{job.id}"' in same
    assert 'data-action="export-xlsx"' not in same
    assert 'data-action="export-csv"' in same
    assert f'id="job-{job.id}"' not in other
    assert 'data-action="export-xlsx"' in other
    assert 'name="q" value="bridge"' in other


def test_history_lists_jobs_newest_first_with_a_link_back_to_the_search(alice_client, alice):
    older, _ = services.submit_job(user=alice, kind="export", params=export_params("csv", q="road"))
    newer, _ = services.submit_job(user=alice, kind="export", params=export_params("xlsx", q="bridge"))

    page = alice_client.get("/jobs/").content.decode()

    assert page.index(str(newer.id)) < page.index(str(older.id))
    assert "/?q=bridge" in page


def test_job_page_shows_timeline_and_parameters(alice_client, alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("csv", q="road"))

    page = alice_client.get(f"/jobs/{job.id}/").content.decode()

    assert re.search(r"</time> created</li>", page)  # the timeline's first entry
    assert '<span class="chip">q: road</span>' in page
    assert fragment_attrs(page[page.index(f'<div id="job-{job.id}"') :])["data-state"] == "queued"


def test_timeline_times_are_local_not_utc(alice_client, alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("csv"))
    job.history = [{"at": "2025-03-01T16:30:05+00:00", "event": "created"}]
    job.save()

    page = alice_client.get(f"/jobs/{job.id}/").content.decode()

    assert "2025-03-02 00:30:05</time> created" in page  # Asia/Manila is UTC+8

"""Issue 17's job-side details, each from the analyst's side: the words and times a page
shows, the files' names and bytes, the job page's live timeline, the styled error pages
and the favicon. (The browser walks are tests/browser/test_job_journeys.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.template.loader import render_to_string
from django.test import RequestFactory

from explorer import demo
from explorer.models import Award
from jobs import execution, progress, services
from jobs.models import Job, State
from tests.jobs.helpers import export_params

HTMX = {"HX-Request": "true"}


def run_inline(job: Job) -> Job:
    execution.execute(str(job.id), redelivered=False, worker="inline")
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_two_exports_in_the_same_minute_get_different_names(alice, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path
    demo.seed(awards=30, seed=3)
    names = []
    for _ in range(2):  # the second starts once the first is done (not the same pending job)
        job, created = services.submit_job(user=alice, kind="export", params=export_params("csv"))
        assert created
        names.append(run_inline(job).file_name)

    assert names[0] != names[1]
    for name in names:
        assert re.fullmatch(r"philgeps-awards-\d{8}-\d{6}-[0-9a-f]{8}\.csv", name)


@pytest.mark.django_db(transaction=True)
def test_the_csv_opens_in_excel_with_accents_intact(alice, client, settings, tmp_path):
    """Excel takes a CSV for UTF-8 only when it starts with a byte-order mark."""
    settings.EXPORT_ROOT = tmp_path
    demo.seed(awards=40, seed=4)
    award = Award.objects.select_related("area").order_by("id").first()
    award.title = "Road works in PARAÑAQUE and Las Piñas"
    award.save()
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("csv"))
    run_inline(job)
    client.force_login(alice)

    body = b"".join(client.get(f"/jobs/{job.id}/download/").streaming_content)

    assert body.startswith(b"\xef\xbb\xbf")  # what Excel looks for
    assert "Road works in PARAÑAQUE and Las Piñas" in body.decode("utf-8-sig")
    assert "Ã" not in body.decode("utf-8-sig")  # no mojibake, read as Excel reads it


@pytest.mark.django_db
def test_progress_counts_what_each_kind_counts(alice):
    report, _ = services.submit_job(user=alice, kind="report", params={"filters": {}})
    export, _ = services.submit_job(user=alice, kind="export", params=export_params("xlsx"))
    for job, done, total in ((report, 3, 7), (export, 2000, 4500)):
        job.state, job.progress_done, job.progress_total = State.RUNNING, done, total

    assert "3 / 7 steps" in progress.render_status(report)
    assert "rows" not in progress.render_status(report)
    assert "2,000 / 4,500 awards" in progress.render_status(export)


@pytest.mark.django_db
def test_the_names_are_the_buttons_words_everywhere(alice_client, alice):
    page = alice_client.get("/").content.decode()
    for label in ("Export to Excel", "Export to CSV", "Red-flag report"):
        assert f">{label}</button>" in page
    assert "Analyse" not in page
    assert "XLSX" not in page

    job, _ = services.submit_job(user=alice, kind="export", params=export_params("xlsx"))
    report, _ = services.submit_job(user=alice, kind="report", params={"filters": {}})
    assert (job.title, report.title) == ("Export to Excel", "Red-flag report")
    listing = alice_client.get("/jobs/").content.decode()
    assert "Export to Excel" in listing
    assert "XLSX" not in listing


@pytest.mark.django_db(transaction=True)
def test_the_report_header_says_when_it_was_computed_in_words(alice, client, settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path
    demo.seed(awards=200, seed=5)
    job, _ = services.submit_job(user=alice, kind="report", params={"filters": {}})
    assert run_inline(job).state == State.SUCCEEDED
    client.force_login(alice)

    page = client.get(f"/jobs/{job.id}/report/").content.decode()

    # Was "Computed 2026-12-0115:57": date and time run together.
    assert re.search(r"Computed <time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>", page)
    assert re.search(r"philgeps-report-\d{8}-\d{6}-[0-9a-f]{8}\.xlsx", job.file_name)


@pytest.mark.django_db
def test_the_job_pages_timeline_is_its_own_fragment_that_follows_the_job(alice_client, alice, bob, client):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("csv"))
    page = alice_client.get(f"/jobs/{job.id}/").content.decode()
    # The page asks for the timeline again whenever this job's element changes.
    assert f'hx-trigger="job-changed-{job.id} from:body"' in page

    Job.objects.filter(pk=job.pk).update(state=State.RUNNING, attempts=1)
    job.refresh_from_db()
    services.cancel_job(user=alice, job=job)
    fragment = alice_client.get(f"/jobs/{job.id}/timeline/").content.decode()

    assert "cancel requested" in fragment
    assert "<span data-attempts>1</span>" in fragment
    client.force_login(bob)
    assert client.get(f"/jobs/{job.id}/timeline/").status_code == 404


@pytest.mark.django_db
def test_a_missing_page_is_the_sites_own_404_and_the_500_page_needs_nothing(alice_client):
    response = alice_client.get("/no-such-page/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert "css/app.css" in page
    assert 'href="/jobs/"' in page
    # Django renders 500.html with no context at all: no request, user or database.
    error = render_to_string("500.html")
    assert "<h1>Something went wrong</h1>" in error
    assert "css/app.css" in error


@pytest.mark.django_db
def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"].endswith(".ico")
    icon = Path(django_settings.BASE_DIR) / "static" / "img" / "favicon.ico"
    assert icon.read_bytes()[:4] == b"\x00\x00\x01\x00"  # an ICO header


@pytest.mark.django_db
def test_without_javascript_counting_is_a_link_to_the_count(alice_client):
    request = RequestFactory().get("/")
    totals = SimpleNamespace(timed_out=False, value={"exact": False})
    html = render_to_string(
        "explorer/_totals.html",
        {"totals": totals, "count_cap": 5000, "totals_url": "/search/totals/?q=road"},
        request,
    )
    # "counting…" only shows once JavaScript is there to fetch the count (static/js/jobs.js).
    assert '<span class="muted js-only" hidden>(counting…)</span>' in html
    assert '<noscript> <a href="/search/totals/?q=road">Count them exactly</a></noscript>' in html

    page = alice_client.get("/search/totals/", {"q": "road"})  # the link, followed without htmx
    assert page.status_code == 200
    assert "<h1>Count and total</h1>" in page.content.decode()
    assert 'href="/?q=road">Back to the search' in page.content.decode()

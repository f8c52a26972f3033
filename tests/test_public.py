"""Public browsing (PUBLIC_BROWSING, config/access.py): anonymous visitors search and open
award and entity pages; jobs, downloads and reports need an account; anonymous searches
are limited per address with a readable 429 page."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from explorer import demo
from explorer.models import Award
from jobs import services
from tests.jobs.helpers import export_params

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_search_facet_page_and_open_award_and_entity_pages(client):
    demo.seed(awards=120, seed=4)
    award = Award.objects.select_related("organization", "supplier").filter(supplier__isnull=False).first()

    search = client.get("/?sort=-amount")
    page_two = client.get("/" + search.context["next_url"].lstrip("/"))
    totals = client.get(reverse("explorer:search_totals") + "?q=road")
    pages = [
        client.get(reverse("explorer:award", args=[award.public_id])),
        client.get(reverse("explorer:organization", args=[award.organization.public_id])),
        client.get(reverse("explorer:supplier", args=[award.supplier.public_id])),
    ]

    assert search.status_code == 200
    assert len(search.context["awards"]) == 50
    assert search.context["facets"]
    assert page_two.status_code == 200
    assert page_two.context["awards"]
    assert totals.status_code == 200
    assert [response.status_code for response in pages] == [200, 200, 200]
    assert award.organization.name in pages[1].content.decode()
    for response in (search, *pages):
        assert "private" not in response.get("Cache-Control", "")


def test_the_job_buttons_say_log_in_to_export_and_come_back_to_the_same_search(client):
    demo.seed(awards=20, seed=5)

    body = client.get("/?q=road&sort=-amount").content.decode()

    links = re.findall(r'<a class="button" href="([^"]+)" data-action="login">Log in to export</a>', body)
    assert len(links) == 1
    url = urlparse(links[0].replace("&amp;", "&"))
    assert url.path == reverse("login")
    assert parse_qs(url.query)["next"] == ["/?q=road&sort=-amount"]
    assert 'name="kind"' not in body  # no job form for anonymous visitors


def test_logging_in_from_the_button_returns_to_the_search(client, alice):
    response = client.post(
        reverse("login"),
        {"username": "alice", "password": "alice-password", "next": "/?q=road&sort=-amount"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/?q=road&sort=-amount"


@pytest.mark.parametrize(
    "url",
    ["/jobs/", "/jobs/{id}/", "/jobs/{id}/download/", "/jobs/{id}/report/", "/jobs/actions/", "/system/"],
)
def test_anonymous_visitors_are_sent_to_login_for_jobs_downloads_and_reports(client, alice, url):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params())

    response = client.get(url.format(id=job.id))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_anonymous_visitors_cannot_start_jobs_and_the_api_answers_401(client):
    page = client.post(reverse("jobs:submit"), {"kind": "export", "format": "csv"})
    api = client.post("/api/jobs/", {"kind": "export"}, content_type="application/json")
    listed = client.get("/api/jobs/")

    assert page.status_code == 302
    assert page["Location"].startswith(reverse("login"))
    assert api.status_code == listed.status_code == 401


def test_without_public_browsing_every_page_needs_a_login(client, settings):
    settings.PUBLIC_BROWSING = False
    demo.seed(awards=5, seed=6)
    award = Award.objects.first()

    urls = ("/", reverse("explorer:award", args=[award.public_id]), "/suggest/organization/?organization=a")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))


def test_anonymous_searches_past_the_limit_get_a_readable_429_with_retry_after(client, alice, settings):
    settings.ANON_SEARCH_PER_MINUTE = 3
    answers = [client.get("/?q=road", REMOTE_ADDR="192.0.2.1").status_code for _ in range(4)]
    refused = client.get("/search/totals/?q=road", REMOTE_ADDR="192.0.2.1")
    other_address = client.get("/?q=road", REMOTE_ADDR="192.0.2.2")
    client.force_login(alice)
    logged_in = client.get("/?q=road", REMOTE_ADDR="192.0.2.1")

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many searches" in refused.content.decode()
    assert f"Try again in {refused['Retry-After']} second" in refused.content.decode()
    assert other_address.status_code == 200
    assert logged_in.status_code == 200

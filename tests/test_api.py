"""The JSON API v1 (config/api.py, explorer/api.py): the same awards as the search page
for the same filters, typed filters, keyset pages, entities, the schema and its docs page,
per-token throttling, and the job list's pages."""

from __future__ import annotations

import json
import re

import pytest
from django.db.models import F
from django.urls import reverse

from explorer import aggregates, demo
from explorer.models import Award
from jobs import services
from jobs.models import ApiToken, Job
from tests.jobs.helpers import api_submit, export_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def awards():
    demo.seed(awards=400, seed=21)
    return Award.objects.select_related("organization", "supplier", "category", "area")


def page_ids(client, filters: dict[str, str]) -> tuple[list[str], object]:
    """Every award the search page lists for `filters`, following its next links."""
    url = reverse("explorer:search")
    response = client.get(url, filters)
    assert response.status_code == 200, (filters, response.status_code)
    totals = response.context["totals"].value
    ids = [str(a.public_id) for a in response.context["awards"]]
    while response.context["next_url"]:
        response = client.get(response.context["next_url"])
        ids += [str(a.public_id) for a in response.context["awards"]]
    return ids, totals


def api_ids(client, filters: dict[str, str], **headers: str) -> tuple[list[str], dict]:
    response = client.get("/api/awards/", filters, headers=headers)
    assert response.status_code == 200, (filters, response.content)
    first = response.json()
    ids = [row["id"] for row in first["results"]]
    body = first
    while body["next"]:
        body = client.get(body["next"], headers=headers).json()
        ids += [row["id"] for row in body["results"]]
    return ids, first["count"]


def combinations(awards) -> list[dict[str, str]]:
    some = list(awards.exclude(supplier=None).exclude(category=None).exclude(area=None).order_by("id")[:6])
    a, b, c = some[0], some[1], some[2]
    word = a.title.split()[0]
    amounts = sorted(x.amount for x in awards if x.amount is not None)
    low, high = str(amounts[len(amounts) // 4]), str(amounts[3 * len(amounts) // 4])
    dates = sorted(x.award_date for x in awards if x.award_date)
    mid = dates[len(dates) // 2].isoformat()
    return [
        {},
        {"sort": "amount"},
        {"sort": "-amount"},
        {"sort": "date"},
        {"q": word},
        {"q": word, "sort": "relevance"},
        {"q": f"{word} -{b.title.split()[-1]}", "sort": "-date"},
        {"organization": a.organization.name},
        {"organization": b.organization.name, "sort": "amount"},
        {"supplier": c.supplier.name},
        {"category": a.category.name},
        {"area": b.area.name, "sort": "-amount"},
        {"mode": a.procurement_mode},
        {"status": a.status},
        {"date_from": mid},
        {"date_to": mid, "sort": "date"},
        {"amount_min": low},
        {"amount_max": high, "sort": "-amount"},
        {"amount_min": low, "amount_max": high, "date_from": dates[0].isoformat(), "sort": "amount"},
        {"organization": "No such agency"},
    ]


def test_the_api_lists_the_same_awards_as_the_page_for_20_filter_combinations(alice_client, awards):
    cases = combinations(awards)
    assert len(cases) == 20
    nonempty = 0

    for filters in cases:
        page, page_totals = page_ids(alice_client, filters)
        api, count = api_ids(alice_client, filters)
        assert api == page, filters
        assert count["count"] == page_totals["count"], filters
        assert count["exact"] == page_totals["exact"]
        nonempty += bool(page)
    assert nonempty >= 18  # the combinations select something (all but the unknown agency)


def test_anonymous_callers_get_the_same_list_and_the_count_is_capped_as_on_the_page(
    client, awards, monkeypatch
):
    monkeypatch.setattr(aggregates, "COUNT_CAP", 100)

    response = client.get("/api/awards/", {"sort": "-amount"})
    page = client.get("/", {"sort": "-amount"})

    body = response.json()
    assert body["count"] == {"count": 101, "exact": False, "amount": None, "cap": 100}
    assert page.context["totals"].value["count"] == 101
    newest = Award.objects.order_by(F("amount").desc(nulls_first=True), "-id")[:50]
    assert [row["id"] for row in body["results"]] == [str(a.public_id) for a in newest]
    assert body["next"].startswith("/api/awards/?sort=-amount&after=")


def test_one_award_and_the_entities_with_their_totals(client, awards):
    award = awards.exclude(supplier=None).first()

    one = client.get(f"/api/awards/{award.public_id}/").json()
    organization = client.get(one["organization"]["url"]).json()
    supplier = client.get(one["supplier"]["url"]).json()
    missing = client.get("/api/awards/00000000-0000-0000-0000-000000000000/")

    assert one["title"] == award.title
    assert one["amount"] == (None if award.amount is None else str(award.amount))
    assert one["notice_reference"] == award.notice.reference_number
    mine = Award.objects.filter(organization=award.organization)
    assert organization["count"] == mine.count()
    assert organization["name"] == award.organization.name
    assert sum(year["count"] for year in organization["by_year"]) == mine.exclude(award_date=None).count()
    assert supplier["count"] == Award.objects.filter(supplier=award.supplier).count()
    assert client.get(organization["awards_url"]).json()["count"]["count"] == mine.count()
    assert missing.status_code == 404
    assert missing.json() == {"error": "No such record."}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=a&q=b", "q"),
        ("date_from=2024-02-30", "date_from"),
        ("amount_min=1e999999", "amount_min"),
        ("amount_min=-5", "amount_min"),
        ("sort=sideways", "sort"),
        ("q=" + "x" * 301, "q"),
        ("q=%00", "q"),
        ("after=NaN~1", "after"),
        ("set=00000000-0000-0000-0000-000000000000", "set"),
        ("date_from=2024-05-01&date_to=2024-01-01", "date_to"),
    ],
)
def test_bad_filters_are_400s_naming_the_field(client, query, field):
    response = client.get(f"/api/awards/?{query}")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["fields"], response.json()


@pytest.mark.parametrize(
    "filters",
    [
        {"q": {"$ne": 1}},
        {"q": ["a", "b"]},
        {"organization": True},
        {"amount_min": [1]},
        {"date_from": 20240101},
    ],
)
def test_job_filters_of_the_wrong_json_type_are_400_with_a_field_error(alice_client, filters):
    response = api_submit(alice_client, format="csv", filters=filters)

    assert response.status_code == 400
    errors = response.json()["fields"]["filters"]
    name = next(iter(filters))
    assert any(message.startswith(f"{name}: Send a") for message in errors), errors
    assert Job.objects.count() == 0


def test_job_filters_of_the_right_json_type_still_start_a_job(alice_client):
    created = api_submit(
        alice_client, format="csv", filters={"q": "road", "amount_min": 1000, "status": None}
    )

    assert created.status_code == 201, created.content
    assert created.json()["params"]["filters"] == {"q": "road", "amount_min": "1000"}


def test_the_schema_is_openapi_3_and_the_docs_page_is_served_from_this_site(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert {"/api/awards/", "/api/awards/{award_id}/"} <= set(document["paths"])
    names = {p["name"] for p in document["paths"]["/api/awards/"]["get"]["parameters"]}
    from explorer.search import FILTER_NAMES

    assert names == {*FILTER_NAMES, "after"}
    assert docs.status_code == 200
    body = docs.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', body)
    assert sources
    assert all(source.startswith("/static/") for source in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    policy = docs["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe" not in policy


def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_do_not(client, alice, bob, settings):
    settings.API_TOKEN_PER_MINUTE = 3
    alices, bobs = ApiToken.issue(alice), ApiToken.issue(bob)

    answers = [client.get("/api/awards/", headers={"Authorization": f"Token {alices}"}) for _ in range(3)]
    refused = client.get("/api/awards/", headers={"Authorization": f"Token {alices}"})
    refused_jobs = client.get("/api/jobs/", headers={"Authorization": f"Token {alices}"})
    other = client.get("/api/jobs/", headers={"Authorization": f"Token {bobs}"})

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert refused.status_code == refused_jobs.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert int(refused_jobs["Retry-After"]) >= 1
    assert "error" in refused.json()
    assert other.status_code == 200


def test_without_public_browsing_the_awards_api_needs_a_session_or_token(client, alice, settings, awards):
    settings.PUBLIC_BROWSING = False
    token = ApiToken.issue(alice)

    assert client.get("/api/awards/").status_code == 401
    assert client.get("/api/awards/", headers={"Authorization": "Token nope"}).status_code == 401
    assert client.get("/api/awards/", headers={"Authorization": f"Token {token}"}).status_code == 200


def test_the_job_list_pages_with_next_links(alice_client, alice, settings, monkeypatch):
    from jobs import api

    monkeypatch.setattr(api, "JOB_PAGE_SIZE", 2)
    settings.JOB_ACTIVE_CAP = 10
    made = [
        services.submit_job(user=alice, kind="export", params=export_params(q=f"w{i}"))[0] for i in range(5)
    ]

    seen, url, pages = [], "/api/jobs/", 0
    while url:
        body = alice_client.get(url).json()
        seen += [job["id"] for job in body["jobs"]]
        url, pages = body["next"], pages + 1
    active = alice_client.get("/api/jobs/?state=active").json()
    bad = alice_client.get("/api/jobs/?after=not-a-job")

    assert seen == [str(job.id) for job in sorted(made, key=lambda j: (j.created_at, j.id), reverse=True)]
    assert pages == 3
    assert active["next"].startswith("/api/jobs/?state=active&after=")
    assert bad.status_code == 400
    assert "after" in bad.json()["fields"]
    json.dumps(body)

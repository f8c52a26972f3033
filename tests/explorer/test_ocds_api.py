"""The OCDS API: release packages with keyset links.next, since, search filters, errors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.urls import reverse

from explorer import ocds
from explorer.importer import import_file
from explorer.models import Award, Notice, Supplier
from tests.conftest import shared_file
from tests.ocds_check import problems

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/ocds/releases/"


@pytest.fixture
def api(client, django_user_model, settings):
    settings.OCDS_OCID_PREFIX = "ocds-abc123"
    cache.clear()
    import_file(shared_file("philgeps-v2-2024q4-sample-200.csv"))
    import_file(shared_file("philgeps-v1-2023-sample-11.csv"))
    client.force_login(django_user_model.objects.create_user("analyst", password="x"))
    return client


def get(client, url, **params):
    response = client.get(url, params)
    return response, json.loads(response.content, parse_float=Decimal)


def walk(client, **params) -> list[dict]:
    """Every release, following links.next from the first page."""
    response, package = get(client, URL, **params)
    pages = [package]
    while "links" in package:
        assert response.status_code == 200
        next_url = urlsplit(package["links"]["next"])
        response, package = get(client, f"{next_url.path}?{next_url.query}")
        pages.append(package)
    return pages


def test_pages_follow_links_next_and_hold_every_notice_once_with_zero_problems(api):
    pages = walk(api, limit=40)
    releases = [r for page in pages for r in page["releases"]]

    assert len(pages) == -(-Notice.objects.count() // 40)
    assert len(releases) == len({r["ocid"] for r in releases}) == Notice.objects.count()
    assert "after=" in pages[0]["links"]["next"]
    assert "offset" not in pages[0]["links"]["next"]
    for page in pages:
        assert page["version"] == "1.1"
        assert page["publisher"]["name"]
        assert page["license"]
        assert page["uri"].startswith("http://testserver/api/ocds/releases/")
        # `links` is the API pagination of OCDS (core in 1.2, an extension in 1.1), so
        # the 1.1.5 schema calls it an additional field; everything else has no problem.
        assert problems({k: v for k, v in page.items() if k != "links"}) == {}


def test_search_filters_keep_the_notices_behind_the_matching_awards(api):
    supplier = Supplier.objects.filter(awards__isnull=False).first()
    expected = {
        ocds.ocid(reference_number=n.reference_number, key=n.key)
        for n in Notice.objects.filter(awards__supplier=supplier).distinct()
    }

    releases = [r for page in walk(api, supplier=supplier.name, limit=1) for r in page["releases"]]

    assert {r["ocid"] for r in releases} == expected
    assert len(releases) == len(expected)


def test_since_keeps_releases_dated_on_or_after_the_day(api):
    dates = sorted({r["date"][:10] for page in walk(api) for r in page["releases"]})
    middle = dates[len(dates) // 2]

    later = [r for page in walk(api, since=middle) for r in page["releases"]]

    assert later
    assert all(r["date"][:10] >= middle for r in later)
    everything = [r for page in walk(api) for r in page["releases"]]
    assert len(later) == sum(1 for r in everything if r["date"][:10] >= middle)


def test_one_release_by_ocid_and_its_url_name(api):
    notice = Notice.objects.filter(reference_number="").first() or Notice.objects.first()
    notice_ocid = ocds.ocid(reference_number=notice.reference_number, key=notice.key)
    award_notice = Award.objects.first().notice
    with_ref = ocds.ocid(reference_number=award_notice.reference_number, key=award_notice.key)

    response, package = get(api, reverse("ocds-release", args=[notice_ocid]))
    _, other = get(api, reverse("ocds-release", args=[with_ref]))

    assert response.status_code == 200
    assert [r["ocid"] for r in package["releases"]] == [notice_ocid]
    assert [r["ocid"] for r in other["releases"]] == [with_ref]
    assert problems(package) == {}
    assert get(api, reverse("ocds-release", args=["ocds-abc123-999999999"]))[0].status_code == 404
    assert get(api, reverse("ocds-release", args=["nonsense"]))[0].status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"after": "-1"}, "after"),
        ({"after": "9" * 19}, "after"),
        ({"amount_min": "lots"}, "amount_min"),
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_to"),
        ({"page": "2"}, "page"),
    ],
)
def test_bad_parameters_get_400_with_field_errors(api, params, field):
    response, body = get(api, URL, **params)

    assert response.status_code == 400
    assert field in body["fields"]


def test_anonymous_gets_401_and_a_token_works(client, django_user_model, settings):
    from jobs.models import ApiToken

    cache.clear()
    user = django_user_model.objects.create_user("robot", password="x")
    key = ApiToken.issue(user)

    assert client.get(URL).status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION="Token wrong").status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_over_the_rate_gets_429_with_retry_after(api, settings):
    settings.OCDS_API_RATE_PER_MINUTE = 2

    codes = [api.get(URL, {"limit": 1}).status_code for _ in range(3)]
    response = api.get(URL, {"limit": 1})

    assert codes == [200, 200, 429]
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61


def test_release_dates_are_full_date_times_in_manila_time(api):
    releases = [r for page in walk(api) for r in page["releases"]]

    for release in releases:
        assert dt.datetime.fromisoformat(release["date"]).utcoffset() == dt.timedelta(hours=8)


def test_the_award_page_links_to_the_release_that_holds_the_award(api):
    award = Award.objects.filter(supplier__isnull=False).first()

    page = api.get(reverse("explorer:award", args=[award.public_id])).content.decode()
    href = page.split("data-ocds-release", 1)[0].rsplit('href="', 1)[1].split('"', 1)[0]
    _, package = get(api, href)

    assert href.startswith("/api/ocds/releases/ocds-abc123-")
    assert award.key.hex in {a["id"] for a in package["releases"][0]["awards"]}

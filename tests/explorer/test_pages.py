from __future__ import annotations

import html
import re

import pytest
from django.db.models import F
from django.urls import reverse

from explorer import demo

pytestmark = pytest.mark.django_db


def test_search_page_requires_login(client):
    response = client.get(reverse("explorer:search"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_search_page_lists_awards(alice_client, django_assert_max_num_queries):
    demo.seed(awards=120, seed=1)

    # Session and user, the page of rows (organizations and suppliers joined), totals, four
    # facets, the pending jobs behind the job buttons (one query for all): 9. Each of the
    # five aggregates also runs in a savepoint with its own statement timeout (3 more each).
    # The filter choices (explorer/choices.py) are one more query: the newest award id,
    # their cache key; they are counted on the first load after a change of data only.
    from explorer.models import Award

    alice_client.get(reverse("explorer:search"))
    with django_assert_max_num_queries(25):
        response = alice_client.get(reverse("explorer:search"))

    assert response.status_code == 200
    body = response.content.decode()
    newest = Award.objects.order_by(F("award_date").desc(nulls_first=True), "-id")[:50]
    shown = re.findall(r'<a href="/awards/([0-9a-f-]{36})/">', body)
    assert shown == [str(award.public_id) for award in newest]  # one page: the 50 newest, in order


def test_keyset_pages_continue_without_gaps_or_duplicates(alice_client):
    from explorer.models import Award

    demo.seed(awards=130, seed=2)
    seen: list[str] = []
    url = reverse("explorer:search") + "?sort=-amount"
    while url:
        response = alice_client.get(url)
        assert response.status_code == 200
        seen += [str(a.public_id) for a in response.context["awards"]]
        next_url = response.context["next_url"]
        url = reverse("explorer:search") + next_url if next_url else ""

    expected = [str(a.public_id) for a in Award.objects.order_by(F("amount").desc(nulls_first=True), "-id")]
    assert seen == expected


def test_facets_count_the_current_result_and_link_to_add_the_filter(alice_client):
    from explorer.models import Award

    demo.seed(awards=300, seed=3)
    response = alice_client.get(reverse("explorer:search"), {"amount_min": "50000"})

    facets = {item.facet.name: item.values for item in response.context["facets"]}
    top_mode = facets["mode"][0]
    assert top_mode.count == Award.objects.filter(amount__gte=50000, procurement_mode=top_mode.value).count()
    assert "amount_min=50000" in top_mode.url
    assert "mode=" in top_mode.url


def test_invalid_filters_and_cursors_answer_400_with_a_message(alice_client):
    bad_filter = alice_client.get(reverse("explorer:search"), {"date_from": "someday"})
    bad_cursor = alice_client.get(reverse("explorer:search"), {"after": "nonsense"})

    assert bad_filter.status_code == 400
    assert "Enter a valid date" in bad_filter.content.decode()
    assert bad_cursor.status_code == 400
    assert "page link is broken" in bad_cursor.content.decode()


def test_award_organization_and_supplier_pages(alice_client):
    from explorer.models import Award

    demo.seed(awards=200, seed=4)
    award = Award.objects.select_related("organization", "supplier").exclude(supplier=None).first()

    page = alice_client.get(reverse("explorer:award", args=[award.public_id])).content.decode()
    org = alice_client.get(reverse("explorer:organization", args=[award.organization.public_id]))
    supplier = alice_client.get(reverse("explorer:supplier", args=[award.supplier.public_id]))

    assert reverse("explorer:organization", args=[award.organization.public_id]) in page
    assert org.status_code == supplier.status_code == 200
    count = Award.objects.filter(organization=award.organization).count()
    assert org.context["summary"].totals.value["count"] == count
    assert "Amounts by year" in org.content.decode()
    assert alice_client.get("/awards/00000000-0000-0000-0000-000000000000/").status_code == 404

    # Each top counterparty links to the search of the awards between the two.
    name, n, _, url = org.context["counterparties"].value[0]
    assert html.escape(url) in org.content.decode()
    between = alice_client.get(url)
    assert between.status_code == 200
    assert f"<strong>{n}</strong> awards" in between.content.decode()
    assert n == Award.objects.filter(organization=award.organization, supplier__name=name).count()


def test_plain_form_submission_redirects_to_the_clean_shareable_url(alice_client):
    response = alice_client.get("/?q=rice&organization=&supplier=&sort=&amount_min=")

    assert response.status_code == 302
    assert response["Location"] == "/?q=rice"


def test_htmx_search_pushes_the_clean_url(alice_client):
    demo.seed(awards=60, seed=5)
    response = alice_client.get("/?q=&category=&sort=-amount", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response["HX-Push-Url"] == "/?sort=-amount"


def test_name_suggestions_match_what_was_typed(alice_client):
    from explorer.models import Organization

    demo.seed(awards=120, seed=6)
    name = Organization.objects.order_by("name").first().name
    typed = name[2:9].lower()

    response = alice_client.get(f"/suggest/organization/?organization={typed}")

    assert response.status_code == 200
    options = re.findall(r'<option value="([^"]*)"', response.content.decode())
    assert 0 < len(options) <= 10
    assert name in [html.unescape(o) for o in options]


def test_name_suggestions_forgive_a_typo_on_postgresql(alice_client):
    from explorer.models import Supplier

    Supplier.objects.create(name="MEGA HARDWARE AND CONSTRUCTION SUPPLY")
    response = alice_client.get("/suggest/supplier/?supplier=mega hardwre construction")
    assert "MEGA HARDWARE AND CONSTRUCTION SUPPLY" in response.content.decode()


def test_name_suggestions_refuse_other_fields_and_short_input(alice_client):
    assert alice_client.get("/suggest/category/?category=food").status_code == 404
    response = alice_client.get("/suggest/supplier/?supplier=a")
    assert response.status_code == 200
    assert "<option" not in response.content.decode()


def test_a_large_result_shows_more_than_the_cap_and_loads_the_exact_totals(alice_client, monkeypatch):
    from explorer import aggregates
    from explorer.models import Award

    demo.seed(awards=120, seed=5)
    monkeypatch.setattr(aggregates, "COUNT_CAP", 50)

    page = alice_client.get(reverse("explorer:search"), {"amount_min": "1000"})
    totals = alice_client.get(page.context["totals_url"])

    body = page.content.decode()
    assert "More than <strong>50</strong> awards" in body
    assert f'hx-get="{page.context["totals_url"]}"' in body
    assert "approximate: counted over 50 of the matches" in body
    expected = Award.objects.filter(amount__gte=1000).count()
    assert totals.status_code == 200
    assert f"<strong>{expected}</strong> awards" in totals.content.decode()


def test_a_small_result_is_counted_on_the_page_without_a_second_request(alice_client):
    from explorer.models import Award

    demo.seed(awards=120, seed=5)
    response = alice_client.get(reverse("explorer:search"), {"amount_min": "1000"})

    expected = Award.objects.filter(amount__gte=1000).count()
    assert response.context["totals_url"] == ""
    assert f"<strong>{expected}</strong> awards" in response.content.decode()

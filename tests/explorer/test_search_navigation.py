"""The search page's navigation: chips, choices, the pager's Previous/First/position, the
form's own URL, facet "more values" and name suggestions (explorer/paging.py, choices.py)."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
import time
import uuid
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse

from explorer import choices, demo, facets, paging, search
from explorer.models import Award, BusinessCategory
from explorer.search import SearchForm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_choices() -> None:
    # Tests seed the same demo awards again and again, then edit them: the cached choices of
    # an earlier test (same newest award) would show here.
    cache.clear()


def parsed(**params: str) -> search.Search:
    form = SearchForm(params)
    assert form.is_valid(), form.errors
    return form.search


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def test_chips_say_each_filter_in_words_and_link_to_the_search_without_it():
    found = parsed(
        q="flood control",
        area="NCR",
        sort="-amount",
        amount_min="1000000",
        date_from="2024-01-01",
        date_to="2024-12-31",
    )

    chips = {chip.label: query_of(chip.remove_url) for chip in found.chips()}

    assert list(chips) == [
        "Keywords: flood control",
        "Area of delivery: NCR",
        "Award year: 2024",
        "Amount from (PHP): PHP 1,000,000",
        "Sort: amount, largest first",
    ]
    assert "area" not in chips["Area of delivery: NCR"]
    assert chips["Area of delivery: NCR"]["q"] == ["flood control"]
    assert "date_from" not in chips["Award year: 2024"]
    assert "date_to" not in chips["Award year: 2024"]
    assert chips["Sort: amount, largest first"]["amount_min"] == ["1000000"]
    assert "sort" not in chips["Sort: amount, largest first"]


def test_a_date_range_that_is_not_one_year_is_two_chips():
    labels = [chip.label for chip in parsed(date_from="2024-01-01", date_to="2025-12-31").chips()]

    assert labels == ["Awarded from: 2024-01-01", "Awarded to: 2025-12-31"]


def test_a_change_of_filters_drops_the_cursor_and_the_page_number():
    found = parsed(q="road", sort="-date")

    assert found.url({"area": "NCR"}) == "/?q=road&area=NCR&sort=-date"
    assert query_of(found.url(after="2024-01-01~5", page="2")) == {
        "q": ["road"],
        "sort": ["-date"],
        "after": ["2024-01-01~5"],
        "page": ["2"],
    }


def test_place_keeps_what_the_pager_wrote_and_ignores_nonsense():
    found = parsed(sort="-amount")

    assert paging.place({"after": "5.00~3", "page": "4", "more": "area"}, search=found) == paging.Place(
        after="5.00~3", page=4, more="area"
    )
    assert paging.place({"page": "-1", "more": "password"}, search=found) == paging.Place()
    assert paging.place({"page": "٣"}, search=found) == paging.Place()
    # Both cursors: the Next one wins; no cursor: no page number in the canonical URL.
    assert paging.place({"after": "5.00~3", "before": "1.00~2"}, search=found).before == ""
    assert paging.place({"page": "9"}, search=found).state() == {}


@pytest.fixture
def ties_and_nulls() -> None:
    demo.seed(awards=95, seed=5)
    ids = list(Award.objects.order_by("id").values_list("id", flat=True))
    Award.objects.filter(id__in=ids[:30]).update(award_date=dt.date(2024, 5, 1), amount=Decimal("1000.00"))
    Award.objects.filter(id__in=ids[30:41]).update(award_date=None, amount=None)


@pytest.mark.parametrize("sort", ["-date", "date", "-amount", "amount"])
@pytest.mark.parametrize("small", [False, True])
def test_previous_pages_walk_back_through_exactly_the_pages_next_walked(ties_and_nulls, sort, small):
    found = parsed(sort=sort)
    awards = found.awards()
    forward: list[tuple[list[int], str]] = []
    place = paging.Place()
    while True:
        pager = paging.page(awards, search=found, place=place, small=small, size=9)
        forward.append(([a.id for a in pager.rows], pager.previous_url))
        assert pager.start == (len(forward) - 1) * 9 + 1
        if not pager.next_url:
            break
        place = paging.place({k: v[0] for k, v in query_of(pager.next_url).items()}, search=found)
    assert sum(len(ids) for ids, _ in forward) == Award.objects.count()

    backward = [forward[-1][0]]
    url = forward[-1][1]
    while url:
        place = paging.place({k: v[0] for k, v in query_of(url).items()}, search=found)
        pager = paging.page(awards, search=found, place=place, small=small, size=9)
        backward.append([a.id for a in pager.rows])
        assert pager.number == len(forward) - len(backward) + 1
        url = pager.previous_url

    assert backward[::-1] == [ids for ids, _ in forward]


def test_the_first_page_has_no_previous_or_first_link_and_knows_its_position():
    demo.seed(awards=120, seed=1)
    found = parsed(sort="-amount")

    first = paging.page(found.awards(), search=found, place=paging.Place(), small=True)
    second = paging.page(
        found.awards(),
        search=found,
        place=paging.place({k: v[0] for k, v in query_of(first.next_url).items()}, search=found),
        small=True,
    )

    assert (first.start, first.end, first.previous_url, first.first_url) == (1, 50, "", "")
    assert (second.start, second.end) == (51, 100)
    assert second.previous_url == second.first_url == "/?sort=-amount"
    assert query_of(second.next_url)["page"] == ["3"]


def test_the_page_shows_its_position_with_previous_and_first_links(alice_client):
    demo.seed(awards=120, seed=1)
    first = alice_client.get(reverse("explorer:search"), {"sort": "amount"})
    second = alice_client.get(first.context["next_url"])
    body = html.unescape(second.content.decode())

    assert "Awards 51\N{EN DASH}100 of 120" in body
    assert re.search(r'<a href="/\?sort=amount"[^>]*>First page</a>', body)
    assert re.search(r'<a href="/\?sort=amount"[^>]*rel="prev">Previous page</a>', body)
    expected = Award.objects.order_by(F("amount").asc(nulls_last=True), "id")[50:100]
    assert list(second.context["awards"]) == list(expected)


def test_the_search_form_names_the_search_page_and_holds_no_cursor(alice_client):
    demo.seed(awards=120, seed=1)
    first = alice_client.get(reverse("explorer:search"), {"amount_min": "1", "sort": "-date"})
    second = alice_client.get(first.context["next_url"])
    form = re.search(r"<form method=\"get\".*?</form>", second.content.decode(), re.S).group(0)

    assert 'action="/"' in form
    assert 'hx-get="/"' in form
    assert 'name="after"' not in form
    assert 'name="page"' not in form
    assert 'name="amount_min" value="1"' in form


def test_choice_filters_offer_the_datas_values_with_their_counts(alice_client):
    demo.seed(awards=150, seed=2)
    Award.objects.filter(id__in=Award.objects.order_by("id").values("id")[:7]).update(status="Cancelled")
    body = html.unescape(
        alice_client.get(reverse("explorer:search"), {"area": "NO SUCH AREA"}).content.decode()
    )

    select = re.search(r'<select name="status".*?</select>', body, re.S).group(0)
    cancelled = Award.objects.filter(status="Cancelled").count()
    assert f'<option value="Cancelled">Cancelled ({cancelled:,})</option>' in select
    assert re.search(r'<option value="" selected>Any</option>', select)
    # A value the data does not hold (from a link) is still shown, selected, not dropped.
    area = re.search(r'<select name="area".*?</select>', body, re.S).group(0)
    assert '<option value="NO SUCH AREA" selected>NO SUCH AREA</option>' in area


def test_choices_are_counted_again_once_new_awards_arrive(alice_client):
    demo.seed(awards=60, seed=3)
    before = dict(choices.options()["status"].values)
    Award.objects.filter(pk=Award.objects.order_by("id").first().pk).update(status="Terminated")
    assert dict(choices.options()["status"].values) == before  # cached: no new award yet
    award = Award.objects.order_by("id").first()
    award.pk = None
    award.public_id = award.key = uuid.uuid4()
    award.award_number = "NEW-1"
    award.save()

    assert dict(choices.options()["status"].values).get("Terminated") == 2


def test_while_another_request_counts_the_choices_a_page_shows_the_last_counts(
    alice_client, django_assert_max_num_queries
):
    """Every page load that missed the cache counted the four filters itself: at 2M awards
    under load the counts timed out together, over and over, and the drop-downs became
    text boxes (bench/RESULTS.md, issue 22)."""
    demo.seed(awards=60, seed=3)
    shown = choices.options()
    award = Award.objects.order_by("id").first()
    award.pk = None
    award.public_id = award.key = uuid.uuid4()
    award.status = "Terminated"
    award.save()  # new data: the counts are due again ...
    cache.add(choices.COUNTING, 1)  # ... and another request is counting them

    with django_assert_max_num_queries(1):  # the newest award (the cache key) only
        assert choices.options() == shown
    body = html.unescape(alice_client.get(reverse("explorer:search")).content.decode())
    select = re.search(r'<select name="status".*?</select>', body, re.S).group(0)
    assert "Terminated" not in select  # the last counts, still a drop-down
    value, n = shown["status"].values[0]
    assert f'<option value="{value}">{value} ({n:,})</option>' in select

    cache.delete(choices.COUNTING)  # that request is done: the next load counts
    assert dict(choices.options()["status"].values).get("Terminated") == 1


def test_a_request_that_finds_the_counting_taken_gets_those_counts_when_they_come(monkeypatch):
    polling = threading.Event()

    def sleep(seconds: float) -> None:
        polling.set()
        time.sleep(seconds)

    monkeypatch.setattr(choices, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    monkeypatch.setattr(choices, "WAIT_SECONDS", 30)
    found: list[object] = []
    waiter = threading.Thread(target=lambda: found.append(choices._counted_elsewhere("counts-key")))
    waiter.start()
    assert polling.wait(10)
    counts = {"status": choices.Options(values=[("Awarded", 3)])}
    cache.set("counts-key", counts)  # the counting request is done
    waiter.join(10)

    assert found == [counts]


def test_before_any_counts_a_page_shows_text_boxes_while_another_request_counts(alice_client):
    demo.seed(awards=30, seed=4)
    cache.add(choices.COUNTING, 1)

    body = alice_client.get(reverse("explorer:search")).content.decode()
    assert '<select name="status"' not in body
    assert re.search(r'<input type="text" name="status"', body)


def test_a_filter_whose_count_times_out_keeps_its_last_counts(monkeypatch):
    demo.seed(awards=40, seed=5)
    before = choices.options()
    Award.objects.update(status="Terminated")
    award = Award.objects.order_by("id").first()
    award.pk = None
    award.public_id = award.key = uuid.uuid4()
    award.save()
    counted = choices._count

    def status_times_out(column, names):  # type: ignore[no-untyped-def]
        return choices.Options(timed_out=True) if column == "status" else counted(column, names)

    monkeypatch.setattr(choices, "_count", status_times_out)

    after = choices.options()
    assert after["status"] == before["status"]  # not a text box, and not today's counts
    assert after["category"] != before["category"]  # counted again: one award more


def test_more_values_is_a_link_that_shows_them(alice_client):
    demo.seed(awards=300, seed=3)
    assert BusinessCategory.objects.count() > facets.LIMIT
    page = alice_client.get(reverse("explorer:search"))
    category = next(item for item in page.context["facets"] if item.facet.name == "category")
    assert category.truncated
    assert len(category.values) == facets.LIMIT

    more = alice_client.get(category.more_url)
    shown = next(item for item in more.context["facets"] if item.facet.name == "category")

    assert len(shown.values) > facets.LIMIT
    assert shown.expanded
    assert shown.more_url == "/"
    assert "Fewer values" in more.content.decode()


def test_a_partial_supplier_name_offers_the_names_it_probably_meant(alice_client):
    demo.seed(awards=200, seed=4)
    supplier = Award.objects.exclude(supplier=None).select_related("supplier").first().supplier
    partial = supplier.name[: max(6, len(supplier.name) // 2)].lower()

    response = alice_client.get(reverse("explorer:search"), {"supplier": partial})
    body = html.unescape(response.content.decode())

    assert response.context["awards"] == []
    assert "No supplier is named exactly" in body
    (item,) = response.context["unmatched"]
    assert supplier.name in [name for name, _ in item["names"]]
    url = dict(item["names"])[supplier.name]
    assert query_of(url)["supplier"] == [supplier.name]


def test_the_count_without_javascript_is_a_page_of_its_own(alice_client, monkeypatch):
    from explorer import aggregates

    demo.seed(awards=120, seed=5)
    monkeypatch.setattr(aggregates, "COUNT_CAP", 50)
    page = alice_client.get(reverse("explorer:search"), {"amount_min": "1000"})
    assert f'<noscript> <a href="{page.context["totals_url"]}">Count them exactly</a></noscript>' in (
        page.content.decode()
    )

    counted = alice_client.get(page.context["totals_url"])

    body = counted.content.decode()
    assert "<h1>Count and total</h1>" in body
    assert "position-total" not in body  # the pager's swap is for the HTMX answer only
    assert f"<strong>{Award.objects.filter(amount__gte=1000).count()}</strong> awards" in body
    assert 'href="/?amount_min=1000"' in body


def test_relevance_pages_are_numbered_with_previous_and_first_links():
    demo.seed(awards=400, seed=6)
    found = parsed(q="supply")
    awards = found.awards()
    first = paging.page(awards, search=found, place=paging.Place(), small=False, size=10)
    second_place = paging.place({k: v[0] for k, v in query_of(first.next_url).items()}, search=found)
    second = paging.page(awards, search=found, place=second_place, small=False, size=10)
    third_place = paging.place({k: v[0] for k, v in query_of(second.next_url).items()}, search=found)
    third = paging.page(awards, search=found, place=third_place, small=False, size=10)

    assert (first.number, second.number, third.number) == (1, 2, 3)
    assert third.start == 21
    assert second.previous_url == second.first_url == "/?q=supply"
    back = paging.place({k: v[0] for k, v in query_of(third.previous_url).items()}, search=found)
    assert back == second_place
    assert [a.id for a in paging.page(awards, search=found, place=back, small=False, size=10).rows] == [
        a.id for a in second.rows
    ]


def test_a_previous_page_is_a_keyset_query_at_any_depth():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    demo.seed(awards=200, seed=7)
    found = parsed(sort="-date")
    last = Award.objects.order_by(F("award_date").desc(nulls_first=True), "-id")[150]
    with CaptureQueriesContext(connection) as queries:
        rows, earlier = search.keyset_page_before(
            found.awards(), search=found, before=search.cursor_of(last, search=found), size=20, small=True
        )

    expected = list(Award.objects.order_by(F("award_date").desc(nulls_first=True), "-id")[130:150])
    assert rows == expected
    assert earlier
    assert not any("OFFSET" in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("cursor", ["nonsense", "2024-02-30~5", "1" * 80, "5.00~" + "9" * 40])
def test_a_broken_previous_cursor_is_refused_with_a_message(alice_client, cursor):
    demo.seed(awards=30, seed=8)

    response = alice_client.get(
        reverse("explorer:search"), {"sort": "-amount", "before": cursor, "page": "3"}
    )

    assert response.status_code == 400
    assert "This page link is broken" in response.content.decode()

"""Keyset pages, the small-result path and name filters of explorer/search.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F

from explorer import demo, search
from explorer.models import Award
from explorer.search import Search, SearchForm, awards_matching, keyset_page

pytestmark = pytest.mark.django_db


def cleaned(**params: str) -> dict:
    form = SearchForm(params)
    assert form.is_valid(), form.errors
    return form.cleaned_data


def walk(params: dict, *, small: bool, size: int = 7) -> list[int]:
    """Every id of a result, page by page through the cursors."""
    data = cleaned(**params)
    awards = awards_matching(data)
    ids: list[int] = []
    after = ""
    while True:
        rows, after = keyset_page(awards, search=Search(data), after=after, size=size, small=small)
        ids += [a.id for a in rows]
        if not after:
            return ids


@pytest.fixture
def ties_and_nulls() -> None:
    """Demo awards where many share one date or amount and some have neither."""
    demo.seed(awards=90, seed=5)
    ids = list(Award.objects.order_by("id").values_list("id", flat=True))
    Award.objects.filter(id__in=ids[:30]).update(award_date=dt.date(2024, 5, 1), amount=Decimal("1000.00"))
    Award.objects.filter(id__in=ids[30:41]).update(award_date=None, amount=None)


# The default walk windows hold these small tables whole; (8, 20) ends pages at a window
# bound inside and across the stretches with and without a value; (3, 5) never holds a
# page of 7, so every page is sorted instead.
WINDOWS = [search.WALK_WINDOWS, (8, 20), (3, 5)]


@pytest.mark.parametrize("sort", ["-date", "date", "-amount", "amount"])
@pytest.mark.parametrize("small", [False, True])
@pytest.mark.parametrize("windows", WINDOWS)
def test_keyset_pages_cover_ties_and_nulls_once_in_order(ties_and_nulls, sort, small, windows, monkeypatch):
    monkeypatch.setattr(search, "WALK_WINDOWS", windows)
    name, descending = search.SORTS[sort]
    column = F(name).desc(nulls_first=True) if descending else F(name).asc(nulls_last=True)
    expected = list(
        Award.objects.order_by(column, "-id" if descending else "id").values_list("id", flat=True)
    )

    assert walk({"sort": sort}, small=small) == expected


def test_a_cursor_inside_the_nulls_continues_with_the_values(ties_and_nulls):
    data = cleaned(sort="-date")
    first_null = Award.objects.filter(award_date=None).order_by("-id")[0]

    rows, _ = keyset_page(awards_matching(data), search=Search(data), after=f"~{first_null.id}", size=15)

    nulls_after = list(Award.objects.filter(award_date=None, id__lt=first_null.id).order_by("-id"))
    assert rows[: len(nulls_after)] == nulls_after
    assert rows[len(nulls_after)].award_date is not None


def test_the_small_path_returns_the_rows_of_the_plain_path():
    demo.seed(awards=400, seed=6)
    for sort in ("-date", "amount"):
        params = {"q": "supply", "sort": sort}
        plain = walk(params, small=False, size=10)
        assert len(plain) > 30
        assert walk(params, small=True, size=10) == plain


def test_name_filters_match_exactly_and_unknown_names_match_nothing():
    demo.seed(awards=200, seed=7)
    award = Award.objects.exclude(supplier=None).order_by("id")[0]
    Award.objects.filter(id__in=list(Award.objects.order_by("-id").values_list("id", flat=True)[:5])).update(
        supplier=None
    )

    by_org = awards_matching(cleaned(organization=award.organization.name))
    assert set(by_org) == set(Award.objects.filter(organization_id=award.organization_id))
    assert "explorer_organization" not in str(by_org.query)  # resolved to an id, no join
    # An unknown supplier must not fall back to "no supplier" (supplier_id IS NULL).
    assert not awards_matching(cleaned(supplier="NO SUCH SUPPLIER")).exists()
    assert not awards_matching(cleaned(organization="NO SUCH AGENCY")).exists()


def test_relevance_of_a_large_result_ranks_its_newest_matches(monkeypatch):
    demo.seed(awards=300, seed=8)
    monkeypatch.setattr(search, "RELEVANCE_CANDIDATES", 12)
    data = cleaned(q="supply")
    awards = awards_matching(data)
    newest = set(
        awards.order_by(F("award_date").desc(nulls_first=True), "-id").values_list("id", flat=True)[:12]
    )
    assert awards.count() > 12

    large, _ = keyset_page(awards, search=Search(data), small=False)
    small, _ = keyset_page(awards, search=Search(data), small=True)

    assert {a.id for a in large} == newest
    assert len(small) == search.PAGE_SIZE  # all matches ranked when the result is small


@pytest.mark.parametrize("windows", WINDOWS[1:])
def test_a_walk_whose_windows_do_not_hold_the_page_is_sorted_instead_with_the_same_rows(windows, monkeypatch):
    demo.seed(awards=300, seed=11)
    for params in ({"q": "supply", "sort": "-date"}, {"q": "supply", "sort": "amount"}):
        plain = walk(params, small=True, size=10)  # every page sorted
        assert len(plain) > 30
        monkeypatch.setattr(search, "WALK_WINDOWS", windows)

        assert walk(params, small=False, size=10) == plain
        monkeypatch.undo()


def test_a_result_beyond_the_walks_windows_is_sorted_whatever_the_time(monkeypatch):
    """The matches of this result all sit at the far end of a newest-first order: the walk
    gives up once its windows are read, not after a time (a 150 ms limit was reached under
    load by walks that take milliseconds idle), and the page is sorted instead."""
    demo.seed(awards=200, seed=12)
    oldest = list(Award.objects.exclude(award_date=None).order_by("award_date", "id")[:12])
    Award.objects.filter(id__in=[a.id for a in oldest]).update(search_text="zebra crossing paint")
    monkeypatch.setattr(search, "WALK_WINDOWS", (20, 60))
    data = cleaned(q="zebra", sort="-date")

    assert search._walk(awards_matching(data), "award_date", True, "", 5) is None
    rows, after = keyset_page(awards_matching(data), search=Search(data), size=5, small=False)
    newest_first = sorted(oldest, key=lambda a: (a.award_date, a.id), reverse=True)
    assert [a.id for a in rows] == [a.id for a in newest_first[:5]]
    assert after


# --- Hostile cursors (issue 16): every one is a readable 400, never a 500 -------------

HOSTILE_CURSORS = [
    ("amount", "NaN~5"),
    ("amount", "sNaN~5"),
    ("amount", "Infinity~5"),
    ("-amount", "-Infinity~5"),
    ("amount", "1e999999~5"),
    ("amount", "1e-999999~5"),
    ("amount", "99999999999999999999~5"),
    ("amount", "12.5~²"),
    ("amount", "12.5~٣"),
    ("-date", "~99999999999999999999"),
    ("-date", "2024-02-30~5"),
    ("-date", "+2024-01-01~5"),
    ("date", "2024-01-01~" + "9" * 5000),
    ("", "NaN"),
    ("", "1e3"),
    ("", "-1"),
    ("", "9" * 5000),
]


@pytest.mark.parametrize(("sort", "after"), HOSTILE_CURSORS)
def test_a_hostile_cursor_is_a_broken_link_not_a_query(sort, after):
    demo.seed(awards=30, seed=6)
    params = {"sort": sort} if sort else {"q": "supply", "sort": "relevance"}
    data = cleaned(**params)

    with pytest.raises(search.BadCursor):
        keyset_page(awards_matching(data), search=Search(data), after=after)


@pytest.mark.parametrize(("sort", "after"), HOSTILE_CURSORS)
def test_the_search_page_answers_a_hostile_cursor_with_400_and_a_message(alice_client, sort, after):
    demo.seed(awards=30, seed=6)
    params = {"sort": sort, "after": after} if sort else {"q": "supply", "after": after}

    response = alice_client.get("/", params)

    assert response.status_code == 400
    assert "This page link is broken" in response.content.decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0e999999", "0"),
        ("-0", "0"),
        ("-0.00", "0.00"),
        ("1E+5", "100000"),
        ("12.5", "12.5"),
        ("1000", "1000"),
    ],
)
def test_amounts_have_one_spelling(value, expected):
    assert search.active_filters(cleaned(amount_min=value)) == {"amount_min": expected}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "Enter a number."),
        ("sNaN", "Enter a number."),
        ("Infinity", "Enter a number."),
        ("-Infinity", "Enter a number."),
        ("1e999999", "Enter an amount up to 10,000,000,000,000,000."),
        ("1e17", "Enter an amount up to 10,000,000,000,000,000."),
        ("1e-999999", "Ensure that there are no more than 2 decimal places."),
    ],
)
def test_amounts_that_are_not_finite_or_in_range_are_field_errors(value, message):
    form = SearchForm({"amount_min": value})

    assert not form.is_valid()
    assert form.errors["amount_min"] == [message]

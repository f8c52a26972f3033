"""Keyset pages, the small-result path and name filters of explorer/search.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F

from explorer import aggregates, demo, search
from explorer.models import Award
from explorer.search import SearchForm, awards_matching, keyset_page

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
        rows, after = keyset_page(awards, cleaned=data, after=after, size=size, small=small)
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


@pytest.mark.parametrize("sort", ["-date", "date", "-amount", "amount"])
@pytest.mark.parametrize("small", [False, True])
def test_keyset_pages_cover_ties_and_nulls_once_in_order(ties_and_nulls, sort, small):
    name, descending = search.SORTS[sort]
    column = F(name).desc(nulls_first=True) if descending else F(name).asc(nulls_last=True)
    expected = list(
        Award.objects.order_by(column, "-id" if descending else "id").values_list("id", flat=True)
    )

    assert walk({"sort": sort}, small=small) == expected


def test_a_cursor_inside_the_nulls_continues_with_the_values(ties_and_nulls):
    data = cleaned(sort="-date")
    first_null = Award.objects.filter(award_date=None).order_by("-id")[0]

    rows, _ = keyset_page(awards_matching(data), cleaned=data, after=f"~{first_null.id}", size=15)

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

    large, _ = keyset_page(awards, cleaned=data, small=False)
    small, _ = keyset_page(awards, cleaned=data, small=True)

    assert {a.id for a in large} == newest
    assert len(small) == search.PAGE_SIZE  # all matches ranked when the result is small


def test_a_walk_that_times_out_is_sorted_instead_with_the_same_rows(monkeypatch):
    demo.seed(awards=300, seed=11)
    params = {"q": "supply", "sort": "-date"}
    plain = walk(params, small=False, size=10)
    calls = []

    def timed_out(query, *, timeout_ms=None):  # the walk gave up: no rows from it
        calls.append(timeout_ms)
        return aggregates.Bounded(timed_out=True)

    monkeypatch.setattr(aggregates, "bounded", timed_out)

    assert walk(params, small=False, size=10) == plain
    assert calls[0] == search.WALK_TIMEOUT_MS

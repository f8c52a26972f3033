"""The shared search filters: validation and the queryset they select."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from explorer import demo
from explorer.models import Award
from explorer.search import SearchForm, active_filters, awards_matching

pytestmark = pytest.mark.django_db


def cleaned(**params: str) -> dict:
    form = SearchForm(params)
    assert form.is_valid(), form.errors
    return form.cleaned_data


def test_invalid_filters_name_their_field():
    form = SearchForm(
        {"date_from": "2024-13-01", "amount_min": "lots", "sort": "sideways", "amount_max": "-5"}
    )

    assert not form.is_valid()
    assert set(form.errors) == {"date_from", "amount_min", "amount_max", "sort"}


def test_reversed_ranges_are_refused():
    form = SearchForm(
        {"date_from": "2024-02-01", "date_to": "2024-01-01", "amount_min": "10", "amount_max": "5"}
    )

    assert not form.is_valid()
    assert form.errors["date_to"] == ["The end date is before the start date."]
    assert form.errors["amount_max"] == ["The maximum is below the minimum."]


def test_filters_combine_and_sort():
    demo.seed(awards=400, seed=2)
    some = Award.objects.select_related("organization").order_by("id")[7]
    params = cleaned(organization=some.organization.name, amount_min="1000", sort="-amount")

    result = list(awards_matching(params))

    expected = sorted(
        (a for a in Award.objects.filter(organization=some.organization) if a.amount >= Decimal(1000)),
        key=lambda a: (a.amount, a.id),
        reverse=True,
    )
    assert result == expected


def test_keyword_search_finds_words_in_titles_and_names():
    demo.seed(awards=300, seed=2)
    award = Award.objects.select_related("supplier").order_by("id")[3]
    word = award.supplier.name.split()[0]

    found = awards_matching(cleaned(q=word))

    assert award in found
    assert all(word.lower() in a.search_text.lower() for a in found)


def test_active_filters_keep_the_fixed_names_and_order():
    params = cleaned(q="  road   repair ", date_from="2024-01-05", amount_max="500000", sort="amount")

    assert active_filters(params) == {
        "q": "road repair",
        "date_from": dt.date(2024, 1, 5).isoformat(),
        "amount_max": "500000",
        "sort": "amount",
    }

"""Capped counts and sampled facets of explorer/aggregates.py."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum

from explorer import aggregates, demo, facets
from explorer.models import Award
from explorer.search import SearchForm

pytestmark = pytest.mark.django_db


def test_capped_totals_are_exact_up_to_the_cap_and_say_more_past_it():
    demo.seed(awards=60, seed=9)
    awards = Award.objects.all()
    total = awards.aggregate(amount=Sum("amount"))["amount"]

    at_cap = aggregates.capped_totals(awards, cap=60).value
    past_cap = aggregates.capped_totals(awards, cap=59).value

    assert at_cap == {"count": 60, "amount": total, "exact": True}
    assert past_cap == {"count": 60, "amount": None, "exact": False}


def top(counts: Counter) -> list[tuple[object, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:8]


def test_facets_of_a_result_under_the_cap_are_exact():
    demo.seed(awards=150, seed=10)
    awards = Award.objects.filter(amount__gte=20_000)

    counted = {f.facet.name: f for f in facets.count(SearchForm({}).search, awards)}

    modes = Counter(awards.values_list("procurement_mode", flat=True))
    years = Counter(a.award_date.year for a in awards)
    assert [(v.value, v.count) for v in counted["mode"].values] == top(modes)
    assert [(v.value, v.count) for v in counted["year"].values] == top(years)
    assert counted["year"].truncated == (len(years) > 8)
    assert not any(f.approximate for f in counted.values())


def test_facets_of_a_result_over_the_cap_are_marked_approximate(monkeypatch):
    demo.seed(awards=150, seed=10)
    monkeypatch.setattr(aggregates, "COUNT_CAP", 40)

    search = SearchForm({"mode": "Public Bidding"}).search
    by_name = {f.facet.name: f for f in facets.count(search, Award.objects.all())}

    assert [(v.value, v.count) for v in by_name["mode"].values] == [("Public Bidding", 0)]
    assert not by_name["mode"].approximate
    for name in ("category", "area", "year"):
        assert by_name[name].approximate
        assert sum(v.count for v in by_name[name].values) <= 40

"""The aggregate report: figures against an independent computation, planted anomalies
flagged, ordinary seeded entities not flagged."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from explorer import demo, redflags, report
from explorer.analyses import overview
from explorer.models import Award
from explorer.search import SearchForm, awards_matching

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    demo.seed(awards=3000, seed=21)  # above MIN_AWARDS_FOR_ANOMALIES: the anomalies are planted
    return list(Award.objects.values("award_date", "amount", "organization__name", "supplier__name"))


def test_figures_equal_a_computation_in_python(seeded):
    data = report.build(Award.objects.all())

    amounts = [row["amount"] for row in seeded if row["amount"] is not None]
    assert data["awards"] == len(seeded)
    assert math.isclose(data["amount"], float(sum(amounts)), rel_tol=1e-9)

    by_month = Counter((r["award_date"].year, r["award_date"].month) for r in seeded if r["award_date"])
    assert {(y, m): n for y, m, n, _ in data["by_month"]} == dict(by_month)

    spend: dict[str, Decimal] = defaultdict(Decimal)
    for row in seeded:
        spend[row["organization__name"]] += row["amount"] or 0
    top = sorted(spend.items(), key=lambda item: (-item[1], item[0]))[: overview.TOP]
    assert [name for name, *_ in data["top"]["organizations"]] == [name for name, _ in top]

    first = Counter(int(str(int(a))[0]) for a in amounts if a >= 10)
    assert data["benford"]["overall"]["counts"] == {str(d): first.get(d, 0) for d in range(1, 10)}

    positive = [a for a in amounts if a >= 1]
    for multiple in data["rounding"]["multiples"]:
        assert multiple["count"] == sum(1 for a in positive if a % multiple["unit"] == 0)
    last = Counter(int(a) % 10 for a in amounts if a >= 10)
    assert data["rounding"]["last_digit"] == [[d, last.get(d, 0)] for d in range(10)]

    for threshold in data["thresholds"]:
        t = Decimal(threshold["threshold"])
        assert threshold["below"] == sum(1 for a in amounts if t * Decimal("0.9") <= a < t)
        assert threshold["above"] == sum(1 for a in amounts if t <= a < t * Decimal("1.1"))


def test_planted_anomalies_are_flagged_and_ordinary_entities_are_not(seeded):
    data = report.build(Award.objects.all())

    benford = {row["name"] for row in data["benford"]["entities"] if row["flag"]}
    assert benford == {demo.PLANTED["benford_agency"]}
    assert data["benford"]["tested"] > 1  # ordinary agencies were tested too, and passed

    million = next(t for t in data["thresholds"] if t["threshold"] == 1_000_000)
    flagged = {(row["kind"], row["name"]) for row in million["entities"] if row["flag"]}
    assert ("supplier", demo.PLANTED["threshold_supplier"]) in flagged
    planted = {demo.PLANTED["threshold_supplier"], demo.PLANTED["benford_agency"]}
    assert {name for _, name in flagged} <= planted  # the Benford agency's amounts bunch too

    concentration = [row for row in data["concentration"]["entities"] if row["flag"]]
    assert [(row["name"], row["top_supplier"]) for row in concentration] == [
        (demo.PLANTED["concentration_agency"], demo.PLANTED["concentration_supplier"])
    ]
    assert data["concentration"]["tested"] > 1


def test_concentration_shares_match_the_awards_of_that_agency(seeded):
    data = report.build(Award.objects.all())
    row = next(r for r in data["concentration"]["entities"] if r["flag"])

    mine = [r for r in seeded if r["organization__name"] == row["name"] and r["supplier__name"]]
    by_supplier: dict[str, float] = defaultdict(float)
    for r in mine:
        by_supplier[r["supplier__name"]] += float(r["amount"] or 0)
    total = sum(by_supplier.values())
    assert row["awards"] == len(mine)
    assert math.isclose(row["spend_share"], by_supplier[row["top_supplier"]] / total, rel_tol=1e-9)
    assert math.isclose(row["hhi"], redflags.hhi(list(by_supplier.values())), rel_tol=1e-9)


def test_the_report_follows_the_search_filters(seeded):
    form = SearchForm({"organization": demo.PLANTED["concentration_agency"]})
    assert form.is_valid()
    data = report.build(awards_matching(form.cleaned_data))

    assert data["awards"] == sum(
        1 for r in seeded if r["organization__name"] == demo.PLANTED["concentration_agency"]
    )
    assert [row[0] for row in data["top"]["organizations"]] == [demo.PLANTED["concentration_agency"]]


def test_an_empty_search_gives_an_empty_report_not_an_error():
    data = report.build(Award.objects.none())
    assert data["awards"] == 0
    assert data["benford"]["tested"] == 0
    assert data["concentration"]["entities"] == []


@pytest.mark.parametrize(
    ("counts", "flag"),
    [
        ({d: round(1000 * p) for d, p in redflags.BENFORD.items()}, False),  # Benford itself
        ({1: 300, 2: 180, 3: 120, 4: 290, 5: 80, 6: 70, 7: 60, 8: 50, 9: 210}, True),  # 4s and 9s
        ({1: 95, 2: 50, 3: 40, 4: 25, 5: 30, 6: 15, 7: 20, 8: 15, 9: 10}, False),  # n = 300, noise
    ],
)
def test_benford_flag_needs_both_a_large_mad_and_a_significant_deviation(counts, flag):
    assert redflags.benford_flag(counts) is flag


def test_binomial_tail_matches_the_exact_sum():
    exact = sum(math.comb(20, k) * 0.3**k * 0.7 ** (20 - k) for k in range(12, 21))
    assert math.isclose(redflags.binomial_tail(12, 20, 0.3), exact, rel_tol=1e-9)
    assert redflags.binomial_tail(0, 20, 0.3) == 1.0

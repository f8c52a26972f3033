"""Report v2 on constructed selections where the truth is known: selection-level Benford
and threshold bunching, peer screens, the findings list and its links."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from explorer import modes, redflags, report
from explorer.models import Award
from explorer.search import SearchForm, awards_matching
from tests.explorer.constructed import add_awards

pytestmark = pytest.mark.django_db

PUBLIC = "Public Bidding"
SMALL_VALUE = "Negotiated Procurement - Small Value Procurement (Sec. 53.9)"
DIRECT = "Direct Contracting (Sec. 50)"


def _day(rng: random.Random) -> dt.date:
    return dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(730))


def _lognormal(rng: random.Random, n: int) -> list[tuple[str, str, float, str, dt.date]]:
    """Amounts with log10 ~ N(7.0, 0.8): smooth across PHP 1 M, 50 M and 100 M."""
    return [
        (f"AGENCY {i % 40}", f"SUPPLIER {rng.randrange(300)}", 10 ** rng.gauss(7.0, 0.8), PUBLIC, _day(rng))
        for i in range(n)
    ]


def _selection_findings(data, analysis):
    return [f for f in data["findings"] if f["scope"] == "selection" and f["analysis"] == analysis]


@pytest.mark.parametrize("seed", [5, 11, 12])
def test_a_smooth_log_normal_selection_is_not_flagged_at_any_threshold(seed):
    add_awards(_lognormal(random.Random(seed), 8000))

    data = report.build(Award.objects.all())

    for t in data["thresholds"]:
        assert t["bunching"]["tested"], t["bunching"]
        assert not t["bunching"]["flag"], (t["threshold"], t["bunching"]["z"])
        assert abs(t["bunching"]["z"]) < 3.5  # the fitted density is close to the truth
    assert _selection_findings(data, "thresholds") == []


def test_a_planted_excess_just_below_50m_is_flagged_for_the_selection_and_only_there():
    rng = random.Random(5)
    rows = _lognormal(rng, 8000)
    rows += [
        (f"AGENCY {i % 40}", "SPLITTER", rng.uniform(45e6, 49.9e6), PUBLIC, _day(rng)) for i in range(150)
    ]
    add_awards(rows)

    data = report.build(Award.objects.all())

    flagged = {t["threshold"]: t["bunching"]["flag"] for t in data["thresholds"]}
    assert flagged == {1_000_000: False, 50_000_000: True, 100_000_000: False}
    [finding] = _selection_findings(data, "thresholds")
    assert finding["evidence"]["observed"] - finding["evidence"]["expected"] == pytest.approx(150, abs=45)
    assert "polynomial fitted" in finding["baseline"]
    assert data["findings"][0] is not None
    assert data["findings"][0]["scope"] == "selection"
    # Its link searches exactly the awards it counts.
    assert _count(finding["filters"]) == finding["evidence"]["observed"]


def _benford_amounts(rng: random.Random, n: int) -> list[tuple[str, str, float, str, dt.date]]:
    """log10 uniform over six decades: first digits follow Benford's law."""
    return [(f"AGENCY {i % 10}", "S", 10 ** rng.uniform(2, 8), PUBLIC, _day(rng)) for i in range(n)]


def test_a_benford_conforming_selection_is_not_flagged():
    add_awards(_benford_amounts(random.Random(7), 6000))

    data = report.build(Award.objects.all())

    assert not data["benford"]["overall"]["flag"]
    assert data["benford"]["overall"]["band"] in ("close conformity", "acceptable conformity")
    assert _selection_findings(data, "benford") == []


def test_planted_first_digits_are_flagged_for_the_selection():
    rng = random.Random(7)
    rows = _benford_amounts(rng, 6000)
    rows += [
        (
            "AGENCY 0",
            "S",
            rng.choice((4, 9)) * 10 ** rng.randint(3, 7) * rng.uniform(1, 1.11),
            PUBLIC,
            _day(rng),
        )
        for _ in range(900)
    ]
    add_awards(rows)

    data = report.build(Award.objects.all())

    [finding] = _selection_findings(data, "benford")
    shares, expected = finding["evidence"]["shares"], finding["evidence"]["expected"]
    assert shares["4"] > expected["4"] + 0.05
    assert shares["9"] > expected["9"] + 0.05
    assert finding["evidence"]["mad"] > 0.015
    assert finding["evidence"]["log10_p"] < -3
    assert "4 (" in finding["statistic"]
    assert "9 (" in finding["statistic"]


def _peer_rows(rng: random.Random):
    rows = []
    for i in range(30):
        for _ in range(40):
            mode = SMALL_VALUE if rng.random() < 0.25 else PUBLIC
            rows.append(
                (f"AGENCY {i}", f"SUPPLIER {rng.randrange(100)}", rng.uniform(1e5, 1e6), mode, _day(rng))
            )
    for j in range(40):
        mode = DIRECT if j < 36 else PUBLIC
        rows.append(
            ("OUTLIER DIRECT", f"SUPPLIER {rng.randrange(100)}", rng.uniform(1e5, 1e6), mode, _day(rng))
        )
        day = dt.date(2023 + j % 2, 12, 1 + j % 28) if j < 20 else _day(rng)
        rows.append(
            ("OUTLIER DECEMBER", f"SUPPLIER {rng.randrange(100)}", rng.uniform(1e5, 1e6), PUBLIC, day)
        )
        rows.append(("CAPTIVE AGENCY", "THE ONLY SUPPLIER", rng.uniform(1e5, 1e6), PUBLIC, _day(rng)))
    return rows


def test_peer_screens_flag_the_planted_entities_only_and_link_to_the_awards_they_count():
    add_awards(_peer_rows(random.Random(3)))

    data = report.build(Award.objects.all())

    screens = [f for f in data["findings"] if f["analysis"] == "screens" and f["scope"] == "organization"]
    assert {(f["evidence"]["component"], f["name"]) for f in screens} == {
        ("noncompetitive", "OUTLIER DIRECT"),
        ("year_end", "OUTLIER DECEMBER"),
        ("winner_share", "CAPTIVE AGENCY"),
    }
    for finding in screens:
        assert "upper fence" in finding["baseline"]
        if finding["evidence"]["count"] is not None:
            assert _count(finding["filters"]) == finding["evidence"]["count"]
    direct = next(f for f in screens if f["name"] == "OUTLIER DIRECT")
    assert direct["evidence"]["count"] == 36
    assert direct["evidence"]["of"] == 40
    assert direct["evidence"]["peers"]["median"] == pytest.approx(0.25, abs=0.08)
    # Findings are grouped by scope, strongest first within each.
    ranks = [[s for s, _ in report.SCOPES].index(f["scope"]) for f in data["findings"]]
    assert ranks == sorted(ranks)
    for scope in {f["scope"] for f in data["findings"]}:
        strengths = [f["strength"] for f in data["findings"] if f["scope"] == scope]
        assert strengths == sorted(strengths, reverse=True)


def test_winners_share_of_the_buyers_yearly_spend_matches_a_computation_in_python():
    rows = _peer_rows(random.Random(3))
    add_awards(rows)
    from explorer.analyses import screens

    measured = {(r["kind"], r["name"]): r for r in screens.measure(Award.objects.all())}

    name = "AGENCY 4"
    mine = [r for r in rows if r[0] == name]
    spend: dict[tuple[str, int], float] = {}
    year_total: dict[int, float] = {}
    for _, supplier, amount, _, day in mine:
        amount = round(amount, 2)
        spend[(supplier, day.year)] = spend.get((supplier, day.year), 0) + amount
        year_total[day.year] = year_total.get(day.year, 0) + amount
    shares = [spend[(s, d.year)] / year_total[d.year] for _, s, _, _, d in mine]
    assert math.isclose(
        measured[("organization", name)]["winner_share"], sum(shares) / len(shares), rel_tol=1e-6
    )
    assert measured[("organization", "CAPTIVE AGENCY")]["winner_share"] == pytest.approx(1.0)


def _count(filters: dict[str, str]) -> int:
    form = SearchForm(filters)
    assert form.is_valid(), form.errors
    return awards_matching(form.cleaned_data).count()


@pytest.mark.parametrize(
    ("mode", "method"),
    [
        ("Public Bidding", "open"),
        ("Limited Source Bidding (Sec. 49)", "selective"),
        ("Negotiated Procurement - Small Value Procurement (Sec. 53.9)", "limited"),
        ("Shopping - Ordinary/Regular Office Supplies & Equipment (Sec. 52.1.b)", "limited"),
        ("Negotiated Procurement - Two Failed Biddings (Sec. 53.1)", "limited"),
        ("Negotiated Procurement - Emergency Cases (Sec. 53.2)", "limited"),
        ("Direct Contracting (Sec. 50)", "direct"),
        ("Direct Retail Purchase of POL and Airline Tickets (Sec. 53.14)", "direct"),
        ("Negotiated Procurement - Agency to Agency (Sec. 53.5)", "direct"),
        ("Negotiated Procurement - Lease of Real Property (Sec. 53.10)", "direct"),
        ("NP - Scientific, Scholarly/Artistic Work, Exclusive Tech. & Media Service (53.6)", "direct"),
        ("Repeat Order (Sec. 51)", "direct"),
        ("", ""),
    ],
)
def test_modes_map_to_ocds_methods_the_same_in_python_and_in_sql(mode, method):
    assert modes.method(mode) == method
    add_awards([("A", "S", 1000.0, mode, None)])
    for choice in modes.METHODS:
        assert Award.objects.filter(modes.method_q(choice)).exists() is (choice == method)
    noncompetitive = Award.objects.filter(modes.method_q("noncompetitive")).exists()
    assert noncompetitive is (method in modes.NONCOMPETITIVE)


def test_the_bunching_test_is_exact_on_a_polynomial_density():
    # Counts that are exactly a quadratic: the fit recovers them and the excess is the plant.
    bins = {k: 100 - k * k // 10 for k in range(-20, 20)}
    excluded = set(range(-3, 3))
    bins[-1] += 50
    result = redflags.bunching(
        bins, span=20, excluded=excluded, degree=2, below=(-1, 0), above=(0, 1),
        observed_below=bins[-1], observed_above=bins[0],
    )  # fmt: skip
    assert result["expected"] == pytest.approx(100 - 0.25 / 10 * 10 - 0.025 * 0, abs=1.5)
    assert result["excess"] == pytest.approx(50, abs=1.5)
    assert result["log10_p"] < -4


def test_chi_square_tail_matches_known_values():
    assert redflags.chi2_sf_even(26.12, 8) == pytest.approx(0.001, rel=0.01)
    assert redflags.chi2_sf_even(15.51, 8) == pytest.approx(0.05, rel=0.01)
    assert redflags.chi2_log10_sf_even(26.12, 8) == pytest.approx(-3, abs=0.01)
    assert redflags.chi2_log10_sf_even(5000, 8) < -1000


def test_indicator_flags_are_screened_per_entity_against_the_pooled_rate_of_peers():
    from explorer.indicators import CODES

    code = CODES[0]
    add_awards(_peer_rows(random.Random(3)))
    heavy = list(Award.objects.filter(organization__name="AGENCY 7").values_list("pk", flat=True)[:25])
    light = [
        a.pk for i in range(30) if i != 7 for a in Award.objects.filter(organization__name=f"AGENCY {i}")[:1]
    ]
    Award.objects.filter(pk__in=heavy + light).update(flags=[code])

    data = report.build(Award.objects.all())

    flagged = [f for f in data["findings"] if f["evidence"].get("component") == f"indicator_{code}"]
    assert [(f["scope"], f["name"]) for f in flagged] == [("organization", "AGENCY 7")]
    [finding] = flagged
    assert finding["evidence"]["count"] == 25
    assert finding["evidence"]["peers"]["rate"] == pytest.approx(54 / 1320, abs=0.01)
    assert _count(finding["filters"]) == 25  # the `flag` filter finds the same awards

"""Search page latency on a large database (issue 4): 20 fixed queries, facets, page 10,000.

Usage: DATABASE_URL=postgres://... python bench/search_bench.py [--repeat 5] [--no-record]
Needs a seeded database (`seed_demo --awards 1000000`). Each query is requested through
the real view (Django test Client, logged in) after one warm-up pass; the figure is the
whole response: form, first page with its result count, facets and rendering. The page
and its (capped) count are also timed alone by calling the functions the view calls.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from common import record, setup_django

# Words come from explorer/demo.py's vocabulary; names are looked up at start (see main).
QUERIES: list[tuple[str, dict[str, str]]] = [
    ("common word, relevance", {"q": "supply"}),
    ("common word, newest", {"q": "supply", "sort": "-date"}),
    ("common word, largest", {"q": "construction", "sort": "-amount"}),
    ("two common words", {"q": "delivery office"}),
    ("mid word, relevance", {"q": "tarpaulins"}),
    ("rare word, newest", {"q": "2014", "sort": "-date"}),
    ("TRAP: rare old words by date", {"q": "2013 or 2014 or 2015 or 2016 or 2017", "sort": "-date"}),
    ("TRAP: small amounts by amount", {"q": "revetment", "sort": "amount"}),
    ("phrase", {"q": '"farm to market road"', "sort": "-date"}),
    ("phrase minus word", {"q": '"school building" -rehabilitation'}),
    ("or", {"q": 'ambulance or "rescue vehicle"', "sort": "-amount"}),
    ("supplier name words", {"q": "golden horizon"}),
    ("supplier filter", {"supplier": "GOLDEN HORIZON TRADING", "sort": "-date"}),
    ("biggest agency", {"organization": "{org}"}),
    ("biggest agency + word", {"organization": "{org}", "q": "supply", "sort": "-amount"}),
    ("biggest supplier, largest", {"supplier": "{supplier}", "sort": "-amount"}),
    ("amount range", {"amount_min": "1000000", "amount_max": "5000000", "sort": "-date"}),
    ("word + quarter", {"q": "diesel", "date_from": "2024-01-01", "date_to": "2024-03-31"}),
    ("mode + category", {"mode": "Public Bidding", "category": "Flood Control", "sort": "-amount"}),
    ("no filters", {}),
]
# Just over the 5,000 count cap and all before 2020, newest first: the walk of the date
# index gives up after search.WALK_WINDOWS rows for a sort.
TRAP_OVER_CAP = {"q": "2013 or 2014 or 2015 or 2016 or 2017 or 2018 or 2019", "sort": "-date"}
FACET_QUERY = {"q": "supply"}
DEEP_PAGE = 10_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of `repeat` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def filled_queries() -> list[tuple[str, dict[str, str]]]:
    """QUERIES with the names of the database's biggest agency and supplier filled in
    (Django must be set up)."""
    from django.db.models import Count

    from explorer.models import Award

    names = {
        "org": Award.objects.values("organization__name")
        .annotate(n=Count("id"))
        .order_by("-n")[0]["organization__name"],
        "supplier": Award.objects.exclude(supplier=None)
        .values("supplier__name")
        .annotate(n=Count("id"))
        .order_by("-n")[0]["supplier__name"],
    }
    return [(label, {k: v.format(**names) for k, v in params.items()}) for label, params in QUERIES]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="print only, do not touch RESULTS.md")
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from explorer import aggregates, facets, search
    from explorer.models import Award

    total = Award.objects.count()
    queries = filled_queries()

    user, _ = get_user_model().objects.get_or_create(username="bench-search")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    url = reverse("explorer:search")

    def page_and_count(params: dict[str, str], after: str = "") -> Callable[[], Any]:
        """What the view does for the first page and its count, without facets or templates."""

        def run() -> Any:
            form = search.SearchForm(params)
            assert form.is_valid(), form.errors
            awards = form.search.awards()
            totals = aggregates.capped_totals(awards)
            rows, cursor = search.keyset_page(
                awards.select_related("organization", "supplier"),
                search=form.search,
                after=after,
                small=_small(totals),
            )
            return totals, rows, cursor

        return run

    def response(params: dict[str, str]) -> Callable[[], Any]:
        def run() -> Any:
            got = client.get(url, params)
            assert got.status_code == 200, got.status_code
            return got

        return run

    # Warm-up pass over everything first, so the first query does not pay for a cold cache.
    for _, params in queries:
        response(params)()

    rows_out = []
    page_ms, full_ms = [], []
    for label, params in queries:
        part, (totals, _, _) = timed(page_and_count(params), args.repeat)
        whole, _ = timed(response(params), args.repeat)
        page_ms.append(part)
        full_ms.append(whole)
        count = "timed out" if totals.timed_out else _count_text(totals.value)
        rows_out.append((label, params, count, part, whole))
        print(f"{whole:8.1f} ms  (page+count {part:7.1f} ms)  {count:>14}  {label}: {params}", flush=True)

    facet_form = search.SearchForm(FACET_QUERY)
    assert facet_form.is_valid()
    facet_awards = facet_form.search.awards()
    facet_ms, counted = timed(lambda: facets.count(facet_form.search, facet_awards), args.repeat)
    facet_state = ", ".join(f"{f.facet.name}: {_facet_state(f)}" for f in counted)
    # The exact count of a large result, which the page fetches after showing "more than".
    exact_ms, full = timed(lambda: aggregates.totals(facet_awards), args.repeat)
    full_state = "timed out" if full.timed_out else f"{full.value['count']:,} awards"
    deferred_ms, _ = timed(lambda: client.get(reverse("explorer:search_totals"), FACET_QUERY), args.repeat)

    # Page 10,000 of the broadest search (no filters, newest first): the cursor of page
    # 9,999's last row is built directly (one OFFSET query, not timed), as a user who had
    # clicked "Next page" 9,999 times would hold it.
    last = search.awards_matching({}).values_list("award_date", "id")[(DEEP_PAGE - 1) * search.PAGE_SIZE - 1]
    cursor = f"{last[0].isoformat() if last[0] else ''}~{last[1]}"
    deep_ms, (_, deep_rows, _) = timed(page_and_count({}, after=cursor), args.repeat)
    deep_whole, _ = timed(response({"after": cursor}), args.repeat)
    assert len(deep_rows) == search.PAGE_SIZE

    trap_ms, (trap_totals, _, _) = timed(page_and_count(TRAP_OVER_CAP), args.repeat)
    trap_whole, _ = timed(response(TRAP_OVER_CAP), args.repeat)

    table = [
        "| Query | Params | Count shown | Page + count (ms) | Whole response (ms) |",
        "|---|---|---|---:|---:|",
    ]
    for label, params, count, part, whole in rows_out:
        shown = "&".join(f"{k}={v}" for k, v in params.items()) or "(none)"
        table.append(f"| {label} | `{shown}` | {count} | {part:.1f} | {whole:.1f} |")
    lines = [
        f"{total:,} awards; {len(queries)} queries, median of {args.repeat} runs each after a warm-up pass",
        f"whole response: median **{statistics.median(full_ms):.1f} ms**, "
        f"p95 {percentile(full_ms, 0.95):.1f} ms, max {max(full_ms):.1f} ms",
        f"page + count alone: median **{statistics.median(page_ms):.1f} ms**, "
        f"p95 {percentile(page_ms, 0.95):.1f} ms, max {max(page_ms):.1f} ms",
        f"facets on `q={FACET_QUERY['q']}`: **{facet_ms:.1f} ms** ({facet_state})",
        f"deferred exact totals of `q={FACET_QUERY['q']}` (second request after the page): "
        f"{exact_ms:.1f} ms ({full_state}), whole response {deferred_ms:.1f} ms",
        f"page {DEEP_PAGE:,} of the unfiltered search by keyset cursor: page + count **{deep_ms:.1f} ms**, "
        f"whole response {deep_whole:.1f} ms",
        f"trap above the count cap (`q={TRAP_OVER_CAP['q']}`, newest first, "
        f"{_count_text(trap_totals.value)} matches): page + count {trap_ms:.1f} ms, "
        f"whole response {trap_whole:.1f} ms",
    ]
    if args.no_record:
        print("\n".join([*lines, "", *table]))
        return
    record(
        f"Search page on {total:,} awards",
        f"python bench/search_bench.py --repeat {args.repeat}",
        lines,
        table,
    )


def _small(totals: Any) -> bool:
    """As the view decides: an exactly counted result is sorted, not walked (search.py)."""
    return not totals.timed_out and totals.value["exact"]


def _count_text(value: dict[str, Any]) -> str:
    return f"{value['count']:,}" if value.get("exact", True) else f"> {value['count'] - 1:,}"


def _facet_state(facet: Any) -> str:
    if facet.timed_out:
        return "timed out"
    return "approximate" if getattr(facet, "approximate", False) else "exact"


if __name__ == "__main__":
    main()

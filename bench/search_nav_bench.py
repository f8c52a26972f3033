"""The search page's navigation (issue 17): filter choices cold and cached, and Previous
against Next at depth.

Usage: DATABASE_URL=postgres://... python bench/search_nav_bench.py [--repeat 5] [--no-record]
Needs a seeded database (`seed_demo --awards N`). The choices are timed with the cache
cleared (the first page load after new awards arrive) and cached; the pages are keyset
pages reached by walking Next DEPTH pages from the first one, then timed as Next (the
page after it) and Previous (the page before it), by calling explorer.paging.page as
the view does.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from common import record, setup_django

DEPTH = 200  # pages of 50: row 10,001


def timed(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _page(paging: Any, awards: Any, found: Any, place: Any) -> Callable[[], Any]:
    return lambda: paging.page(awards, search=found, place=place, small=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    setup_django()
    import os

    from django.core.cache import cache

    from explorer import choices, paging
    from explorer.models import Award
    from explorer.search import SearchForm

    awards_n = Award.objects.count()

    def cold() -> None:
        cache.clear()
        choices.options()

    lines = [
        f"{awards_n:,} awards; load average {os.getloadavg()[0]:.1f} at start",
        f"filter choices, cold (4 GROUP BYs): {timed(cold, args.repeat):.0f} ms median",
        f"filter choices, cached: {timed(choices.options, args.repeat):.1f} ms median",
    ]
    for sort in ("-date", "amount"):
        form = SearchForm({"sort": sort})
        assert form.is_valid()
        found = form.search
        awards = found.awards().select_related("organization", "supplier")
        place = paging.Place()
        for _ in range(DEPTH):
            pager = paging.page(awards, search=found, place=place, small=False)
            query = {k: v[0] for k, v in parse_qs(urlparse(pager.next_url).query).items()}
            place = paging.place(query, search=found)
        here = paging.page(awards, search=found, place=place, small=False)
        forward = paging.place(
            {k: v[0] for k, v in parse_qs(urlparse(here.next_url).query).items()}, search=found
        )
        backward = paging.place(
            {k: v[0] for k, v in parse_qs(urlparse(here.previous_url).query).items()}, search=found
        )
        next_ms = timed(_page(paging, awards, found, forward), args.repeat)
        prev_ms = timed(_page(paging, awards, found, backward), args.repeat)
        lines.append(
            f"sort {sort}, page {here.number} (rows {here.start:,}-{here.end:,}): "
            f"Next {next_ms:.1f} ms, Previous {prev_ms:.1f} ms (median)"
        )
    lines.append(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.no_record:
        print("\n".join(lines))
    else:
        record(
            "Search navigation: filter choices and Previous/Next at depth (issue 17, h17s)",
            "DATABASE_URL=... .venv/bin/python bench/search_nav_bench.py",
            lines,
        )


if __name__ == "__main__":
    main()

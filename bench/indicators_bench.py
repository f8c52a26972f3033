"""Indicators on a large database (issue 18): compute from scratch, incrementally after an
import-sized change, and the search with a flag filter.

Usage: DATABASE_URL=postgres://... python bench/indicators_bench.py [--prepare] [--repeat 7] [--no-record]
Needs a seeded database (`seed_demo --awards 1000000 --no-indicators`). The demo data has
no UNSPSC codes, bidders or varied submission periods, so R048, R018, PH03 and R003 would
find nothing to work on: `--prepare` gives every award a UNSPSC code (its segment from its
category, its class from its id), 5 % of the open notices one bidder, and 10 % of them a
closing date 1-14 days after publication (run it once; it rewrites the rows).

From scratch: the results and the stored baselines (SupplierStats, CategoryCut) emptied and
every flag cleared, then engine.compute_all(). Incremental: N new awards on N new notices
copied from existing ones (an import of N rows), then engine.compute_after_import() as the
importer calls it; each line gives the seconds per indicator and for the flags, and the
notices in scope (those whose flags were refreshed). Search: the search page
through Django's test Client (form, page, count, facets, rendering), median of --repeat
after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import record, setup_django


def prepare() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE explorer_award SET unspsc_code = lpad(((10 + "
            "COALESCE(category_id, 0) % 80))::text, 2, '0') "
            "|| lpad((id % 7 * 11 + 10)::text, 2, '0') || lpad((id % 3 + 10)::text, 2, '0') || '00' "
            "WHERE unspsc_code = ''"
        )
        cursor.execute(
            "UPDATE explorer_notice SET bidders = 'ONLY BIDDER ' || id "
            "WHERE procurement_mode = 'Public Bidding' "
            "AND id % 20 = 0"
        )
        cursor.execute(
            "UPDATE explorer_notice SET closing_date = published_date + (1 + id % 14)::int "
            "WHERE procurement_mode = 'Public Bidding' AND id % 10 = 1"
        )
        cursor.execute("VACUUM ANALYZE explorer_award")
        cursor.execute("VACUUM ANALYZE explorer_notice")


def from_scratch() -> tuple[float, object]:
    from django.db import connection

    from explorer.indicators import engine

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE explorer_indicatorresult, explorer_supplierstats, explorer_categorycut")
        cursor.execute("UPDATE explorer_award SET flags = '{}' WHERE flags <> '{}'")
        cursor.execute("UPDATE explorer_notice SET flags = '{}' WHERE flags <> '{}'")
        cursor.execute("VACUUM ANALYZE explorer_award")
        cursor.execute("VACUUM ANALYZE explorer_notice")
    started = time.perf_counter()
    done = engine.compute_all()
    return time.perf_counter() - started, done


def incremental(n: int) -> tuple[float, object]:
    """N new notices and awards (copies of random existing ones, new keys), then the
    importer's recompute."""
    from django.db import connection

    from explorer.indicators import engine

    marks = engine.high_water_marks()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_src AS SELECT id FROM explorer_award ORDER BY random() LIMIT %s", [n]
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_map AS SELECT s.id AS award_id, a.notice_id, "
            "nextval(pg_get_serial_sequence('explorer_notice', 'id')) AS new_notice FROM bench_src s "
            "JOIN explorer_award a ON a.id = s.id"
        )
        cursor.execute(
            "INSERT INTO explorer_notice (id, key, reference_number, "
            "solicitation_number, title, notice_type, "
            "classification, procurement_mode, organization_id, category_id, area_id, funding_source, "
            "funding_instrument, trade_agreement, approved_budget, contract_duration, calendar_type, "
            "published_date, closing_date, prebid_date, status, bidders) "
            "SELECT m.new_notice, gen_random_uuid(), '', n.solicitation_number, n.title, n.notice_type, "
            "n.classification, n.procurement_mode, n.organization_id, "
            "n.category_id, n.area_id, n.funding_source, "
            "n.funding_instrument, n.trade_agreement, "
            "n.approved_budget, n.contract_duration, n.calendar_type, "
            "n.published_date + 30, n.closing_date + 30, n.prebid_date, n.status, n.bidders "
            "FROM bench_map m JOIN explorer_notice n ON n.id = m.notice_id"
        )
        cursor.execute(
            "INSERT INTO explorer_award (public_id, key, notice_id, "
            "award_number, title, supplier_id, amount, "
            "contract_number, award_type, reason, status, unspsc_code, unspsc_description, published_date, "
            "award_date, ntp_date, effectivity_date, end_date, organization_id, category_id, area_id, "
            "procurement_mode, notice_status, search_text) "
            "SELECT gen_random_uuid(), gen_random_uuid(), m.new_notice, a.award_number || 'b', a.title, "
            "a.supplier_id, a.amount, a.contract_number, a.award_type, a.reason, a.status, a.unspsc_code, "
            "a.unspsc_description, a.published_date + 30, a.award_date + 30, a.ntp_date, a.effectivity_date, "
            "a.end_date, a.organization_id, a.category_id, a.area_id, a.procurement_mode, a.notice_status, "
            "a.search_text FROM bench_map m JOIN explorer_award a ON a.id = m.award_id"
        )
        cursor.execute("DROP TABLE bench_src")
        cursor.execute("DROP TABLE bench_map")
    started = time.perf_counter()
    done = engine.compute_after_import(notice_after=marks[0], award_after=marks[1])
    return time.perf_counter() - started, done


def searches(repeat: int) -> list[tuple[str, float, int]]:
    from django.contrib.auth.models import User
    from django.test import Client

    from explorer.indicators import CODES
    from explorer.models import Award, Organization

    user, _ = User.objects.get_or_create(username="bench-indicators")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    busiest = (
        Award.objects.filter(flags__contains=["R003"]).values("organization_id").order_by().first() or {}
    ).get("organization_id")
    agency = Organization.objects.filter(id=busiest).values_list("name", flat=True).first() or ""
    queries: list[tuple[str, dict[str, str]]] = [(f"flag={code}", {"flag": code}) for code in CODES]
    queries += [
        ("flag=PH02,PH04", {"flag": "PH02,PH04"}),
        ("flag=PH02 largest first", {"flag": "PH02", "sort": "-amount"}),
        (
            "flag=R003 + agency + 2024",
            {"flag": "R003", "organization": agency, "date_from": "2024-01-01", "date_to": "2024-12-31"},
        ),
        ("flag=PH02 + word", {"flag": "PH02", "q": "supply"}),
    ]
    out = []
    for label, params in queries:
        client.get("/", params)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get("/", params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        count = Award.objects.filter(flags__contains=params["flag"].split(",")).count()
        out.append((label, statistics.median(times), count))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--skip-scratch", action="store_true", help="only the incremental runs and searches")
    args = parser.parse_args()
    setup_django()
    from explorer.models import Award

    if args.prepare:
        started = time.perf_counter()
        prepare()
        print(f"prepared in {time.perf_counter() - started:.0f} s")
    load = os.getloadavg()
    awards = Award.objects.count()
    lines = [
        f"{awards:,} awards; load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (2 cores)"
    ]
    if not args.skip_scratch:  # --skip-scratch: start from the stored state as it is
        seconds, done = from_scratch()
        per = ", ".join(
            f"{code} {done.seconds[code]:.1f} s ({done.results[code]:,})" for code in done.results
        )
        lines.append(
            f"from scratch, every indicator: **{seconds:.1f} s** ({per}; "
            f"flags {done.seconds['flags']:.1f} s, "
            f"{done.awards_changed:,} awards and {done.notices_changed:,} notices flagged)"
        )
        print(lines[-1], flush=True)
    for n in (int(x) for x in args.sizes.split(",")):
        seconds, done = incremental(n)
        slow = ", ".join(f"{code} {s:.2f} s" for code, s in done.seconds.items())
        lines.append(
            f"incremental after {n:,} new awards: **{seconds:.1f} s** ({done.notices_in_scope:,} notices in "
            f"scope; {slow})"
        )
        print(lines[-1], flush=True)
    table = ["| search | median ms | awards with the flags |", "|---|---:|---:|"]
    results = searches(args.repeat)
    table += [f"| {label} | {ms:.0f} | {count:,} |" for label, ms, count in results]
    median_all = statistics.median(ms for _, ms, _ in results)
    lines.append(
        "search with a flag filter, whole page through the view: "
        f"median of the medians **{median_all:.0f} ms**, "
        f"max {max(ms for _, ms, _ in results):.0f} ms"
    )
    load = os.getloadavg()
    lines.append(f"load average at end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    command = "python bench/indicators_bench.py" + (" --prepare" if args.prepare else "")
    command += " --skip-scratch" if args.skip_scratch else ""
    command += f" --sizes {args.sizes}"
    if args.no_record:
        print("\n".join(lines + table))
    else:
        record("Indicators (issue 18)", command, lines, table)


if __name__ == "__main__":
    main()

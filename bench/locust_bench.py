"""Mixed load with locust (issue 22): 40 analysts browsing search, facets and entity pages
and 4 API users submitting exports and reports, headless and bounded, through nginx in
front of 2 daphnes, with one worker of 2 processes (the compose stack on one machine).

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/locust_bench.py
    [--minutes 10] [--browsers 40] [--submitters 4] [--worker-cpus F]
Needs a seeded database. Reports requests/s, p50/p95/max per page, errors, the jobs'
outcomes (read from the database after the run; jobs still running at the end are waited
for) and CPU seconds per process group (psutil).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time

from common import (
    ROOT,
    WEB_APPLICATION_NAME,
    CpuMeter,
    bench_users,
    record,
    session_cookie,
    setup_django,
    start_daphne,
    start_nginx,
    start_worker,
    stop,
    worker_cpu_quota,
)
from search_bench import filled_queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--browsers", type=int, default=40)
    parser.add_argument("--submitters", type=int, default=4)
    parser.add_argument(
        "--worker-cpus", type=float, default=None, help="a WORKER_CPU_CGROUP with a quota of F cores"
    )
    args = parser.parse_args()
    with worker_cpu_quota(args.worker_cpus):
        run(args)


def run(args: argparse.Namespace) -> None:
    setup_django()
    from django.db.models import Count

    from explorer.models import Award, Organization, Supplier
    from jobs.models import FINAL_STATES, ApiToken, Job
    from jobs.worker_process import APPLICATION_NAME

    total = Award.objects.count()
    browsers = bench_users("bench-locust-browser", args.browsers)
    submitters = bench_users("bench-locust-api", args.submitters)
    # A mid-sized agency: its exports and reports are what an analyst asks for, not the
    # whole table (search_load_bench.py measures that).
    mid_org = (
        Award.objects.values("organization__name")
        .annotate(n=Count("id"))
        .filter(n__lte=20_000)
        .order_by("-n")[0]
    )
    data = {
        "browsers": args.browsers,
        "submitters": args.submitters,
        "cookies": [session_cookie(user) for user in browsers],
        "tokens": [ApiToken.issue(user) for user in submitters],
        "queries": [params for _, params in filled_queries()],
        "facet_clicks": [
            {"mode": "Public Bidding"},
            {"category": "Flood Control"},
            {"date_from": "2024-01-01"},
        ],
        "organizations": [
            str(u) for u in Organization.objects.order_by("?").values_list("public_id", flat=True)[:300]
        ],
        "suppliers": [
            str(u) for u in Supplier.objects.order_by("?").values_list("public_id", flat=True)[:300]
        ],
        "awards": [str(u) for u in Award.objects.order_by("?").values_list("public_id", flat=True)[:500]],
        "jobs": [
            ["export", {"format": "csv", "filters": {"organization": mid_org["organization__name"]}}],
            ["export", {"format": "xlsx", "filters": {"organization": mid_org["organization__name"]}}],
            ["export", {"format": "csv", "filters": {"q": "diesel"}}],
            ["report", {"filters": {"organization": mid_org["organization__name"]}}],
            ["report", {"filters": {"q": "flood control"}}],
        ],
    }
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    data_path = out / "locust-data.json"
    data_path.write_text(json.dumps(data))
    outcomes_path = out / "locust-outcomes.json"
    load = os.getloadavg()
    webs = [start_daphne(out / f"locust-daphne{i}.log", PGAPPNAME=WEB_APPLICATION_NAME) for i in range(2)]
    proxy, port = start_nginx([p for _, p in webs], out / "locust-nginx")
    worker = start_worker(out / "locust-worker.log", name="locust", concurrency=2)
    prefix = out / "locust"
    seconds = round(args.minutes * 60)
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
        "-u", str(args.browsers + args.submitters), "-r", "10", "-t", f"{seconds}s",
        "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary", "--stop-timeout", "5",
    ]  # fmt: skip
    meter = CpuMeter(
        {
            "daphne 1": webs[0][0].pid,
            "daphne 2": webs[1][0].pid,
            "nginx": proxy.pid,
            "worker (2 processes)": worker.pid,
        },
        {"PostgreSQL for the worker": APPLICATION_NAME, "PostgreSQL for daphne": WEB_APPLICATION_NAME},
    )
    try:
        with meter:
            started = time.perf_counter()
            locust = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, "LOCUST_DATA": str(data_path), "LOCUST_OUTCOMES": str(outcomes_path)},
                stdout=(out / "locust.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            meter.trees["locust (the load generator)"] = locust.pid
            locust.wait(seconds + 120)
            elapsed = time.perf_counter() - started
        # Jobs still running when locust stopped: let them finish (bounded).
        deadline = time.monotonic() + 300
        while Job.objects.filter(owner__in=submitters).exclude(state__in=FINAL_STATES).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        stop(worker)
        stop(proxy)
        for daphne, _ in webs:
            stop(daphne)
    states = dict(
        Job.objects.filter(owner__in=submitters).values_list("state").annotate(n=Count("id")).order_by()
    )
    with open(f"{prefix}_stats.csv") as handle:
        stats = list(csv.DictReader(handle))
    table = [
        "| Request | Requests | Failures | req/s | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    aggregated = {}
    for row in stats:
        if row["Name"] == "Aggregated":
            aggregated = row
        table.append(
            f"| {row['Name']} | {row['Request Count']} | {row['Failure Count']} | "
            f"{float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | {row['99%']} | "
            f"{float(row['Max Response Time']):.0f} |"
        )
    failures_path = f"{prefix}_failures.csv"
    failures = []
    if os.path.exists(failures_path):
        with open(failures_path) as handle:
            failures = [f"{r['Name']}: {r['Error']} ({r['Occurrences']}x)" for r in csv.DictReader(handle)]
    cpu = meter.seconds()
    lines = [
        f"{total:,} awards; {args.browsers} analysts + {args.submitters} API users for {seconds} s "
        f"(locust {args.minutes:g} min, headless) through nginx -> 2 daphnes, 1 worker of 2 processes"
        + (f" (WORKER_CPU_CGROUP, quota {args.worker_cpus:g} cores)" if args.worker_cpus else "")
        + "; "
        f"load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1, 5, 15 min)",
        f"**{float(aggregated.get('Requests/s', 0)):.1f} requests/s**, "
        f"{aggregated.get('Request Count', 0)} requests, **{aggregated.get('Failure Count', '?')} failures**"
        + (f" ({'; '.join(failures[:3])})" if failures else ""),
        f"jobs submitted through the API, in the database after the run: {states or 'none'}",
        f"CPU seconds over the run ({elapsed:.0f} s; 2 cores: {2 * elapsed:.0f} s available): "
        + ", ".join(
            f"{name} {value:.0f} s ({value / elapsed * 100:.0f} % of a core)" for name, value in cpu.items()
        ),
    ]
    command = (
        f"python bench/locust_bench.py --minutes {args.minutes:g} --browsers {args.browsers} "
        f"--submitters {args.submitters}"
    )
    if args.worker_cpus:
        command += f" --worker-cpus {args.worker_cpus:g}"
    record(f"Mixed load with locust ({total:,} awards)", command, lines, table)


if __name__ == "__main__":
    main()

"""OCDS publication: export throughput and memory, and the API's page time.

Usage: DATABASE_URL=... [CELERY_BROKER_URL=... REDIS_URL=...] python bench/ocds_bench.py
The database must hold the awards (`manage.py seed_demo --awards 1000000`).

1. `manage.py export_ocds OUT.zip` (every notice) in a child process: awards/s over the
   whole run, and the peak RSS of that process.
2. With CELERY_BROKER_URL set: an `ocds` export job of every award through a real
   worker (the job path: progress writes, temporary file, rename).
3. The API: GET /api/ocds/releases/?limit=100 through Django's test client, following
   links.next for PAGES pages from the start and from deep in the table, and a filtered
   search; the median and p95 per page.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import psutil
from common import ROOT, RssSampler, record, run_job, setup_django, start_worker, stop

PAGES = 40


def export_command(out: Path) -> tuple[float, int, float]:
    """(wall seconds, peak RSS, CPU seconds) of `manage.py export_ocds` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "export_ocds", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    with RssSampler(process.pid) as sampler:
        output, _ = process.communicate()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode:
        raise RuntimeError("export_ocds failed")
    print(output.decode().strip())
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, sampler.peak, cpu


def api_timings(client, start_after: int, pages: int, **filters: str) -> list[float]:  # type: ignore[no-untyped-def]
    params = {"limit": "100", **filters}
    if start_after:
        params["after"] = str(start_after)
    url = "/api/ocds/releases/"
    times = []
    for _ in range(pages):
        started = time.perf_counter()
        response = client.get(url, params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
        package = response.json()
        assert package["releases"], "an empty page"
        if "links" not in package:
            break
        nxt = urlsplit(package["links"]["next"])
        url, params = nxt.path, dict(parse_qsl(nxt.query))
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default="export,job,api", help="which of export,job,api to run")
    args = parser.parse_args()
    os.environ.setdefault("OCDS_API_RATE_PER_MINUTE", "1000000")
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from explorer.models import Award, Notice

    awards = Award.objects.count()
    notices = Notice.objects.count()
    load_before = os.getloadavg()
    mb = 1024 * 1024
    lines = [f"{awards:,} awards, {notices:,} notices; load average before: {load_before[0]:.2f}"]

    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "all.zip"
        if "export" not in parts:
            out = None
        if out is not None:
            seconds, peak, cpu = export_command(out)
            lines.append(
                f"`manage.py export_ocds`: **{awards / seconds:,.0f} awards/s** ({seconds:.1f} s, "
                f"{out.stat().st_size / mb:,.0f} MB ZIP), peak RSS **{peak / mb:.0f} MB**; the process used "
                f"{cpu:.0f} CPU s ({awards / cpu:,.0f} awards per CPU second, PostgreSQL's time not counted)"
            )
            print(lines[-1], flush=True)

    user, _ = get_user_model().objects.get_or_create(username="bench-ocds")
    if settings.CELERY_BROKER_URL and "job" in parts:
        log = ROOT / "bench" / "out" / "ocds-worker.log"
        log.parent.mkdir(exist_ok=True)
        worker = start_worker(log, name="ocds")
        try:
            job_s, job, child_peak, tree_peak = run_job(
                user, "export", {"format": "ocds", "filters": {}}, psutil.Process(worker.pid)
            )
        finally:
            stop(worker)
        rate = job.file_rows / job_s
        lines.append(
            f"`ocds` export job through a real worker: **{rate:,.0f} awards/s** ({job_s:.1f} s), pool "
            f"process peak RSS **{child_peak / mb:.0f} MB** (worker tree {tree_peak / mb:.0f} MB)"
        )

    if "api" not in parts:
        lines.append(
            f"load average after: {os.getloadavg()[0]:.2f} (2 cores shared with other engineers' runs)"
        )
        record(f"OCDS export on {awards:,} awards", f"python bench/ocds_bench.py --parts {args.parts}", lines)
        return
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    last = Notice.objects.order_by("-id").values_list("id", flat=True).first() or 0
    api_timings(client, 0, 3)  # warm up: connections, imports, caches
    runs = {
        "from the first page": api_timings(client, 0, PAGES),
        "from 90% deep": api_timings(client, int(last * 0.9), PAGES),
        "filtered by one `category`": api_timings(
            client,
            0,
            PAGES,
            category=str(
                Award.objects.values_list("category__name", flat=True).order_by("category__name").first()
                or ""
            ),
        ),
        "`since=` a recent day": api_timings(client, 0, PAGES, since="2024-06-01"),
    }
    for label, times in runs.items():
        p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
        lines.append(
            f"API page of 100 releases {label}: median **{statistics.median(times):.0f} ms**, "
            f"p95 {p95:.0f} ms over {len(times)} pages"
        )
    lines.append(f"load average after: {os.getloadavg()[0]:.2f} (2 cores shared with other engineers' runs)")
    record(
        f"OCDS export and API on {awards:,} awards", f"python bench/ocds_bench.py --parts {args.parts}", lines
    )


if __name__ == "__main__":
    main()

"""Analysis jobs on the whole table through a real worker: the report (all aggregates and
red flags) and text scans (substring and regular expression).

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/analysis_bench.py [--report-only]
The database must hold the awards (`manage.py seed_demo --awards 1000000`).

Also, in this process: the report's time per analysis (report.build with a timed step
callback), the risk profiles' refresh over all awards (explorer/profiles.py) and an entity
page's read of its profile. `--report-only` leaves the scans out.
"""

from __future__ import annotations

import sys
import time

import psutil
from common import ROOT, record, run_job, setup_django, start_worker, stop

TITLES = ["title", "notice_title"]
SCANS = (
    ("substring", {"pattern": "drainage", "mode": "substring", "fields": TITLES}),
    ("regex", {"pattern": r"\b(rice|diesel|gasoline)\b", "mode": "regex", "fields": TITLES}),
    (
        "regex, 4 fields, case-sensitive",
        {"pattern": r"^[A-Z]+ (HARDWARE|TRADING)", "mode": "regex", "case_sensitive": True,
         "fields": ["title", "notice_title", "organization", "supplier"]},
    ),
)  # fmt: skip


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model

    from explorer import profiles, report
    from explorer.models import Award, Organization

    awards = Award.objects.count()
    user, _ = get_user_model().objects.get_or_create(username="bench-analysis")
    log = ROOT / "bench" / "out" / "analysis-worker.log"
    log.parent.mkdir(exist_ok=True)
    worker = start_worker(log, name="analysis")
    lines = ["machine load at the start: load average %.2f %.2f %.2f" % psutil.getloadavg()]  # noqa: UP031
    try:
        proc = psutil.Process(worker.pid)
        seconds, job, child, _ = run_job(user, "report", {"filters": {}}, proc)
        flags = job.result["flags"]
        lines.append(
            f"report, all aggregates and red flags: **{seconds:.1f} s**, pool process peak RSS "
            f"{child / 2**20:.0f} MB; flags: {flags}"
        )
        findings = job.result.get("findings", {})
        lines.append(f"findings by scope: {findings}")
        marks: list[tuple[str, float]] = []
        started = time.monotonic()
        data = report.build(
            Award.objects.all(), step=lambda i, label: marks.append((label, time.monotonic()))
        )
        ended = time.monotonic()
        steps = [
            f"{label} {((marks[i + 1][1] if i + 1 < len(marks) else ended) - at):.1f} s"
            for i, (label, at) in enumerate(marks)
        ]
        lines.append(f"report.build in this process: **{ended - started:.1f} s**: " + "; ".join(steps))
        lines.append(f"findings: {len(data['findings'])}")
        baseline = profiles.refresh()
        lines.append(
            f"risk profiles refresh over all awards (background task): **{baseline.seconds:.1f} s**, "
            f"{profiles.RiskProfile.objects.count():,} profiles"
        )
        biggest = Organization.objects.order_by("-id").first()
        started = time.monotonic()
        for _ in range(20):
            profiles.page("organization", biggest.pk, biggest.name, lambda **f: "")
        lines.append(f"an entity page's profile read: {(time.monotonic() - started) / 20 * 1000:.1f} ms")
        for label, params in SCANS if "--report-only" not in sys.argv else ():
            seconds, job, child, _ = run_job(user, "scan", {**params, "filters": {}}, proc)
            rate = job.result["scanned"] / seconds
            lines.append(
                f"scan ({label}) `{params['pattern']}`: **{rate:,.0f} rows/s** ({seconds:.1f} s, "
                f"{job.result['matches']:,} matches), pool process peak RSS {child / 2**20:.0f} MB"
            )
    finally:
        stop(worker)
    load = "load average %.2f %.2f %.2f" % psutil.getloadavg()  # noqa: UP031
    lines.append(f"machine load at the end: {load}")
    record(
        f"Analysis jobs on {awards:,} awards through a real worker",
        "python bench/analysis_bench.py " + " ".join(sys.argv[1:]),
        lines,
    )


if __name__ == "__main__":
    main()

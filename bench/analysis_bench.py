"""Analysis jobs on the whole table through a real worker: the report (all aggregates and
red flags) and text scans (substring and regular expression).

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/analysis_bench.py
The database must hold the awards (`manage.py seed_demo --awards 1000000`).
"""

from __future__ import annotations

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

    from explorer.models import Award

    awards = Award.objects.count()
    user, _ = get_user_model().objects.get_or_create(username="bench-analysis")
    log = ROOT / "bench" / "out" / "analysis-worker.log"
    log.parent.mkdir(exist_ok=True)
    worker = start_worker(log, name="analysis")
    lines = []
    try:
        proc = psutil.Process(worker.pid)
        seconds, job, child, _ = run_job(user, "report", {"filters": {}}, proc)
        flags = job.result["flags"]
        lines.append(
            f"report, all aggregates and red flags: **{seconds:.1f} s**, pool process peak RSS "
            f"{child / 2**20:.0f} MB; flags: {flags}"
        )
        for label, params in SCANS:
            seconds, job, child, _ = run_job(user, "scan", {**params, "filters": {}}, proc)
            rate = job.result["scanned"] / seconds
            lines.append(
                f"scan ({label}) `{params['pattern']}`: **{rate:,.0f} rows/s** ({seconds:.1f} s, "
                f"{job.result['matches']:,} matches), pool process peak RSS {child / 2**20:.0f} MB"
            )
    finally:
        stop(worker)
    record(
        f"Analysis jobs on {awards:,} awards through a real worker", "python bench/analysis_bench.py", lines
    )


if __name__ == "__main__":
    main()

"""Export throughput and memory: a real worker exports every award to xlsx and csv.

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/export_bench.py
The database must hold the awards to export (`manage.py seed_demo --awards 1000000`).
Beside each xlsx export, the same rows are written from memory by bare openpyxl
write-only mode in the same run: the ratio is the export's overhead.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import psutil
from common import ROOT, record, run_job, setup_django, start_worker, stop


def bare_openpyxl_rows_per_second(rows: list, headers: list[str]) -> float:
    from openpyxl import Workbook

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Awards")
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        book.save(Path(tmp) / "bare.xlsx")
        return len(rows) / (time.perf_counter() - started)


def run_export(user, fmt: str, worker: psutil.Process) -> tuple[float, float, int, int]:
    seconds, job, child_peak, tree_peak = run_job(user, "export", {"format": fmt, "filters": {}}, worker)
    return seconds, job.file_rows / seconds, child_peak, tree_peak


def main() -> None:
    setup_django()
    from django.contrib.auth import get_user_model

    from explorer.models import Award
    from jobs.kinds.export import rows as exporters

    awards = Award.objects.count()
    user, _ = get_user_model().objects.get_or_create(username="bench-export")
    log = ROOT / "bench" / "out" / "export-worker.log"
    log.parent.mkdir(exist_ok=True)
    worker = start_worker(log, name="export")
    try:
        proc = psutil.Process(worker.pid)
        csv_s, csv_rate, csv_child, csv_tree = run_export(user, "csv", proc)
        xlsx_s, xlsx_rate, xlsx_child, xlsx_tree = run_export(user, "xlsx", proc)
    finally:
        stop(worker)
    rows = list(exporters.rows(Award.objects.order_by("-award_date", "-id")))
    bare_rate = bare_openpyxl_rows_per_second(rows, exporters.HEADERS)
    mb = 1024 * 1024
    record(
        f"Export {awards:,} awards through a real worker",
        "python bench/export_bench.py",
        [
            f"csv: **{csv_rate:,.0f} rows/s** ({csv_s:.1f} s), worker pool process peak RSS "
            f"{csv_child / mb:.0f} MB (worker incl. main process {csv_tree / mb:.0f} MB)",
            f"xlsx: **{xlsx_rate:,.0f} rows/s** ({xlsx_s:.1f} s), worker pool process peak RSS "
            f"{xlsx_child / mb:.0f} MB (worker incl. main process {xlsx_tree / mb:.0f} MB)",
            f"bare openpyxl write-only, same rows from memory: {bare_rate:,.0f} rows/s; "
            f"**export/bare = {xlsx_rate / bare_rate:.2f}**",
        ],
    )


if __name__ == "__main__":
    main()

"""Export throughput and memory: a real worker exports every award to xlsx and csv.

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/export_bench.py [--rows 1000000]
The database must hold the awards to export (`manage.py seed_demo --awards 1000000`); with
more, a date filter picks the --rows newest. In the same run, beside the csv export,
PostgreSQL's own COPY writes the same rows (the export's query) to /dev/null on the
server, and beside the xlsx export bare openpyxl write-only mode writes the same rows
from memory: the ratios are the exports' overheads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import psutil
from common import ROOT, PySpy, newest_awards_filters, record, run_job, setup_django, start_worker, stop


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


def run_export(user, fmt: str, filters: dict, worker: psutil.Process) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    seconds, job, child_peak, tree_peak = run_job(user, "export", {"format": fmt, "filters": filters}, worker)
    return seconds, job.file_rows / seconds, child_peak, tree_peak


def copy_to_devnull(awards) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """PostgreSQL's COPY of the export's query to /dev/null on the server, with the
    reading connection's settings: (rows/s, rows). Needs a superuser (or pg_write_server_files)."""
    from django.db import connection

    from jobs.kinds.export.rows import select

    sql, params = select(awards).query.get_compiler(using=awards.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
        cursor.execute("SET work_mem = '64MB'")
        statement = connection.ops.compose_sql(f"COPY ({sql}) TO '/dev/null' (FORMAT csv)", params)
        started = time.perf_counter()
        cursor.execute(statement)
        seconds = time.perf_counter() - started
        count = cursor.rowcount
        cursor.execute("RESET jit")
        cursor.execute("RESET work_mem")
    return count / seconds, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="export about this many newest awards")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker during each export")
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model

    from explorer.models import Award
    from explorer.search import SearchForm
    from jobs.kinds.export import rows as exporters

    filters = newest_awards_filters(args.rows)
    form = SearchForm(filters)
    assert form.is_valid(), form.errors
    awards = form.search.awards()
    count = awards.count()
    total = Award.objects.count()
    user, _ = get_user_model().objects.get_or_create(username="bench-export")
    log = ROOT / "bench" / "out" / "export-worker.log"
    log.parent.mkdir(exist_ok=True)
    load = os.getloadavg()
    worker = start_worker(log, name="export")
    try:
        proc = psutil.Process(worker.pid)
        copy_before, copied = copy_to_devnull(awards)
        with profiler(args.profile, worker.pid, "csv") as csv_profile:
            csv_s, csv_rate, csv_child, csv_tree = run_export(user, "csv", filters, proc)
        copy_after, _ = copy_to_devnull(awards)
        with profiler(args.profile, worker.pid, "xlsx") as xlsx_profile:
            xlsx_s, xlsx_rate, xlsx_child, xlsx_tree = run_export(user, "xlsx", filters, proc)
    finally:
        stop(worker)
    copy_rate = (copy_before + copy_after) / 2
    rows = list(exporters.rows(awards))
    bare_rate = bare_openpyxl_rows_per_second(rows, exporters.HEADERS)
    del rows
    mb = 1024 * 1024
    profiles = []
    if args.profile:
        profiles = [
            f"py-spy of the worker during the csv export: {csv_profile.top(under=('write', 'update'))}",
            f"py-spy of the worker and its reader during the xlsx export: "
            f"{xlsx_profile.top(under=('append', '_rows_from_reader_process', 'frames', 'save'))}",
        ]
    record(
        f"Export {count:,} of {total:,} awards through a real worker",
        f"python bench/export_bench.py --rows {args.rows}" + (" --profile" if args.profile else ""),
        [
            f"filters {filters or 'none'}; load average before the run {load[0]:.2f} / {load[1]:.2f} / "
            f"{load[2]:.2f} (1, 5, 15 min)",
            f"csv: **{csv_rate:,.0f} rows/s** ({csv_s:.1f} s), worker pool process peak RSS "
            f"{csv_child / mb:.0f} MB (worker incl. main process {csv_tree / mb:.0f} MB)",
            f"PostgreSQL COPY of the same query to /dev/null on the server ({copied:,} rows), before and "
            f"after the csv export: {copy_before:,.0f} and {copy_after:,.0f} rows/s; "
            f"**csv/COPY = {csv_rate / copy_rate:.2f}**",
            f"xlsx: **{xlsx_rate:,.0f} rows/s** ({xlsx_s:.1f} s), largest worker process (pool or reader) "
            f"peak RSS **{xlsx_child / mb:.0f} MB** (worker incl. main process {xlsx_tree / mb:.0f} MB)",
            f"bare openpyxl write-only, same rows from memory: {bare_rate:,.0f} rows/s; "
            f"**export/bare = {xlsx_rate / bare_rate:.2f}**",
            *profiles,
        ],
    )


def profiler(enabled: bool, pid: int, name: str):  # type: ignore[no-untyped-def]
    if not enabled:
        return contextlib.nullcontext(None)
    return PySpy(pid, ROOT / "bench" / "out" / f"export-{name}.pyspy")


if __name__ == "__main__":
    main()

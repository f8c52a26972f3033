"""Import throughput and memory: a synthetic PhilGEPS CSV built from the real v2 sample.

Usage: DATABASE_URL=postgres://... python bench/import_bench.py [--rows 500000]

Rows are the 200 real sample rows repeated with fresh reference/award numbers (three line
items per notice) and agency/supplier names varied so the lookup tables grow like a
real quarter. Peak RSS is sampled while the import runs; "flat memory" means the peak
after the first fifth of the rows and at the end are about the same.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import SHARED_DATA, RssSampler, record, setup_django


def server_cpu(pid: int) -> float:
    """CPU seconds of a PostgreSQL server process on this host (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def build_csv(path: Path, rows: int) -> None:
    with open(SHARED_DATA / "philgeps-v2-2024q4-sample-200.csv", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        template = list(reader)
    col = {name: header.index(name) for name in header}
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        for i in range(rows):
            row = list(template[i % len(template)])
            notice = i // 3
            row[col["Bid Reference No."]] = str(20_000_000 + notice)
            row[col["Line Item No"]] = str(i % 3 + 1)
            if row[col["Award Reference No."]] != "NULL":
                row[col["Award Reference No."]] = str(30_000_000 + notice)
                row[col["Awardee Organization Name"]] += f" {notice % 9000}"
            row[col["Procuring Entity (PE)"]] += f" {notice % 2500}"
            writer.writerow(row)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    setup_django()

    from django.db import connection

    from explorer import demo
    from explorer.importer import import_file
    from explorer.indicators import engine

    # The indicator step the import ends with, timed apart (wall and server CPU): from
    # scratch when the import brought nearly every notice (explorer/importer.py), as here.
    step: dict[str, float] = {}

    def timed(compute: Callable[..., engine.Computed]) -> Callable[..., engine.Computed]:
        def run(**kwargs: Any) -> engine.Computed:
            wall, cpu = time.perf_counter(), server_cpu(backend)
            done = compute(**kwargs)
            step.update(wall=time.perf_counter() - wall, cpu=server_cpu(backend) - cpu, full=done.full)
            return done

        return run

    engine.compute_after_import = timed(engine.compute_after_import)
    engine.compute_all = timed(engine.compute_all)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.csv"
        build_csv(path, args.rows)
        demo.flush()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        marks: list[tuple[int, int]] = []
        before = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
        server_before = server_cpu(backend)
        with RssSampler() as sampler:

            def progress(done: int, total: int | None) -> None:
                marks.append((done, sampler.peak))

            started = time.perf_counter()
            run = import_file(path, progress=progress)
            seconds = time.perf_counter() - started
        server = server_cpu(backend) - server_before
        own = cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - cpu_seconds(before[0])
        parsing = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu_seconds(before[1])
        demo.flush()
    early = next(peak for done, peak in marks if done >= args.rows // 5)
    record(
        f"Import of a {args.rows:,}-row PhilGEPS CSV",
        f"python bench/import_bench.py --rows {args.rows}",
        [
            f"{run.rows_read:,} rows in {seconds:.1f} s: **{run.rows_read / seconds:,.0f} line-item rows/s**",
            f"new: {run.awards_new:,} awards, {run.notices_new:,} notices, {run.line_items_new:,} line items",
            f"peak RSS after {args.rows // 5:,} rows: {early / 1024**2:.0f} MB; "
            f"at the end: {sampler.peak / 1024**2:.0f} MB (flat memory: the file is streamed in batches)",
            f"of the {seconds:.1f} s, the indicator step at the end "
            f"({'from scratch' if step.get('full') else 'incremental'}) took {step.get('wall', 0):.1f} s; "
            f"without it {run.rows_read / (seconds - step.get('wall', 0)):,.0f} rows/s",
            f"CPU seconds: parser process {parsing:.1f}, PostgreSQL server process {server:.1f} "
            f"(of which the indicator step {step.get('cpu', 0):.1f}), the importing process {own:.1f}",
        ],
    )


if __name__ == "__main__":
    main()

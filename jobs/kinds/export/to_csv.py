"""CSV export: PostgreSQL's COPY writes the rows; Python only moves bytes and counts."""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet

from explorer.models import Award
from jobs.kinds.base import Run
from jobs.kinds.export.rows import BATCH, HEADERS, Format, reading_connection, select


def write(run: Run, awards: QuerySet[Award], path: Path, total: int) -> int:
    # COPY streams CSV straight from PostgreSQL; Python only writes bytes and counts rows
    # (the server sends each row as one CopyData message, which is one chunk here).
    sql, sql_params = select(awards).query.get_compiler(using=awards.db).as_sql()
    done = 0
    with open(path, "wb", buffering=1 << 20) as handle, reading_connection() as reader:
        handle.write(("\ufeff" + ",".join(HEADERS) + "\r\n").encode())
        with (
            reader.cursor() as cursor,
            cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", sql_params) as copy,
        ):
            for chunk in copy:
                handle.write(chunk)
                done += 1
                if not done % BATCH:
                    run.reporter.update(done)
    return done


FORMAT = Format(
    name="csv",
    label="CSV",
    suffix=".csv",
    content_type="text/csv; charset=utf-8",
    write=write,
    hint="UTF-8 with a byte-order mark: opens in Excel with ñ intact",
)

"""The export job: awards matching a search, streamed into xlsx or csv.

Text that a spreadsheet could run as a formula (starting with = + - @ tab or CR) gets a
leading apostrophe, and control characters are removed. Both happen in SQL
(`Neutralised`), so the CSV can be streamed by COPY untouched by Python (far faster than
the csv module) and the xlsx writer only appends rows. `neutralise()` is the same rule
for the text Python writes itself (the xlsx About sheet, jobs/reports.py), and a test
holds the two equal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Func, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from openpyxl import Workbook

from explorer.staging import ChildProcess
from jobs.execution import JobFailed, Outcome, Run

# (header, field path, kind): kind "text" is neutralised; ids stay text for Excel's sake.
COLUMNS: Sequence[tuple[str, str, str]] = (
    ("Reference number", "notice__reference_number", "text"),
    ("Award number", "award_number", "text"),
    ("Award title", "title", "text"),
    ("Procuring entity", "organization__name", "text"),
    ("Supplier", "supplier__name", "text"),
    ("Business category", "category__name", "text"),
    ("Area of delivery", "area__name", "text"),
    ("Procurement mode", "procurement_mode", "text"),
    ("Contract amount (PHP)", "amount", "number"),
    ("Award date", "award_date", "date"),
    ("Notice to proceed", "ntp_date", "date"),
    ("Effectivity date", "effectivity_date", "date"),
    ("End date", "end_date", "date"),
    ("Contract number", "contract_number", "text"),
    ("Award status", "status", "text"),
    ("UNSPSC", "unspsc_code", "text"),
    ("Explorer award id", "public_id", "id"),
)
HEADERS = [header for header, _, _ in COLUMNS]
EXCEL_MAX_ROWS = 1_048_576  # per sheet, header included (REFERENCE.md section 4)
BATCH = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Everything below 0x20 except tab, newline and carriage return (openpyxl refuses them).
CONTROL_CHARS = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r")
_CONTROL_TABLE = {ord(c): None for c in CONTROL_CHARS + "\x00"}


def neutralise(value: str) -> str:
    value = value.translate(_CONTROL_TABLE)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class Neutralised(Func):
    """SQL twin of neutralise().

    translate() scans its 30-character set for every character of the value, which made
    a 1M-row export spend ~35 s in it; one regular expression (compiled once per query)
    first picks the rare values that need any change, and only those pay for translate().
    """

    output_field = TextField()
    NEEDS_WORK = r"^[-=+@\t\r]|[\x01-\x08\x0b\x0c\x0e-\x1f]"  # PostgreSQL ARE escapes

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        sql, params = compiler.compile(self.source_expressions[0])
        cleaned = f"translate({sql}, %s, '')"
        starts = ", ".join(
            "E'\\t'" if c == "\t" else "E'\\r'" if c == "\r" else f"'{c}'" for c in FORMULA_STARTS
        )
        slow = f"CASE WHEN left({cleaned}, 1) IN ({starts}) THEN '''' || {cleaned} ELSE {cleaned} END"
        template = f"CASE WHEN {sql} ~ %s THEN {slow} ELSE {sql} END"
        return template, [*params, self.NEEDS_WORK, *([*params, CONTROL_CHARS] * 3), *params]


def export(run: Run) -> Outcome:
    params = run.params
    awards = run.awards()
    run.reporter.update(0, message="Counting matching awards", force=True)
    total = awards.count()
    if total > settings.EXPORT_MAX_ROWS:
        raise JobFailed(
            f"This search matches {total:,} awards; an export holds at most {settings.EXPORT_MAX_ROWS:,}. "
            "Narrow the filters and try again."
        )
    run.reporter.update(0, total=total, message="Writing rows", force=True)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    path = run.temp_file("." + params["format"])
    if params["format"] == "csv":
        rows = _write_csv(run, awards, path)
        content_type = "text/csv; charset=utf-8"
    else:
        rows = _write_xlsx(run, awards, path, filters=params.get("filters") or {}, total=total)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Outcome(
        result={"rows": rows, "format": params["format"]},
        file=path,
        file_name=f"philgeps-awards-{stamp}.{params['format']}",
        content_type=content_type,
        rows=rows,
    )


def _select(awards: QuerySet) -> QuerySet:
    exprs = {}
    for i, (_, path, kind) in enumerate(COLUMNS):
        exprs[f"c{i}"] = (
            Neutralised(F(path)) if kind == "text" else Cast(path, TextField()) if kind == "id" else F(path)
        )
    return awards.annotate(**exprs).values_list(*exprs)


def _rows(awards: QuerySet) -> Iterator[Sequence[Any]]:
    """Rows ready to write, fetched by a reader process, batch by batch."""
    sql, sql_params = _select(awards).query.get_compiler(using=awards.db).as_sql()
    yield from _rows_from_reader_process(sql, list(sql_params))


DATABASE_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")


def _rows_from_reader_process(sql: str, params: list[Any]) -> Iterator[Sequence[Any]]:
    """The query's rows, fetched by `python -m jobs.export_reader` (see its docstring)."""
    database = {key: connection.settings_dict[key] for key in DATABASE_KEYS}
    child = ChildProcess("jobs.export_reader", request=("query", (sql, params, database)))
    try:
        for _, batch in child.frames():
            yield from batch
    finally:
        child.close()


@contextmanager
def reading_connection() -> Iterator[Any]:
    """A second, read-only connection for streaming the rows.

    Django's connection stays free for the progress writes, which must commit (to be
    seen) while the export reads, and which cannot share a connection busy with COPY.
    """
    reader = connection.get_new_connection(connection.get_connection_params())
    try:
        reader.read_only = True
        with reader.cursor() as cursor:
            # JIT compiling ~130 expression functions costs more (1.3 s) than it saves on
            # this scan; a larger sort buffer keeps most of the ordered rows off disk.
            cursor.execute("SET jit = off")
            cursor.execute("SET work_mem = '64MB'")
        yield reader
    finally:
        reader.close()


def _write_csv(run: Run, awards: QuerySet, path: Any) -> int:
    # COPY streams CSV straight from PostgreSQL; Python only writes bytes and counts rows
    # (the server sends each row as one CopyData message, which is one chunk here).
    sql, sql_params = _select(awards).query.get_compiler(using=awards.db).as_sql()
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


def _write_xlsx(run: Run, awards: QuerySet, path: Any, *, filters: dict[str, str], total: int) -> int:
    workbook = Workbook(write_only=True)
    sheet = None
    done = 0
    per_sheet = EXCEL_MAX_ROWS - 1
    for row in _rows(awards):
        if done % per_sheet == 0:
            number = done // per_sheet + 1
            sheet = workbook.create_sheet("Awards" if number == 1 else f"Awards {number}")
            sheet.append(HEADERS)
        sheet.append(row)
        done += 1
        if done % BATCH == 0:
            run.reporter.update(done)
    if sheet is None:
        workbook.create_sheet("Awards").append(HEADERS)
    about = workbook.create_sheet("About this export")
    about.append(["PhilGEPS Data Explorer export"])
    about.append(["Generated", timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")])
    about.append(["Rows", done])
    about.append(["Filters", "none (all awards)" if not filters else ""])
    for name, value in filters.items():
        about.append([name, neutralise(value)])
    about.append([])
    about.append(["Text starting with = + - @ has a leading apostrophe so spreadsheets never run it."])
    workbook.save(path)
    return done

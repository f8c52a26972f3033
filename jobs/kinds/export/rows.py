"""The rows an export writes: its columns, formula neutralisation, and reading them.

Text that a spreadsheet could run as a formula (starting with = + - @ tab or CR) gets a
leading apostrophe, and control characters are removed. Both happen in SQL
(`Neutralised`), so the CSV can be streamed by COPY untouched by Python (far faster than
the csv module) and the xlsx writer only appends rows. `neutralise()` is the same rule
for the text Python writes itself (the xlsx About sheet, the report workbook), and a test
holds the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import F, Func, QuerySet, TextField, Value
from django.db.models.functions import Cast

from explorer.frames import ChildProcess
from explorer.models import Award
from jobs.kinds.base import Run

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
    ("Indicators", "flags", "codes"),  # explorer/indicators/: codes such as "R003 PH01"
    ("Explorer award id", "public_id", "id"),
)
HEADERS = [header for header, _, _ in COLUMNS]
BATCH = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Everything below 0x20 except tab, newline and carriage return (openpyxl refuses them).
CONTROL_CHARS = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r")
_CONTROL_TABLE = {ord(c): None for c in CONTROL_CHARS + "\x00"}


@dataclass(frozen=True)
class Format:
    """An export format: one module (jobs/kinds/export/to_<name>.py) defines one.

    `write(run, awards, path, total)` writes every award of `awards` to `path`, reporting
    progress through `run.reporter`, and returns the number of rows written.
    """

    name: str  # the `format` param (a fixed interface, DESIGN.md)
    label: str  # "Excel": the button, the job and its toast all say "Export to Excel"
    suffix: str
    content_type: str
    write: Callable[[Run, QuerySet[Award], Path, int], int]
    hint: str = ""  # under the button on the search page


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

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]  # the stubs of Func and BaseExpression disagree
        sql, params = compiler.compile(self.source_expressions[0])
        cleaned = f"translate({sql}, %s, '')"
        starts = ", ".join(
            "E'\\t'" if c == "\t" else "E'\\r'" if c == "\r" else f"'{c}'" for c in FORMULA_STARTS
        )
        slow = f"CASE WHEN left({cleaned}, 1) IN ({starts}) THEN '''' || {cleaned} ELSE {cleaned} END"
        template = f"CASE WHEN {sql} ~ %s THEN {slow} ELSE {sql} END"
        return template, [*params, self.NEEDS_WORK, *([*params, CONTROL_CHARS] * 3), *params]


def select(awards: QuerySet[Award]) -> QuerySet[Any]:
    """The export's columns of `awards`, neutralised, as value tuples."""
    exprs = {}
    for i, (_, path, kind) in enumerate(COLUMNS):
        exprs[f"c{i}"] = (
            Neutralised(F(path))
            if kind == "text"
            else Cast(path, TextField())
            if kind == "id"
            else Func(F(path), Value(" "), function="array_to_string", output_field=TextField())
            if kind == "codes"
            else F(path)
        )
    return awards.annotate(**exprs).values_list(*exprs)


def rows(awards: QuerySet[Award]) -> Iterator[Sequence[Any]]:
    """Rows ready to write, fetched by a reader process, batch by batch."""
    query = select(awards)
    sql, sql_params = query.query.get_compiler(using=awards.db).as_sql()
    yield from _rows_from_reader_process(sql, list(sql_params))


# OPTIONS too: the reader runs with the worker's session settings (jobs/worker_process.py).
DATABASE_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


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

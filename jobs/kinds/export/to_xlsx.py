"""Excel export: openpyxl's write-only workbook, a new sheet every 1,048,575 rows."""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet
from django.utils import timezone

from explorer.models import Award
from jobs.kinds.base import Run
from jobs.kinds.export.rows import BATCH, HEADERS, Format, neutralise, rows

EXCEL_MAX_ROWS = 1_048_576  # per sheet, header included (REFERENCE.md section 4)


def write(run: Run, awards: QuerySet[Award], path: Path, total: int) -> int:
    from openpyxl import Workbook  # only workers write workbooks: the web process never loads it

    filters = run.params.get("filters") or {}
    workbook = Workbook(write_only=True)
    sheet = None
    done = 0
    per_sheet = EXCEL_MAX_ROWS - 1
    for row in rows(awards):
        if done % per_sheet == 0:
            number = done // per_sheet + 1
            sheet = workbook.create_sheet("Awards" if number == 1 else f"Awards {number}")
            sheet.append(HEADERS)
        sheet.append(row)  # type: ignore[union-attr]
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


FORMAT = Format(
    name="xlsx",
    label="Excel",
    suffix=".xlsx",
    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    write=write,
    hint="A workbook with filters, formats and an About sheet",
)

"""Excel export: openpyxl's write-only workbook, a new sheet every 1,048,575 rows.

Usable at once: the header row is frozen and bold with an autofilter over the data,
amounts carry a thousands format with centavos, dates a date format, columns a width
that fits their usual content, and an "About this export" sheet says what was exported
(the filters, in the search page's words) and when (the time of the data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from explorer.models import Award
from jobs.kinds.base import Run
from jobs.kinds.export.rows import BATCH, COLUMNS, HEADERS, Format, neutralise, rows

EXCEL_MAX_ROWS = 1_048_576  # per sheet, header included (REFERENCE.md section 4)
AMOUNT_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
# Widths in characters: enough for the usual value, capped so one long title does not
# push the rest off screen (Excel shows the whole text in the cell and the formula bar).
WIDTHS = {"text": 24, "number": 18, "date": 12, "id": 38, "codes": 14}
WIDE = {"Award title": 60, "Procuring entity": 40, "Supplier": 36, "Business category": 30}


def write(run: Run, awards: QuerySet[Award], path: Path, total: int) -> int:
    from openpyxl import Workbook  # only workers write workbooks: the web process never loads it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    filters = run.params.get("filters") or {}
    workbook = Workbook(write_only=True)
    kinds = [kind for _, _, kind in COLUMNS]
    last_column = get_column_letter(len(COLUMNS))

    def new_sheet(title: str) -> Any:
        sheet = workbook.create_sheet(title)
        sheet.freeze_panes = "A2"  # before the first row: the sheet's view is written first
        for index, (header, _, kind) in enumerate(COLUMNS, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = WIDE.get(header, WIDTHS[kind])
        bold = Font(bold=True)
        header_cells = []
        for header in HEADERS:
            cell = WriteOnlyCell(sheet, header)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        return sheet

    # One styled cell per format; each data cell shares its style array (creating the
    # style per cell through openpyxl's setters would cost several times the write). A
    # write-only cell is written once and dropped, and writing only reads the array (it
    # looks up its style id), so one array serves every cell of its format; copying it
    # per cell cost 5 array copies a row (bench/RESULTS.md, issue 22).
    styles: dict[str, Any] = {}

    def styled(sheet: Any, value: Any, kind: str) -> Any:
        cell = WriteOnlyCell(sheet, value)
        if kind not in styles:
            template = WriteOnlyCell(sheet)
            template.number_format = AMOUNT_FORMAT if kind == "number" else DATE_FORMAT
            styles[kind] = template._style
        cell._style = styles[kind]
        return cell

    sheets: list[tuple[Any, int]] = []
    sheet = None
    on_sheet = done = 0
    per_sheet = EXCEL_MAX_ROWS - 1
    for row in rows(awards):
        if done % per_sheet == 0:
            number = done // per_sheet + 1
            if sheet is not None:
                sheets.append((sheet, on_sheet))
            sheet = new_sheet("Awards" if number == 1 else f"Awards {number}")
            on_sheet = 0
        sheet.append(  # type: ignore[union-attr]  # set on the first row
            [
                styled(sheet, value, kind) if value is not None and kind in ("number", "date") else value
                for value, kind in zip(row, kinds, strict=True)
            ]
        )
        on_sheet += 1
        done += 1
        if done % BATCH == 0:
            run.reporter.update(done)
    if sheet is None:
        sheet = new_sheet("Awards")
    sheets.append((sheet, on_sheet))
    for each, count in sheets:
        each.auto_filter.ref = f"A1:{last_column}{count + 1}"  # written when the sheet closes
    _about(workbook, filters, done)
    workbook.save(path)
    return done


def _about(workbook: Any, filters: dict[str, Any], done: int) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from explorer.search import SearchForm

    about = workbook.create_sheet("About this export")
    about.column_dimensions["A"].width = 28
    about.column_dimensions["B"].width = 70
    title = WriteOnlyCell(about, "PhilGEPS Data Explorer export")
    title.font = Font(bold=True, size=14)
    about.append([title])
    now = timezone.localtime()
    about.append(["Data as of", now.strftime("%Y-%m-%d %H:%M:%S %Z")])
    about.append(["Awards", done])
    about.append([])
    heading = WriteOnlyCell(about, "Filters")
    heading.font = Font(bold=True)
    about.append([heading])
    if not filters:
        about.append(["(none)", "all awards"])
    fields = SearchForm().fields
    for name, value in filters.items():
        field = fields.get(name)
        label = str(field.label) if field is not None and field.label else name.replace("_", " ").capitalize()
        choices = dict(getattr(field, "choices", None) or ())
        shown = choices.get(value, value)  # a choice in its words: "Largest amount first"
        about.append([label, neutralise(str(shown))])
    about.append([])
    about.append(["Amounts", "Contract amounts in Philippine pesos (PHP), summed over awards only."])
    about.append(["Text", "Text starting with = + - @ has a leading apostrophe: spreadsheets never run it."])


FORMAT = Format(
    name="xlsx",
    label="Excel",
    suffix=".xlsx",
    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    write=write,
    hint="A workbook with filters, formats and an About sheet",
)

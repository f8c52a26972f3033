"""Excel export: the workbook's XML written here, streamed into the zip, a new sheet
every 1,048,575 rows.

Usable at once: the header row is frozen and bold with an autofilter over the data,
amounts carry a thousands format with centavos, dates a date format, columns a width
that fits their usual content, and an "About this export" sheet says what was exported
(the filters, in the search page's words) and when (the time of the data).

Why not openpyxl: its write-only mode builds a cell object per value and an lxml element
per cell, which was 64 % of a 1M-row export (bench/RESULTS.md, issue 22). Here a row is
one f-string per cell, written in about 1 MB chunks straight into the sheet's zip member
(nothing is held but the chunk). Strings are inline (`t="inlineStr"`): shared strings
would hold every distinct title in memory. The cell rules follow openpyxl's: text is cut
at Excel's 32,767 characters, numbers are exact decimals, dates Excel serial numbers
(days since 1899-12-30, 1900's phantom leap day included). Where openpyxl raises on
characters XML 1.0 forbids, they are dropped, so no row can yield a file Excel refuses.

The zip is deflated at zlib's default level, as openpyxl does (level 1 wrote 100k
synthetic rows 27 % faster, into a file 34 % larger). A sheet also ends before its XML
reaches 2 GiB: past that Python's zipfile needs ZIP64 markers, which some Excel versions
refuse (1M of the bench's synthetic rows made 1.2 GB).
"""

from __future__ import annotations

import datetime
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from django.db.models import QuerySet
from django.utils import timezone

from explorer.models import Award
from jobs.kinds.base import Run
from jobs.kinds.export.rows import BATCH, COLUMNS, HEADERS, Format, neutralise, rows

EXCEL_MAX_ROWS = 1_048_576  # per sheet, header included (REFERENCE.md section 4)
EXCEL_MAX_CHARS = 32_767  # per cell; openpyxl cuts longer text there and so do we
SHEET_MAX_BYTES = 2**31 - 2**26  # zipfile's ZIP64 limit (2 GiB) less room for one chunk
CHUNK_CHARS = 2**20
COMPRESSION = 6  # zlib's default (openpyxl's)
AMOUNT_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
# Widths in characters: enough for the usual value, capped so one long title does not
# push the rest off screen (Excel shows the whole text in the cell and the formula bar).
WIDTHS = {"text": 24, "number": 18, "date": 12, "id": 38, "codes": 14}
WIDE = {"Award title": 60, "Procuring entity": 40, "Supplier": 36, "Business category": 30}

# Cell style indexes into STYLES' cellXfs.
BOLD, AMOUNT, DATE, TITLE = 1, 2, 3, 4
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    f'<numFmts count="1"><numFmt numFmtId="164" formatCode="{DATE_FORMAT}"/></numFmts>'
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    # 4 is Excel's built-in "#,##0.00" (AMOUNT_FORMAT)
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# What XML 1.0 cannot hold at all (dropped), and what text needs escaped or marked.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_CARE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACE = (" ", "\t", "\n", "\r")
_EPOCH = datetime.date(1899, 12, 30).toordinal()


def _letter(index: int) -> str:
    """Excel's column letters for a 1-based index: 1 is A, 27 is AA."""
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _careful(value: str) -> str:
    """`value` as the content of a `<t>`: illegal characters dropped, markup escaped, and
    the space at either end kept (Excel trims it without `xml:space`)."""
    value = _ILLEGAL.sub("", value)
    preserve = value.startswith(_SPACE) or value.endswith(_SPACE)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # a bare CR would reach the reader as LF (XML end-of-line handling)
    value = value.replace("\r", "&#13;")
    return f'<t xml:space="preserve">{value}</t>' if preserve else f"<t>{value}</t>"


def text_xml(value: str) -> str:
    """The `<t>` element of a string cell holding `value` (what Excel will show)."""
    if len(value) > EXCEL_MAX_CHARS:
        value = value[:EXCEL_MAX_CHARS]
    if _NEEDS_CARE.search(value) is None and not value.startswith(_SPACE) and not value.endswith(_SPACE):
        return f"<t>{value}</t>"
    return _careful(value)


def number_xml(value: int | float | Decimal) -> str | None:
    """A number's `<v>` text, exact (a Decimal is written digit for digit), or None for
    what Excel cannot hold (NaN, infinity)."""
    if type(value) is Decimal:
        return format(value, "f") if value.is_finite() else None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(value) if math.isfinite(value) else None


def date_xml(value: datetime.date) -> str:
    """A date's (or datetime's) Excel serial number."""
    if type(value) is datetime.date:
        serial = value.toordinal() - _EPOCH
        if serial > 60:  # from 1900-03-01 on, past the phantom 29 February 1900
            return str(serial)
    from openpyxl.utils.datetime import to_excel  # the rare old date or a datetime

    return repr(to_excel(value))


def row_xml(number: int, values: Iterable[Any], kinds: Sequence[str], letters: Sequence[str]) -> str:
    """One `<row>` of a sheet: `values[i]` in column `letters[i]`, written as `kinds[i]`
    says ("number" with the amount format, "date" with the date format, "text"); a value
    of another type is written as its type (a number, a date, else its text). None (and a
    number Excel cannot hold, or "") leaves its cell out."""
    r = str(number)
    cells = [f'<row r="{r}">']
    append = cells.append
    for value, kind, letter in zip(values, kinds, letters, strict=True):
        if value is None:
            continue
        if type(value) is str and kind != "number" and kind != "date":
            if value:  # "" stays an empty cell, as openpyxl writes it
                append(f'<c r="{letter}{r}" t="inlineStr"><is>{text_xml(value)}</is></c>')
        elif type(value) is Decimal and kind == "number":
            if value.is_finite():
                append(f'<c r="{letter}{r}" s="{AMOUNT}"><v>{format(value, "f")}</v></c>')
        elif type(value) is datetime.date and kind == "date":
            append(f'<c r="{letter}{r}" s="{DATE}"><v>{date_xml(value)}</v></c>')
        else:
            append(_cell(letter + r, value, kind))
    append("</row>")
    return "".join(cells)


def _cell(ref: str, value: Any, kind: str) -> str:
    """The cell of a value whose type is not its column's usual one."""
    if isinstance(value, datetime.date):
        return f'<c r="{ref}" s="{DATE}"><v>{date_xml(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        shown = number_xml(value)
        style = f' s="{AMOUNT}"' if kind == "number" else ""
        return f'<c r="{ref}"{style}><v>{shown}</v></c>' if shown is not None else ""
    return f'<c r="{ref}" t="inlineStr"><is>{text_xml(str(value))}</is></c>'


class _Sheet:
    """One worksheet's XML, streamed into its zip member: the head (and `header`, a row
    that `rows` does not count) when opened, rows as they come (in chunks), the autofilter
    and the end when closed."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        number: int,
        title: str,
        widths: Sequence[float],
        *,
        frozen: bool,
        max_rows: int,
        header: str = "",
    ) -> None:
        self.title, self.number, self.max_rows = title, number, max_rows
        self.member: IO[bytes] = archive.open(f"xl/worksheets/sheet{number}.xml", "w")
        self.chunk: list[str] = []
        self.chars = self.size = self.rows = 0
        view = '<sheetView workbookViewId="0"' + (' tabSelected="1"' if number == 1 else "") + ">"
        if frozen:
            view += (
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            )
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>'
            for i, width in enumerate(widths, start=1)
        )
        self._write(
            f'{HEAD}<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
            f'<sheetViews>{view}</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            f"<cols>{cols}</cols><sheetData>{header}"
        )

    @property
    def full(self) -> bool:
        return self.rows >= self.max_rows or self.size > SHEET_MAX_BYTES

    def add(self, xml: str) -> None:
        self.chunk.append(xml)
        self.rows += 1
        self.chars += len(xml)
        if self.chars > CHUNK_CHARS:
            self._flush()

    def close(self, autofilter: str | None = None) -> None:
        self._flush()
        self._write(
            "</sheetData>" + (f'<autoFilter ref="{autofilter}"/>' if autofilter else "") + "</worksheet>"
        )
        self.member.close()

    def _flush(self) -> None:
        self._write("".join(self.chunk))
        self.chunk.clear()
        self.chars = 0

    def _write(self, xml: str) -> None:
        data = xml.encode()
        self.size += len(data)
        self.member.write(data)


def write(run: Run, awards: QuerySet[Award], path: Path, total: int) -> int:
    filters = run.params.get("filters") or {}
    kinds = [kind for _, _, kind in COLUMNS]
    letters = [_letter(i) for i in range(1, len(COLUMNS) + 1)]
    widths = [WIDE.get(header, WIDTHS[kind]) for header, _, kind in COLUMNS]
    header = row_xml(1, HEADERS, ["text"] * len(HEADERS), letters).replace(
        't="inlineStr"', f's="{BOLD}" t="inlineStr"'
    )
    per_sheet = EXCEL_MAX_ROWS - 1  # read here: the tests lower it
    sheets: list[_Sheet] = []
    done = 0

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION) as archive:

        def new_sheet() -> _Sheet:
            number = len(sheets) + 1
            title = "Awards" if number == 1 else f"Awards {number}"
            sheet = _Sheet(archive, number, title, widths, frozen=True, max_rows=per_sheet, header=header)
            sheets.append(sheet)
            return sheet

        sheet = new_sheet()
        try:
            for row in rows(awards):
                if sheet.full:
                    _close(sheet, letters)
                    sheet = new_sheet()
                sheet.add(row_xml(sheet.rows + 2, row, kinds, letters))
                done += 1
                if done % BATCH == 0:
                    run.reporter.update(done)
        except BaseException:
            sheet.member.close()  # or closing the zip would raise over this error
            raise
        _close(sheet, letters)
        about = _Sheet(archive, len(sheets) + 1, "About this export", [28, 70], frozen=False, max_rows=0)
        _about(about, filters, done)
        about.close()
        _package(archive, [*sheets, about], letters[-1])
    return done


def _close(sheet: _Sheet, letters: Sequence[str]) -> None:
    sheet.close(autofilter=f"A1:{letters[-1]}{sheet.rows + 1}")


def _about(about: _Sheet, filters: dict[str, Any], done: int) -> None:
    from explorer.search import SearchForm

    lines: list[tuple[Any, ...]] = [
        ("PhilGEPS Data Explorer export",),
        ("Data as of", timezone.localtime().strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("Awards", done),
        (),
        ("Filters",),
    ]
    if not filters:
        lines.append(("(none)", "all awards"))
    fields = SearchForm().fields
    for name, value in filters.items():
        field = fields.get(name)
        label = str(field.label) if field is not None and field.label else name.replace("_", " ").capitalize()
        choices = dict(getattr(field, "choices", None) or ())
        shown = choices.get(value, value)  # a choice in its words: "Largest amount first"
        lines.append((label, neutralise(str(shown))))
    lines.append(())
    lines.append(("Amounts", "Contract amounts in Philippine pesos (PHP), summed over awards only."))
    lines.append(("Text", "Text starting with = + - @ has a leading apostrophe: spreadsheets never run it."))
    styles = {1: TITLE, 5: BOLD}
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        xml = row_xml(number, line, ["text"] * len(line), ["A", "B"][: len(line)])
        if number in styles:
            xml = xml.replace('t="inlineStr"', f's="{styles[number]}" t="inlineStr"')
        about.add(xml)


def _package(archive: zipfile.ZipFile, sheets: Sequence[_Sheet], last_column: str) -> None:
    """The parts around the sheets: workbook, relationships, styles, content types."""
    entries = "".join(
        f'<sheet name={quoteattr(s.title)} sheetId="{s.number}" r:id="rId{s.number}"/>' for s in sheets
    )
    names = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{s.number - 1}" hidden="1">'
        f"'{s.title}'!$A$1:${last_column}${s.rows + 1}</definedName>"
        for s in sheets[:-1]  # the About sheet has no filter
    )
    archive.writestr(
        "xl/workbook.xml",
        f'{HEAD}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
        f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{entries}</sheets>'
        f"<definedNames>{names}</definedNames></workbook>",
    )
    sheet_type = f"{RELATIONSHIPS}/worksheet"
    styles_id = len(sheets) + 1
    archive.writestr(
        "xl/_rels/workbook.xml.rels",
        f'{HEAD}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
        + "".join(
            f'<Relationship Id="rId{s.number}" Type="{sheet_type}" Target="worksheets/sheet{s.number}.xml"/>'
            for s in sheets
        )
        + f'<Relationship Id="rId{styles_id}" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/>'
        "</Relationships>",
    )
    archive.writestr("xl/styles.xml", STYLES)
    archive.writestr(
        "_rels/.rels",
        f'{HEAD}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
        f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
    )
    spreadsheet = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    worksheet = f"{spreadsheet}.worksheet+xml"
    archive.writestr(
        "[Content_Types].xml",
        f'{HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{spreadsheet}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{spreadsheet}.styles+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{s.number}.xml" ContentType="{worksheet}"/>'
            for s in sheets
        )
        + "</Types>",
    )


FORMAT = Format(
    name="xlsx",
    label="Excel",
    suffix=".xlsx",
    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    write=write,
    hint="A workbook with filters, formats and an About sheet",
)

"""The xlsx export's own sheet XML: escaping, characters XML forbids, exact numbers,
dates, empty cells, Excel's cell limit, and a round trip through openpyxl."""

from __future__ import annotations

import datetime
import re
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from defusedxml import ElementTree as ET

from jobs.kinds.export import rows as exporters
from jobs.kinds.export import to_xlsx

KINDS = [kind for _, _, kind in exporters.COLUMNS]
TEXT_AT = KINDS.index("text")
AMOUNT_AT = KINDS.index("number")
DATE_AT = KINDS.index("date")
ILLEGAL = "".join(chr(c) for c in [*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20)]) + "\ufffe\uffff\ud800"


class _Reporter:
    def update(self, done=None, **kwargs) -> None:
        pass


class _Run:
    reporter = _Reporter()
    params = {"format": "xlsx", "filters": {}}


def _row(**values: object) -> list[object]:
    """A row of text columns "t<i>", with `values` by column index name: c8=..."""
    row: list[object] = [f"t{i}" if kind == "text" else None for i, kind in enumerate(KINDS)]
    for name, value in values.items():
        row[int(name[1:])] = value
    return row


def _export(monkeypatch, tmp_path, data: list[list[object]]) -> zipfile.ZipFile:
    monkeypatch.setattr(to_xlsx, "rows", lambda awards: iter(data))
    path = tmp_path / "out.xlsx"
    assert to_xlsx.write(_Run(), None, path, len(data)) == len(data)
    return zipfile.ZipFile(path)


def _cells(archive: zipfile.ZipFile, sheet: int = 1) -> dict[str, Any]:
    tree = ET.fromstring(archive.read(f"xl/worksheets/sheet{sheet}.xml"))  # strict: well-formed XML
    return {c.get("r"): c for c in tree.iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}c")}


@pytest.mark.parametrize(
    "text",
    ['<a href="x">&amp;</a>', "x > y & z < w", 'it\'s "quoted"', "line\nbreak", "cr\rand\r\ncrlf", "tab\tin"],
)
def test_markup_and_line_ends_come_back_exactly(text):
    xml = f"<t>{to_xlsx.text_xml(text)}</t>"

    assert ET.fromstring(xml).findtext("t") == text


@pytest.mark.parametrize("text", [" leading", "trailing ", "\nnl first", "\rcr first", "cr last\r", "   "])
def test_space_at_either_end_is_marked_to_be_kept(text):
    element = ET.fromstring(to_xlsx.text_xml(text))

    assert element.get("{http://www.w3.org/XML/1998/namespace}space") == "preserve"
    assert element.text == text


def test_characters_xml_forbids_are_dropped_and_the_rest_kept():
    xml = to_xlsx.text_xml(f"a{ILLEGAL}b<&")

    assert ET.fromstring(xml).text == "ab<&"
    xml.encode()  # a lone surrogate would not even encode


def test_text_is_cut_at_excels_cell_limit_before_escaping():
    long = "a" * (to_xlsx.EXCEL_MAX_CHARS - 1) + "&&&"

    assert ET.fromstring(to_xlsx.text_xml(long)).text == "a" * (to_xlsx.EXCEL_MAX_CHARS - 1) + "&"
    assert len(ET.fromstring(to_xlsx.text_xml("é" * 40_000)).text) == 32_767


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (Decimal("12345.67"), "12345.67"),
        (Decimal("0.10"), "0.10"),
        (Decimal("1E+3"), "1000"),
        (Decimal("9999999999999999.99"), "9999999999999999.99"),
        (Decimal("-0.01"), "-0.01"),
        (7, "7"),
        (0.1, "0.1"),
        (Decimal("NaN"), None),
        (float("inf"), None),
    ],
)
def test_numbers_are_written_digit_for_digit_and_nan_not_at_all(value, written):
    assert to_xlsx.number_xml(value) == written


@pytest.mark.parametrize(
    ("day", "serial"),
    [
        (datetime.date(2024, 1, 1), "45292"),
        (datetime.date(2024, 2, 29), "45351"),
        (datetime.date(1900, 3, 1), "61"),  # Excel counts a 29 February 1900
        (datetime.date(1900, 1, 1), "1"),
    ],
)
def test_dates_are_excel_serial_numbers(day, serial):
    assert float(to_xlsx.date_xml(day)) == float(serial)


def test_a_row_leaves_out_empty_cells_and_styles_amounts_and_dates():
    row = _row(c1=None, c2="", **{f"c{AMOUNT_AT}": Decimal("1.50"), f"c{DATE_AT}": datetime.date(2024, 1, 1)})
    letters = [to_xlsx._letter(i) for i in range(1, len(KINDS) + 1)]

    element = ET.fromstring(to_xlsx.row_xml(7, row, KINDS, letters))

    cells = {c.get("r"): c for c in element}
    assert element.get("r") == "7"
    assert "B7" not in cells  # None and "" alike, as openpyxl writes them
    assert "C7" not in cells
    amount = cells[f"{letters[AMOUNT_AT]}7"]
    assert (amount.get("s"), amount.findtext("v")) == (str(to_xlsx.AMOUNT), "1.50")
    date = cells[f"{letters[DATE_AT]}7"]
    assert (date.get("s"), date.findtext("v")) == (str(to_xlsx.DATE), "45292")
    assert cells["A7"].get("t") == "inlineStr"
    assert cells["A7"].find("is/t").text == "t0"


def test_column_letters_go_past_z():
    assert [to_xlsx._letter(i) for i in (1, 18, 26, 27, 52, 703)] == ["A", "R", "Z", "AA", "AZ", "AAA"]


def test_every_value_comes_back_through_openpyxl(monkeypatch, tmp_path):
    awkward = [
        '=1+1 is text here: "quoted" & <tagged>',
        " spaced ",
        "multi\nline\r\nwith\rcr",
        "é ñ 中文 😀",
        "x" * 40_000,
        f"bad{ILLEGAL}chars",
        "#N/A",
    ]
    data = []
    for i in range(60):
        row = _row(c0=awkward[i % len(awkward)], c1="" if i % 5 == 0 else f"n{i}")
        row[AMOUNT_AT] = None if i % 7 == 0 else Decimal("1234567890.12") + Decimal(i) / 100
        row[DATE_AT] = None if i % 6 == 0 else datetime.date(2024, 1, 1) + datetime.timedelta(days=i * 11)
        row[DATE_AT + 1] = datetime.date(1999, 12, 31)
        row[-1] = f"00000000-0000-4000-8000-{i:012d}"
        data.append(row)

    archive = _export(monkeypatch, tmp_path, data)

    for name in archive.namelist():
        ET.fromstring(archive.read(name))  # every part is well-formed XML
    book = openpyxl.load_workbook(archive.filename)
    sheet = book["Awards"]
    assert [cell.value for cell in sheet[1]] == exporters.HEADERS
    assert all(cell.font.bold for cell in sheet[1])
    for number, row in enumerate(data, start=2):
        for column, (value, kind) in enumerate(zip(row, KINDS, strict=True), start=1):
            cell = sheet.cell(row=number, column=column)
            if value is None or value == "":
                assert cell.value is None
            elif kind == "number":
                assert (cell.value, cell.number_format) == (float(value), "#,##0.00")
            elif kind == "date":
                assert (cell.value, cell.number_format) == (
                    datetime.datetime.combine(value, datetime.time()),
                    "yyyy-mm-dd",
                )
            else:
                expected = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "", value)
                assert cell.value == expected[: to_xlsx.EXCEL_MAX_CHARS], (number, column)
    assert sheet.max_row == len(data) + 1


def test_amounts_keep_every_digit_in_the_file(monkeypatch, tmp_path):
    amount = Decimal("9999999999999999.99")  # more digits than a float holds
    archive = _export(monkeypatch, tmp_path, [_row(**{f"c{AMOUNT_AT}": amount})])

    cell = _cells(archive)[f"{to_xlsx._letter(AMOUNT_AT + 1)}2"]

    assert cell.findtext("{*}v") == "9999999999999999.99"


def test_no_rows_still_makes_a_workbook_with_the_header(monkeypatch, tmp_path):
    archive = _export(monkeypatch, tmp_path, [])

    book = openpyxl.load_workbook(archive.filename)
    assert book.sheetnames == ["Awards", "About this export"]
    assert [c.value for c in book["Awards"][1]] == exporters.HEADERS
    assert book["Awards"].auto_filter.ref == f"A1:{to_xlsx._letter(len(KINDS))}1"


def test_a_sheet_ends_before_its_xml_needs_zip64(monkeypatch, tmp_path):
    monkeypatch.setattr(to_xlsx, "CHUNK_CHARS", 1)  # every row is written at once
    monkeypatch.setattr(to_xlsx, "SHEET_MAX_BYTES", 3000)  # a few rows of ~700 bytes
    data = [_row(c0=f"r{i}") for i in range(10)]

    archive = _export(monkeypatch, tmp_path, data)

    book = openpyxl.load_workbook(archive.filename, read_only=True)
    sheets = [name for name in book.sheetnames if name.startswith("Awards")]
    assert len(sheets) > 1
    values = [row for name in sheets for row in book[name].iter_rows(values_only=True)]
    assert [row[0] for row in values if row[0] != "Reference number"] == [f"r{i}" for i in range(10)]
    assert all(info.extra == b"" for info in archive.infolist())  # no ZIP64 fields
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())


def test_an_error_from_the_rows_is_the_error_raised(monkeypatch, tmp_path):
    def failing(awards):
        yield _row()
        raise RuntimeError("the reader died")

    monkeypatch.setattr(to_xlsx, "rows", failing)

    with pytest.raises(RuntimeError, match="the reader died"):
        to_xlsx.write(_Run(), None, tmp_path / "out.xlsx", 2)

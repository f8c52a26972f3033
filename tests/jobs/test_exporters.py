"""Export writers: formula neutralisation, sheet splitting, the SQL twin of the Python rule."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.kinds.export import rows as exporters
from jobs.kinds.export import to_xlsx
from jobs.kinds.export.rows import neutralise

HOSTILE = [
    '=HYPERLINK("http://evil")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\x01=cmd",
    "plain text",
    "a = b",
    "line\nbreak",
    "bell\x07inside",
    "",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_neutralised_text_never_starts_with_a_formula_character(text):
    value = neutralise(text)

    assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in value)


def test_harmless_text_is_left_alone():
    assert neutralise("ROAD CONCRETING, BRGY. SAN ISIDRO") == "ROAD CONCRETING, BRGY. SAN ISIDRO"
    assert neutralise("=1") == "'=1"


@pytest.mark.django_db
def test_postgres_neutralisation_matches_the_python_rule():
    from django.db.models import Value

    with connection.cursor() as cursor:
        for text in HOSTILE:
            sql, params = exporters.Neutralised(Value(text)).as_sql(_Compiler(), connection)
            cursor.execute(f"SELECT {sql}", params)
            assert cursor.fetchone()[0] == neutralise(text), repr(text)


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(
        alphabet=st.sampled_from("=+-@\t\r\n\x01\x07\x1b\x1f ab'\"é,"), max_size=8
    )  # PostgreSQL text cannot hold NUL
)
def test_postgres_neutralisation_matches_the_python_rule_on_any_text(text):
    from django.db.models import Value

    sql, params = exporters.Neutralised(Value(text)).as_sql(_Compiler(), connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        assert cursor.fetchone()[0] == neutralise(text)


class _Compiler:
    def compile(self, node):  # a Value compiles to one placeholder
        return "%s", [node.value]


class _Reporter:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def update(self, done=None, **kwargs) -> None:
        if done is not None:
            self.calls.append(done)


class _Run:
    def __init__(self) -> None:
        self.reporter = _Reporter()
        self.params = {"format": "xlsx", "filters": {"q": "=evil"}}


def test_xlsx_splits_into_further_sheets_at_the_row_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(to_xlsx, "EXCEL_MAX_ROWS", 4)  # 3 data rows per sheet
    rows = [[f"r{i}"] + [None] * (len(exporters.HEADERS) - 1) for i in range(7)]
    monkeypatch.setattr(to_xlsx, "rows", lambda awards: iter(rows))
    path = tmp_path / "out.xlsx"

    written = to_xlsx.write(_Run(), None, path, 7)

    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    assert written == 7
    assert book.sheetnames == ["Awards", "Awards 2", "Awards 3", "About this export"]
    sheets = [list(book[name].iter_rows(values_only=True)) for name in book.sheetnames[:3]]
    assert [len(s) for s in sheets] == [4, 4, 2]
    assert all(s[0][0] == "Reference number" for s in sheets)
    assert [row[0] for s in sheets for row in s[1:]] == [f"r{i}" for i in range(7)]
    about = {row[0]: row[-1] for row in book["About this export"].iter_rows(values_only=True) if row}
    assert about["Keywords"] == "'=evil"  # the filter in the search form's words, neutralised


def test_the_xlsx_is_usable_at_once_header_filter_formats_widths_and_about(monkeypatch, tmp_path):
    """Issue 17: frozen header, autofilter, number and date formats, widths, the About sheet."""
    import datetime
    from decimal import Decimal

    kinds = [kind for _, _, kind in exporters.COLUMNS]
    amount_at, date_at = kinds.index("number"), kinds.index("date")

    def row(i: int) -> list[object]:
        values: list[object] = [f"text {i}"] * len(kinds)
        values[amount_at] = Decimal("1234567.5") + i
        values[date_at] = datetime.date(2024, 3, 1 + i)
        values[date_at + 1] = None  # a missing date stays empty
        return values

    monkeypatch.setattr(to_xlsx, "rows", lambda awards: iter([row(i) for i in range(5)]))
    path = tmp_path / "out.xlsx"

    to_xlsx.write(_Run(), None, path, 5)

    book = openpyxl.load_workbook(path)  # not read-only: views, filters and widths are read too
    sheet = book["Awards"]
    last = openpyxl.utils.get_column_letter(len(kinds))
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{last}6"
    assert all(cell.font.bold for cell in sheet[1])
    amount = sheet.cell(row=2, column=amount_at + 1)
    assert (amount.value, amount.number_format) == (1234567.5, "#,##0.00")
    date = sheet.cell(row=3, column=date_at + 1)
    assert date.is_date
    assert date.number_format == "yyyy-mm-dd"
    assert date.value.date() == datetime.date(2024, 3, 2)
    assert sheet.cell(row=2, column=date_at + 2).value is None
    widths = {
        header: sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width
        for i, header in enumerate(exporters.HEADERS, start=1)
    }
    assert widths["Award title"] >= 50
    assert widths["Contract amount (PHP)"] >= len("1,234,567.50")
    assert all(8 <= width <= 60 for width in widths.values())

    about = {row[0]: row[1:] for row in book["About this export"].iter_rows(values_only=True) if row[0]}
    assert about["Awards"][0] == 5
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+", about["Data as of"][0])
    assert "Filters" in about
    assert about["Keywords"][0] == "'=evil"


@pytest.mark.django_db(transaction=True)
def test_an_export_over_export_max_rows_fails_with_the_limit_and_writes_nothing(alice, settings, tmp_path):
    from explorer import demo
    from jobs import execution, services
    from jobs.models import Job, State
    from tests.jobs.helpers import export_params

    settings.EXPORT_ROOT, settings.EXPORT_MAX_ROWS = tmp_path, 5
    demo.seed(awards=20, seed=9)
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("csv"))

    execution.execute(str(job.id), redelivered=False, worker="inline")

    job = Job.objects.get(pk=job.pk)
    assert job.state == State.FAILED
    assert job.error == (
        "This search matches 20 awards; an export holds at most 5. Narrow the filters and try again."
    )
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []

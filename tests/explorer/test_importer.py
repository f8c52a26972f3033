"""The PhilGEPS importer on the real samples and on files in every era's layout."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from explorer.importer import import_file
from explorer.models import Area, Award, BusinessCategory, ImportRun, LineItem, Notice, Organization, Supplier
from tests.conftest import shared_file

pytestmark = pytest.mark.django_db(transaction=True)

V2 = "philgeps-v2-2024q4-sample-200.csv"
V1 = "philgeps-v1-2023-sample-11.csv"


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Organization, Supplier, BusinessCategory, Area, Notice, Award, LineItem)
    }


def test_v2_sample_imports_every_row_with_exact_counts():
    run = import_file(shared_file(V2))

    assert run.status == ImportRun.Status.SUCCEEDED, run.message
    assert run.era == "S4/S5"
    assert (run.rows_read, run.rows_failed) == (200, 0)
    # 81 reference numbers + 113 award-only notices (ref 0) + 2 fingerprinted closed ones
    assert run.notices_new == Notice.objects.count() == 196
    assert run.awards_new == Award.objects.count() == 144
    assert run.line_items_new == LineItem.objects.count() == 172  # 28 rows have no line item


def test_v2_values_are_parsed_day_first_and_kept_exact():
    import_file(shared_file(V2))

    award = Award.objects.select_related("supplier", "organization", "notice").get(award_number="5147180")
    assert award.amount == Decimal("49500.00")
    assert award.award_date == dt.date(2024, 9, 19)  # "19/09/2024"
    assert award.end_date == dt.date(2024, 11, 27)
    assert award.supplier.name == "BXU COPY TRADING & ENT. CORP. - TACLOBAN BRANCH"
    assert award.organization.name == "EASTERN VISAYAS STATE UNIVERSITY"
    assert award.organization.region == "Region VIII"
    assert award.notice.approved_budget == Decimal("55000.00")
    assert award.notice.published_date == dt.date(2024, 10, 29)
    assert award.notice.reference_number == ""  # "0" means no bid reference
    assert award.procurement_mode == "Direct Contracting (Sec. 50)"
    assert award.category.name == "Printing Supplies"


def test_upper_case_html_entities_are_decoded():
    import_file(shared_file(V2))

    assert Supplier.objects.filter(name="QUATRO AMIGOS BUILDERS & SUPPLY").exists()
    assert not Supplier.objects.filter(name__contains="&AMP;").exists()


def test_posted_awards_without_amount_are_kept_with_unknown_amount():
    import_file(shared_file(V2))

    assert Award.objects.filter(amount__isnull=True).count() == 3


def test_v1_sample_imports_with_exact_counts_and_values():
    run = import_file(shared_file(V1))

    assert run.status == ImportRun.Status.SUCCEEDED, run.message
    assert run.era == "S3"
    assert (run.rows_read, run.rows_failed, run.notices_new, run.awards_new, run.line_items_new) == (
        11,
        0,
        7,
        7,
        11,
    )
    award = Award.objects.select_related("notice").get(award_number="4060379")
    assert award.amount == Decimal("476465.00")
    assert award.award_date == dt.date(2023, 2, 10)  # "2023-02-10 00:00:00.000"
    assert award.notice.reference_number == "9386985"
    assert award.notice.bidders == "LILIW MUNICIPAL EMPLOYEES MULTI-PURPOSE COOPERATIVE"
    # -1.00 is PhilGEPS' placeholder for an unknown item budget
    budgets = set(LineItem.objects.filter(notice=award.notice).values_list("budget", flat=True))
    assert budgets == {None}
    assert Organization.objects.filter(name="NATIONAL MEAT INSPECTION SERVICE").exists()  # double space


def test_personal_data_columns_are_never_stored():
    path = shared_file(V1)
    with open(path, encoding="utf-8") as handle:
        creators = {row["Created By"] for row in csv.DictReader(handle)} - {"NULL", ""}
    assert "Rosel Montaus Miras" in creators

    import_file(path)

    for model in (Organization, Supplier, Notice, Award, LineItem):
        for obj in model.objects.all():
            text = " ".join(str(value) for value in obj.__dict__.values())
            for creator in creators:
                assert creator not in text, f"{creator!r} stored in {model.__name__}"


def test_importing_the_same_file_twice_adds_nothing():
    first = import_file(shared_file(V2))
    before = table_counts()

    second = import_file(shared_file(V2))

    assert first.awards_new == 144
    assert second.status == ImportRun.Status.SUCCEEDED
    assert (second.notices_new, second.awards_new, second.line_items_new) == (0, 0, 0)
    assert (second.organizations_new, second.suppliers_new) == (0, 0)
    assert table_counts() == before


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def v2_rows() -> tuple[list[str], list[list[str]]]:
    with open(shared_file(V2), encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def test_bad_rows_are_reported_with_line_and_reason_and_the_rest_imports(tmp_path):
    header, rows = v2_rows()
    rows = rows[:20]
    rows[4][header.index("Award Date")] = "31/02/2024"
    rows[9][header.index("Procuring Entity (PE)")] = "NULL"
    rows[12][header.index("Contract Amount")] = "about 5 million"
    path = write_csv(tmp_path / "bad.csv", header, rows)

    run = import_file(path)

    assert run.status == ImportRun.Status.SUCCEEDED
    assert (run.rows_read, run.rows_failed) == (20, 3)
    assert run.errors == [
        {"line": 6, "reason": "Award Date: '31/02/2024' is not a date (expected DD/MM/YYYY)"},
        {"line": 11, "reason": "Procuring Entity is empty"},
        {"line": 14, "reason": "Contract Amount: 'about 5 million' is not an amount"},
    ]
    assert Award.objects.count() == 17


def test_line_numbers_count_physical_lines_when_quoted_fields_span_lines(tmp_path):
    header, rows = v2_rows()
    rows = rows[:3]
    rows[0][header.index("Item Description")] = "first line\nsecond line\nthird line"
    rows[2][header.index("Published Date")] = "yesterday"
    path = write_csv(tmp_path / "multiline.csv", header, rows)

    run = import_file(path)

    assert run.errors == [
        {"line": 6, "reason": "Published Date: 'yesterday' is not a date (expected DD/MM/YYYY)"}
    ]
    assert LineItem.objects.filter(description="first line second line third line").exists()


def test_a_file_that_is_not_philgeps_is_refused_and_nothing_is_written():
    run = import_file(shared_file("philgeps-areas.csv"))

    assert run.status == ImportRun.Status.REFUSED
    assert "not a PhilGEPS bid notice and award file" in run.message
    assert set(table_counts().values()) == {0}


def test_a_non_utf8_file_is_refused_before_anything_is_written(tmp_path):
    header, rows = v2_rows()
    good = io.StringIO()
    csv.writer(good).writerows([header, *rows[:50]])
    data = good.getvalue().encode("utf-8").replace("Muñoz".encode(), "Muñoz".encode("latin-1"))
    path = tmp_path / "latin1.csv"
    path.write_bytes(data)

    run = import_file(path)

    assert run.status == ImportRun.Status.REFUSED
    assert run.message.startswith("The file is not UTF-8 text (an invalid byte on line 2)")
    assert set(table_counts().values()) == {0}


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    run = import_file(path)

    assert (run.status, run.message) == (ImportRun.Status.REFUSED, "The file is empty.")


# --- S1/S2 spreadsheets, built here in the layout of the 2000-2020 files ----------------

S1_HEADER = [
    "Organization Name", "Reference ID", "Solicitation No.", "Notice Title", "Publish Date",
    "Classification", "Notice Type", "Business Category", "Funding Source", "Funding Instrument",
    "Trade Agreement", "Procurement Mode", "Approved Budget of the Contract", "Area of Delivery",
    "Contract Duration", "Calendar Type", "Line Item No", "Item Name", "Item Desc", "Quantity", "UOM",
    "Item Budget", "PreBid Date", "Closing Date", "Notice Status", "Award No.", "Award Title",
    "UNSPSC Code", "UNSPSC Description", "Award Type", "Awardee Corporate Title", "Contract Amount",
    "Contract No", "Publish Date(Award)", "Award Date", "Notice to Proceed Date",
    "Contract Efectivity Date", "Contract End Date", "Reason for Award", "Award Status",
]  # fmt: skip


def s1_row(**values: object) -> list[object]:
    base: dict[str, object] = {
        "Organization Name": "DPWH - ILOILO 1ST DISTRICT ENGINEERING OFFICE",
        "Reference ID": 2145678,
        "Notice Title": "Construction of Flood Control Structure, Jalaur River",
        "Publish Date": dt.datetime(2014, 3, 3, 9, 30),
        "Classification": "Civil Works",
        "Business Category": "Construction Projects",
        "Procurement Mode": "Public Bidding",
        "Approved Budget of the Contract": 49_900_000.0,
        "Area of Delivery": "Iloilo",
        "Line Item No": 1,
        "Item Name": "Flood control structure",
        "Quantity": 1,
        "UOM": "Lot",
        "Item Budget": -1,
        "Notice Status": "Awarded",
        "Award No.": 1234567,
        "Award Title": "Construction of Flood Control Structure, Jalaur River",
        "Awardee Corporate Title": "JALAUR BUILDERS &AMP; SUPPLY",
        "Contract Amount": 49_750_123.45,
        "Award Date": 41740,  # an Excel serial number: 2014-04-11 (2014-01-01 is 41640)
        "Contract Efectivity Date": "NULL",
        "Award Status": "Posted",
    }
    base.update(values)
    return [base.get(column) for column in S1_HEADER]


def write_xlsx(path: Path, header: list[str], rows: list[list[object]], metadata_rows: int = 3) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["PhilGEPS Bid Notice and Award Details"])
    for _ in range(metadata_rows - 1):
        sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_s1_spreadsheet_with_metadata_rows_excel_dates_and_serials(tmp_path):
    rows = [
        s1_row(),
        s1_row(**{"Line Item No": 2, "Item Name": "Gabions", "Item Budget": 120_000}),
        s1_row(**{"Reference ID": 0, "Award No.": 7654321, "Notice Title": "Supply of Gravel",
                  "Award Title": "Supply of Gravel", "Awardee Corporate Title": "ROCKS INC.",
                  "Contract Amount": 95_000, "Award Date": dt.datetime(2015, 1, 20)}),
        s1_row(**{"Award Date": "sometime"}),
    ]  # fmt: skip
    path = write_xlsx(tmp_path / "s1.xlsx", S1_HEADER, rows)

    run = import_file(path)

    assert run.status == ImportRun.Status.SUCCEEDED, run.message
    assert run.era == "S1"
    assert (run.rows_read, run.rows_failed, run.notices_new, run.awards_new, run.line_items_new) == (
        4,
        1,
        2,
        2,
        3,
    )
    assert run.errors == [{"line": 8, "reason": "Award Date: 'sometime' is not a date (expected YYYY-MM-DD)"}]
    award = Award.objects.select_related("supplier", "notice").get(award_number="1234567")
    assert award.award_date == dt.date(2014, 4, 11)
    assert award.amount == Decimal("49750123.45")
    assert award.notice.published_date == dt.date(2014, 3, 3)
    assert award.notice.reference_number == "2145678"
    assert award.supplier.name == "JALAUR BUILDERS & SUPPLY"
    assert award.effectivity_date is None
    gabions = LineItem.objects.get(name="Gabions")
    assert gabions.budget == Decimal("120000.00")
    gravel = Award.objects.get(award_number="7654321")
    assert (gravel.award_date, gravel.notice.reference_number) == (dt.date(2015, 1, 20), "")


def test_s2_spreadsheet_is_recognised_by_its_unit_of_measurement_column(tmp_path):
    header = ["Unit of Measurement" if column == "UOM" else column for column in S1_HEADER]
    path = write_xlsx(
        tmp_path / "s2.xlsx", header, [s1_row(), s1_row(**{"Line Item No": 2})], metadata_rows=2
    )

    run = import_file(path)

    assert (run.status, run.era, run.awards_new, run.line_items_new) == (
        ImportRun.Status.SUCCEEDED,
        "S2",
        1,
        2,
    )
    assert set(LineItem.objects.values_list("uom", flat=True)) == {"Lot"}


def test_s4_spreadsheet_with_header_on_the_first_row(tmp_path):
    header, rows = v2_rows()
    path = write_xlsx(tmp_path / "s4.xlsx", header, [list(row) for row in rows[:30]], metadata_rows=0)

    run = import_file(path)

    assert (run.status, run.era, run.rows_read, run.rows_failed) == (
        ImportRun.Status.SUCCEEDED,
        "S4/S5",
        30,
        0,
    )
    assert Award.objects.filter(award_number="5147180", award_date=dt.date(2024, 9, 19)).exists()


def test_a_spreadsheet_without_a_philgeps_header_is_refused(tmp_path):
    path = write_xlsx(tmp_path / "budget.xlsx", ["Item", "Amount"], [["Pens", 100]])

    run = import_file(path)

    assert run.status == ImportRun.Status.REFUSED
    assert set(table_counts().values()) == {0}


def test_copy_text_round_trips_awkward_values_through_postgres():
    from django.db import connection

    from explorer.staging import copy_text

    awkward = [
        "back\\slash",
        "tab\there",
        "line\nbreak",
        "carriage\rreturn",
        "\\N",
        "ñ \u2013 \u201cquoted\u201d",
        "",
    ]
    rows = [(i, text, None if i % 2 else Decimal("12.50")) for i, text in enumerate(awkward)]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_check (i integer, t text, d numeric)")
        with cursor.cursor.copy("COPY copy_check (i, t, d) FROM STDIN") as copy:
            copy.write(copy_text(rows))
        cursor.execute("SELECT i, t, d FROM copy_check ORDER BY i")
        assert cursor.fetchall() == rows

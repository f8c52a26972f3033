"""Reading PhilGEPS "Bid Notice and Award Details" files: formats, eras, cleaning.

This module knows the file formats (REFERENCE.md section 1) and turns raw rows into
clean `Row` values; it never touches the database (explorer/importer.py does).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import hashlib
import html
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

# Fields larger than this are not PhilGEPS data (the largest real description is a few KB);
# the csv module refuses them, and we report the file as damaged.
MAX_FIELD_CHARS = 100_000
# An XLSX member that inflates beyond this, or by more than this ratio, is refused
# before openpyxl parses it (zip bombs).
MAX_XLSX_UNCOMPRESSED = 2 * 1024**3
MAX_XLSX_RATIO = 200
HEADER_SEARCH_ROWS = 20
# What peek_layout() reads of a CSV: the header rows of any real file fit many times over.
PEEK_BYTES = 1 << 20
MIN_HEADER_CELLS = 30

csv.field_size_limit(MAX_FIELD_CHARS)


class NotPhilgepsFile(Exception):
    """The whole file is refused; the message says why in words an analyst understands."""


class RowError(ValueError):
    """One row cannot be imported; the message names the column and the value."""


# Raw header (normalised: lower case, single spaces) -> canonical field. Columns mapped
# to None are read past on purpose: `Created By` and `Awardee Contact Person` are names
# of private persons and are never stored.
COLUMNS: dict[str, str | None] = {
    # agency
    "organization name": "org_name",
    "procuring entity": "org_name",
    "procuring entity (pe)": "org_name",
    "region": "org_region",
    "province": "org_province",
    "city/municipality": "org_city",
    "government branch": "org_branch",
    "pe organization type": "org_type",
    "pe organization type (grouped)": "org_type_group",
    # notice
    "reference id": "reference_number",
    "bid reference no.": "reference_number",
    "solicitation no.": "solicitation_number",
    "notice title": "notice_title",
    "publish date": "published_date",
    "published date": "published_date",
    "classification": "classification",
    "notice type": "notice_type",
    "business category": "category",
    "funding source": "funding_source",
    "funding instrument": "funding_instrument",
    "trade agreement": "trade_agreement",
    "procurement mode": "procurement_mode",
    "approved budget of the contract": "approved_budget",
    "area of delivery": "area",
    "contract duration": "contract_duration",
    "calendar type": "calendar_type",
    "prebid date": "prebid_date",
    "closing date": "closing_date",
    "notice status": "notice_status",
    "bid notice status": "notice_status",
    "list of bidder's": "bidders",
    # line item
    "line item no": "line_number",
    "item name": "item_name",
    "item desc": "item_description",
    "item description": "item_description",
    "quantity": "quantity",
    "uom": "uom",
    "unit of measurement": "uom",
    "item budget": "item_budget",
    # award
    "award no.": "award_number",
    "award reference no.": "award_number",
    "award title": "award_title",
    "unspsc code": "unspsc_code",
    "unspsc description": "unspsc_description",
    "award type": "award_type",
    "awardee corporate title": "supplier_name",
    "awardee organization name": "supplier_name",
    "contract amount": "amount",
    "contract no": "contract_number",
    "publish date(award)": "award_published_date",
    "published date(award)": "award_published_date",
    "award date": "award_date",
    "notice to proceed date": "ntp_date",
    "contract efectivity date": "effectivity_date",
    "contract effectivity date": "effectivity_date",
    "contract end date": "end_date",
    "reason for award": "reason",
    "award status": "award_status",
    "award notice status": "award_status",
    # supplier
    "country of awardee": "supplier_country",
    "region of awardee": "supplier_region",
    "province of awardee": "supplier_province",
    "city/municipality of awardee": "supplier_city",
    "awardee size": "supplier_size",
    "awardee joint venture": "supplier_joint_venture",
    # personal data: never stored
    "created by": None,
    "awardee contact person": None,
}
ORG_HEADERS = {"organization name", "procuring entity", "procuring entity (pe)"}
REQUIRED_FIELDS = ("org_name", "notice_title")
DATE_FIELDS = (
    "published_date",
    "closing_date",
    "prebid_date",
    "award_published_date",
    "award_date",
    "ntp_date",
    "effectivity_date",
    "end_date",
)
MONEY_FIELDS = ("approved_budget", "item_budget", "amount")
# The notice's period start and end as real times where the cell has one (S3 text such as
# `2023-01-11 10:00:00.000`, spreadsheet date-times); the dates above stay dates.
TIME_FIELDS = {"published_date": "published_at", "closing_date": "closing_at"}
# PhilGEPS times are Philippine time (REFERENCE.md section 7: the publisher's zone).
MANILA = dt.timezone(dt.timedelta(hours=8))
NULL_TEXT = {"", "NULL", "null", "Null", "N/A", "n/a", "NONE", "None", "none"}
EXCEL_EPOCH = dt.date(1899, 12, 30)
# Earlier or later than this is a typo, not a date in the procurement history; kept out
# of the data rather than letting year 0024 into charts. 1920 and 2034 exist and are kept.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
MAX_AMOUNT = Decimal("1e16")


def normalise_header(value: Any) -> str:
    return " ".join(str(value or "").split()).lower()


def detect_era(headers: list[str]) -> str:
    names = set(headers)
    if "procuring entity (pe)" in names:
        return "S4/S5"
    if "procuring entity" in names:
        return "S3"
    if "unit of measurement" in names:
        return "S2"
    return "S1"


@dataclass
class Layout:
    era: str
    header_row: int  # 1-based line or sheet row of the header
    columns: dict[int, str]  # cell index -> canonical field

    @functools.cached_property
    def plan(self) -> tuple[tuple[int, str, Callable[[Any], Any]], ...]:
        """(cell index, field, cleaning function) for every mapped column: the hot loop's recipe."""
        cleaners = _cleaners(self.era)
        return tuple((i, field, cleaners[field]) for i, field in self.columns.items())

    @functools.cached_property
    def time_plan(self) -> tuple[tuple[int, str], ...]:
        """(cell index, field) of the dates whose time of day is kept too (TIME_FIELDS)."""
        return tuple((i, TIME_FIELDS[field]) for i, field in self.columns.items() if field in TIME_FIELDS)


def find_layout(rows: list[tuple[int, list[Any]]]) -> Layout:
    """Find the header among the first rows: the first one naming the procuring entity.

    S1/S2 spreadsheets put 2-3 metadata rows above it (REFERENCE.md section 1).
    """
    for number, cells in rows:
        headers = [normalise_header(cell) for cell in cells]
        if not ORG_HEADERS & set(headers):
            continue
        filled = sum(1 for header in headers if header)
        if filled < MIN_HEADER_CELLS and not {"notice title", "award title"} & set(headers):
            continue
        columns = {i: field for i, h in enumerate(headers) if (field := COLUMNS.get(h))}
        missing = [f for f in REQUIRED_FIELDS if f not in columns.values()]
        if missing:
            raise NotPhilgepsFile(
                "The header row has no "
                + " or ".join(_field_label(f) for f in missing)
                + " column, so this is not a PhilGEPS bid notice and award file."
            )
        return Layout(era=detect_era(headers), header_row=number, columns=columns)
    raise NotPhilgepsFile(
        "This is not a PhilGEPS bid notice and award file: none of the first "
        f"{HEADER_SEARCH_ROWS} rows is a header naming the procuring entity "
        "('Procuring Entity', 'Procuring Entity (PE)' or 'Organization Name')."
    )


def _field_label(field: str) -> str:
    labels = {"org_name": "'Procuring Entity' / 'Organization Name'", "notice_title": "'Notice Title'"}
    return labels.get(field, field)


# --- Cleaning values -------------------------------------------------------------------


def clean_text(value: Any) -> str:
    """NULL markers to '', HTML entities decoded (they come upper-cased: &AMP;), spaces collapsed."""
    if value is None:
        return ""
    if type(value) is not str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = str(value)
    if "&" in value:
        value = html.unescape(value)
    text = " ".join(value.split())
    return "" if text in NULL_TEXT else text


def clean_money(value: Any, label: str) -> Decimal | None:
    """A peso amount; NULL, empty and the placeholders 0 / -1 mean unknown."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value)
    else:
        text = clean_text(value).replace(",", "").replace("PHP", "").strip()
        if not text:
            return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise RowError(f"{label}: {clean_text(value)!r} is not an amount") from None
    if not amount.is_finite():
        raise RowError(f"{label}: {text!r} is not an amount")
    if amount <= 0:
        return None
    if amount >= MAX_AMOUNT:
        raise RowError(f"{label}: {text} is larger than any PhilGEPS contract")
    return amount.quantize(Decimal("0.01"))


def clean_quantity(value: Any) -> Decimal | None:
    text = clean_text(value).replace(",", "")
    if not text:
        return None
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        raise RowError(f"Quantity: {text!r} is not a number") from None
    if not quantity.is_finite() or abs(quantity) >= Decimal("1e14"):
        raise RowError(f"Quantity: {text!r} is not a usable number")
    return quantity.quantize(Decimal("0.0001"))


def clean_int(value: Any, label: str) -> int | None:
    text = clean_text(value)
    if not text:
        return None
    try:
        number = int(Decimal(text))
    except (InvalidOperation, ValueError):
        raise RowError(f"{label}: {text!r} is not a whole number") from None
    if abs(number) > 2_000_000_000:
        raise RowError(f"{label}: {text} is out of range")
    return number


def clean_reference(value: Any) -> str:
    """Reference and award numbers: text (Excel would round long ones); `0` means none."""
    text = clean_text(value)
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return "" if text in {"0", "-1"} else text


def clean_date(value: Any, label: str, era: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        day = _excel_serial(value, label)
    else:
        text = clean_text(value)
        if not text:
            return None
        day = _parse_date_text(text, label, era)
    if not MIN_DATE <= day <= MAX_DATE:
        raise RowError(f"{label}: {day.isoformat()} is outside 1900-2100")
    return day


def _excel_serial(value: float, label: str) -> dt.date:
    if not 1 <= value < 2_958_466:
        raise RowError(f"{label}: {value!r} is not an Excel date")
    return EXCEL_EPOCH + dt.timedelta(days=int(value))


def _parse_date_text(text: str, label: str, era: str) -> dt.date:
    try:
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            # S3: 2023-12-18 15:37:53.933 (and ISO dates in any era)
            return dt.date(int(text[0:4]), int(text[5:7]), int(text[8:10]))
        if "/" in text:
            first, second, rest = text.split(" ")[0].split("/")
            year = int(rest[:4])
            a, b = int(first), int(second)
            if era == "S4/S5" or a > 12:
                return dt.date(year, b, a)  # 21/10/2024: day first
            return dt.date(year, a, b)  # spreadsheet text in S1/S2: month first
        if text.replace(".", "", 1).isdigit():
            return _excel_serial(float(text), label)
    except (ValueError, IndexError):
        pass
    expected = "DD/MM/YYYY" if era == "S4/S5" else "YYYY-MM-DD"
    raise RowError(f"{label}: {text!r} is not a date (expected {expected})")


LABELS = {
    "published_date": "Published Date",
    "closing_date": "Closing Date",
    "prebid_date": "PreBid Date",
    "award_published_date": "Published Date(Award)",
    "award_date": "Award Date",
    "ntp_date": "Notice to Proceed Date",
    "effectivity_date": "Contract Effectivity Date",
    "end_date": "Contract End Date",
    "approved_budget": "Approved Budget of the Contract",
    "item_budget": "Item Budget",
    "amount": "Contract Amount",
}


def _clean_bidders(value: Any) -> str:
    # `;`-separated, HTML-escaped, with leading spaces (S3)
    names = (clean_text(name) for name in clean_text(value).split(";"))
    return "\n".join(name for name in names if name)


@functools.cache
def _cleaners(era: str) -> dict[str, Callable[[Any], Any]]:
    """Field -> cleaning function for one era, built once (the per-row loop is hot)."""
    cleaners: dict[str, Callable[[Any], Any]] = {
        field: clean_text for field in set(COLUMNS.values()) if field
    }
    for field in DATE_FIELDS:
        cleaners[field] = functools.partial(clean_date, label=LABELS[field], era=era)
    for field in MONEY_FIELDS:
        cleaners[field] = functools.partial(clean_money, label=LABELS[field])
    cleaners["reference_number"] = cleaners["award_number"] = clean_reference
    cleaners["line_number"] = functools.partial(clean_int, label="Line Item No")
    cleaners["quantity"] = clean_quantity
    cleaners["bidders"] = _clean_bidders
    return cleaners


def clean_time(value: Any) -> dt.datetime | None:
    """The moment in a date cell that carries a time of day, in Philippine time; None for a
    date alone. Exactly midnight counts as a date alone: S1/S2 spreadsheets store every date
    so, and S3 writes `00:00:00.000` on days without a time."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and len(value) >= 16 and value[4] == "-" and value[10] == " ":
        try:
            moment = dt.datetime.fromisoformat(value.strip()[:19])
        except ValueError:
            return None
    else:
        return None
    if moment.time() == dt.time(0) or not MIN_DATE <= moment.date() <= MAX_DATE:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=MANILA)


def clean_row(cells: Sequence[Any], layout: Layout) -> dict[str, Any]:
    """One row's cells to clean values by field; RowError names what is wrong."""
    size = len(cells)
    if size > max(layout.columns):
        row = {field: clean(cells[i]) for i, field, clean in layout.plan}
    else:  # a short row: missing trailing cells are empty
        row = {field: clean(cells[i] if i < size else None) for i, field, clean in layout.plan}
    for i, field in layout.time_plan:
        row[field] = clean_time(cells[i]) if i < size and row.get(f"{field[:-3]}_date") else None
    if not row.get("org_name"):
        raise RowError("Procuring Entity is empty")
    if not row.get("notice_title") and not row.get("award_title"):
        raise RowError("Notice Title is empty")
    return row


def natural_key(*parts: Any) -> str:
    """A stable key for a notice, award or line item: a hash of its identifying values.

    Stored in a UUID column (16 bytes): its unique index is half the size of a text key's
    and needs no LIKE twin, which matters when inserting millions of rows. Returned as 32
    hex digits, which PostgreSQL and Django's UUIDField both read as that UUID.
    """
    joined = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha1(joined.encode("utf-8"), usedforsecurity=False).hexdigest()[:32]


def notice_key(row: dict[str, Any]) -> str:
    # Reference and award numbers are PhilGEPS-wide ids, so the same notice found in a
    # yearly (S3) and a quarterly re-export (S5) file is stored once.
    if row.get("reference_number"):
        return natural_key("ref", row["reference_number"])
    if row.get("award_number"):
        return natural_key("award", row["award_number"])
    return natural_key(
        "fp",
        row["org_name"],
        row.get("notice_title"),
        row.get("published_date"),
        row.get("procurement_mode"),
        row.get("approved_budget"),
    )


def award_key(row: dict[str, Any], notice: str) -> str | None:
    supplier = row.get("supplier_name", "")
    if row.get("award_number"):
        return natural_key("award", row["award_number"], supplier)
    if supplier:
        return natural_key("award-fp", notice, supplier, row.get("amount"), row.get("award_date"))
    return None


def line_item_key(row: dict[str, Any], notice: str, award: str | None) -> str | None:
    if row.get("line_number") is None and not row.get("item_name"):
        return None
    return natural_key("item", notice, row.get("line_number"), row.get("item_name"), award or "")


# --- Reading files ---------------------------------------------------------------------


@dataclass
class Source:
    """An opened PhilGEPS file: its layout, size and a stream of (line, raw row) pairs."""

    layout: Layout
    sha256: str
    total_rows: int | None
    rows: Iterator[tuple[int, Sequence[Any]]]  # (line, cells)


def sniff_format(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise NotPhilgepsFile(
            "This is an old binary Excel (.xls) file; save it as .xlsx or CSV UTF-8 and try again."
        )
    return "csv"


def peek_layout(path: Path) -> Layout:
    """The file's layout from its first rows only: the upload page's quick check.

    A request cannot afford open_source()'s full read of a large CSV; the import still
    checks the whole file before it writes anything.
    """
    if sniff_format(path) == "xlsx":
        import openpyxl

        _check_zip(path)
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for damaged files
            raise NotPhilgepsFile(f"The spreadsheet cannot be opened ({exc.__class__.__name__}).") from None
        try:
            cells = book.worksheets[0].iter_rows(values_only=True, max_row=HEADER_SEARCH_ROWS)
            return find_layout([(number, list(row)) for number, row in enumerate(cells, start=1)])
        finally:
            book.close()
    with open(path, "rb") as handle:
        raw = handle.read(PEEK_BYTES)
    try:
        # Not final: the read may end inside a character.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(raw, final=len(raw) < PEEK_BYTES)
    except UnicodeDecodeError:
        raise NotPhilgepsFile(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' (or .xlsx) and upload it again."
        ) from None
    if len(raw) == PEEK_BYTES:
        if "\n" not in text:  # else the cut below leaves nothing, which reads as "empty"
            raise NotPhilgepsFile(
                f"The first {PEEK_BYTES // 1024**2} MB of the file hold no line break: it is not a "
                "PhilGEPS CSV file."
            )
        text = text[: text.rfind("\n") + 1]  # a cut-off last line would look damaged
    reader = csv.reader(io.StringIO(text))
    head: list[tuple[int, list[Any]]] = []
    try:
        for cells in reader:
            head.append((reader.line_num, cells))
            if len(head) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error as exc:
        raise NotPhilgepsFile(f"Line {reader.line_num} cannot be read as CSV ({exc}).") from None
    if not head:
        raise NotPhilgepsFile("The file is empty.")
    return find_layout(head)


def open_source(path: Path) -> Source:
    """Open and check a file before anything is written: refused files leave no trace."""
    if sniff_format(path) == "xlsx":
        return _open_xlsx(path)
    return _open_csv(path)


def _open_csv(path: Path) -> Source:
    sha256, total_rows = _check_csv(path)
    # Closed by the rows() generator below, which outlives this function.
    handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    reader = csv.reader(handle)
    head: list[tuple[int, list[Any]]] = []
    for cells in reader:
        head.append((reader.line_num, cells))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    layout = find_layout(head)
    data_rows = total_rows - sum(1 for number, _ in head if number <= layout.header_row)

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            previous_end = 0
            for number, cells in head:
                if number > layout.header_row:
                    yield previous_end + 1, cells
                previous_end = number
            for cells in reader:
                # Quoted fields may span lines: report the line the record starts on.
                yield previous_end + 1, cells
                previous_end = reader.line_num
        finally:
            handle.close()

    return Source(layout=layout, sha256=sha256, total_rows=data_rows, rows=rows())


def _check_csv(path: Path) -> tuple[str, int]:
    """Read the whole file once: its hash, its record count, and proof it is sane text.

    Catching bad encodings and damaged quoting here means a refused file never leaves
    half of itself in the database.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk[: exc.start].count(b"\n")
                raise NotPhilgepsFile(
                    f"The file is not UTF-8 text (an invalid byte on line {line}). "
                    "Save it as 'CSV UTF-8' and upload it again."
                ) from None
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise NotPhilgepsFile("The file ends in the middle of a UTF-8 character.") from None
    count = 0
    with open(path, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        try:
            for _ in reader:
                count += 1
        except csv.Error as exc:
            raise NotPhilgepsFile(
                f"Line {reader.line_num} cannot be read as CSV ({exc}); the file may be damaged."
            ) from None
    if count == 0:
        raise NotPhilgepsFile("The file is empty.")
    return digest.hexdigest(), count


def _open_xlsx(path: Path) -> Source:
    import openpyxl  # imported here: CSV-only imports never pay for it

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    _check_zip(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise NotPhilgepsFile(f"The spreadsheet cannot be opened ({exc.__class__.__name__}).") from None
    sheet = book.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    head: list[tuple[int, list[Any]]] = []
    for number, cells in enumerate(iterator, start=1):
        head.append((number, list(cells)))
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    try:
        layout = find_layout(head)
    except NotPhilgepsFile:
        book.close()
        raise
    total = (sheet.max_row - layout.header_row) if sheet.max_row else None

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        try:
            last = 0
            for last, cells in head:
                if last > layout.header_row:
                    yield last, cells
            for number, cells in enumerate(iterator, start=last + 1):
                if any(cell is not None for cell in cells):
                    yield number, cells
        finally:
            book.close()

    return Source(layout=layout, sha256=digest.hexdigest(), total_rows=total, rows=rows())


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names:
                raise NotPhilgepsFile("This zip file is not an Excel workbook.")
            for info in archive.infolist():
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > MAX_XLSX_UNCOMPRESSED or (
                    info.file_size > 10 * 1024**2 and ratio > MAX_XLSX_RATIO
                ):
                    raise NotPhilgepsFile(
                        f"The workbook part {info.filename} would inflate to "
                        f"{info.file_size:,} bytes; refused as a possible zip bomb."
                    )
    except zipfile.BadZipFile:
        raise NotPhilgepsFile("The file looks like a spreadsheet but is not a valid .xlsx.") from None

"""Turning PhilGEPS rows into staged batches; also the import's reader subprocess.

No Django here: `python -m explorer.staging PATH` runs in a child process that parses,
cleans and stages a file and streams ready-to-COPY batches to its parent on stdout. The
parent (explorer/importer.py) then only moves bytes into PostgreSQL, so parsing and the
database each get a CPU core instead of sharing one under the GIL.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from uuid6 import uuid7

from explorer import philgeps
from explorer.frames import serve

BATCH_ROWS = 5000

# Each batch is loaded into scratch tables that name their references (agency name,
# notice key, ...) instead of ids, and one INSERT ... SELECT per table resolves them with
# joins and skips rows already stored (ON CONFLICT DO NOTHING). Python never waits for
# ids, so it can stage the next batch while the database inserts this one.


@dataclass(frozen=True)
class Stage:
    name: str
    columns: tuple[str, ...]
    insert: str  # INSERT ... SELECT from the stage table into the real one
    counter: str | None  # the Counts field that gets the number of rows inserted


def _lookup_stage(name: str, table: str, columns: tuple[str, ...], counter: str | None) -> Stage:
    cols = ", ".join(columns)
    insert = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name} ON CONFLICT (name) DO NOTHING"
    return Stage(name, columns, insert, counter)


# One row type per stage table: the fields are the stage table's columns, in order, so a
# row is built by name and written to COPY as it stands. Fields named after a reference
# (`org_name`, `notice_key`, ...) are resolved to ids by the stage's INSERT ... SELECT.
class OrganizationRow(NamedTuple):
    name: str
    region: str
    province: str
    city: str
    branch: str
    org_type: str
    org_type_group: str
    public_id: str


class SupplierRow(NamedTuple):
    name: str
    country: str
    region: str
    province: str
    city: str
    size: str
    joint_venture: str
    public_id: str


class NameRow(NamedTuple):
    name: str


class NoticeRow(NamedTuple):
    key: str
    reference_number: str
    solicitation_number: str
    title: str
    notice_type: str
    classification: str
    procurement_mode: str
    funding_source: str
    funding_instrument: str
    trade_agreement: str
    approved_budget: Any
    contract_duration: str
    calendar_type: str
    published_date: Any
    closing_date: Any
    prebid_date: Any
    status: str
    bidders: str
    published_at: Any  # the same moments with their time of day, where the file has one
    closing_at: Any
    org_name: str
    category_name: str | None
    area_name: str | None


class AwardRow(NamedTuple):
    key: str
    public_id: str
    award_number: str
    title: str
    amount: Any
    contract_number: str
    award_type: str
    reason: str
    status: str
    unspsc_code: str
    unspsc_description: str
    published_date: Any
    award_date: Any
    ntp_date: Any
    effectivity_date: Any
    end_date: Any
    procurement_mode: str
    notice_status: str
    search_text: str
    notice_key: str
    supplier_name: str | None
    org_name: str
    category_name: str | None
    area_name: str | None


class LineItemRow(NamedTuple):
    key: str
    line_number: Any
    name: str
    description: str
    quantity: Any
    uom: str
    budget: Any
    notice_key: str
    award_key: str | None


_REFERENCES = frozenset(
    {"key", "org_name", "category_name", "area_name", "notice_key", "supplier_name", "award_key"}
)
_LOOKUP_JOINS = (
    "JOIN explorer_organization o ON o.name = s.org_name "
    "LEFT JOIN explorer_businesscategory c ON c.name = s.category_name "
    "LEFT JOIN explorer_area a ON a.name = s.area_name"
)


def _own_fields(columns: tuple[str, ...], prefix: str = "") -> str:
    """A row's own columns (not its references), as a SELECT or INSERT column list."""
    names = [name for name in columns if name not in _REFERENCES]
    return ", ".join(f"{prefix}{name}" for name in names)


STAGES = (
    _lookup_stage(
        "import_stage_organization", "explorer_organization", OrganizationRow._fields, "organizations_new"
    ),
    _lookup_stage("import_stage_supplier", "explorer_supplier", SupplierRow._fields, "suppliers_new"),
    _lookup_stage("import_stage_category", "explorer_businesscategory", NameRow._fields, None),
    _lookup_stage("import_stage_area", "explorer_area", NameRow._fields, None),
    Stage(
        "import_stage_notice",
        NoticeRow._fields,
        f"INSERT INTO explorer_notice (key, {_own_fields(NoticeRow._fields)}, organization_id, category_id, "
        f"area_id) SELECT s.key, {_own_fields(NoticeRow._fields, 's.')}, o.id, c.id, a.id "
        f"FROM import_stage_notice s {_LOOKUP_JOINS} ON CONFLICT (key) DO NOTHING",
        "notices_new",
    ),
    Stage(
        "import_stage_award",
        AwardRow._fields,
        f"INSERT INTO explorer_award (key, {_own_fields(AwardRow._fields)}, notice_id, supplier_id, "
        f"organization_id, category_id, area_id) SELECT s.key, {_own_fields(AwardRow._fields, 's.')}, "
        f"n.id, sp.id, o.id, c.id, a.id FROM import_stage_award s "
        f"JOIN explorer_notice n ON n.key = s.notice_key "
        f"LEFT JOIN explorer_supplier sp ON sp.name = s.supplier_name {_LOOKUP_JOINS} "
        f"ON CONFLICT (key) DO NOTHING",
        "awards_new",
    ),
    Stage(
        "import_stage_lineitem",
        LineItemRow._fields,
        f"INSERT INTO explorer_lineitem (key, {_own_fields(LineItemRow._fields)}, notice_id, award_id) "
        f"SELECT s.key, {_own_fields(LineItemRow._fields, 's.')}, n.id, aw.id FROM import_stage_lineitem s "
        f"JOIN explorer_notice n ON n.key = s.notice_key LEFT JOIN explorer_award aw ON aw.key = s.award_key "
        f"ON CONFLICT (key) DO NOTHING",
        "line_items_new",
    ),
)


# Public ids of imported rows are time-ordered UUIDs (RFC 9562 version 7): new rows land at
# the right edge of their unique index instead of on a random page of it, which kept
# evicting index pages from PostgreSQL's cache as the tables grew (bench/import_bench.py).
class Stager:
    """Turns clean rows into stage rows: one per distinct agency, supplier, notice, award, item.

    Lives in the reader thread. Remembers the lookup names it already staged (bounded) so
    that every batch does not send the same agencies again.
    """

    SEEN_LIMIT = 200_000

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {stage.name: set() for stage in STAGES[:4]}

    def _new_name(self, stage: str, name: str) -> bool:
        seen = self.seen[stage]
        if name in seen:
            return False
        if len(seen) > self.SEEN_LIMIT:
            seen.clear()
        seen.add(name)
        return True

    def stage(self, rows: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, dict[Any, tuple[Any, ...]]] = {stage.name: {} for stage in STAGES}
        orgs, suppliers, categories, areas, notices, awards, items = out.values()
        for row in rows:
            org = row["org_name"][:255]
            supplier = (row.get("supplier_name") or "")[:255] or None
            category = (row.get("category") or "")[:255] or None
            area = (row.get("area") or "")[:255] or None
            if self._new_name("import_stage_organization", org):
                orgs[org] = OrganizationRow(
                    name=org,
                    region=_cut(row, "org_region", 100),
                    province=_cut(row, "org_province", 100),
                    city=_cut(row, "org_city", 100),
                    branch=_cut(row, "org_branch", 100),
                    org_type=_cut(row, "org_type", 150),
                    org_type_group=_cut(row, "org_type_group", 150),
                    public_id=uuid7().hex,
                )
            if supplier and self._new_name("import_stage_supplier", supplier):
                suppliers[supplier] = SupplierRow(
                    name=supplier,
                    country=_cut(row, "supplier_country", 100),
                    region=_cut(row, "supplier_region", 100),
                    province=_cut(row, "supplier_province", 100),
                    city=_cut(row, "supplier_city", 100),
                    size=_cut(row, "supplier_size", 50),
                    joint_venture=_cut(row, "supplier_joint_venture", 255),
                    public_id=uuid7().hex,
                )
            if category and self._new_name("import_stage_category", category):
                categories[category] = NameRow(category)
            if area and self._new_name("import_stage_area", area):
                areas[area] = NameRow(area)

            notice = philgeps.notice_key(row)
            if notice not in notices:
                notices[notice] = NoticeRow(
                    key=notice,
                    reference_number=_cut(row, "reference_number", 32),
                    solicitation_number=_cut(row, "solicitation_number", 100),
                    title=row.get("notice_title") or row.get("award_title", ""),
                    notice_type=_cut(row, "notice_type", 150),
                    classification=_cut(row, "classification", 100),
                    procurement_mode=_cut(row, "procurement_mode", 150),
                    funding_source=_cut(row, "funding_source", 255),
                    funding_instrument=_cut(row, "funding_instrument", 255),
                    trade_agreement=_cut(row, "trade_agreement", 255),
                    approved_budget=row.get("approved_budget"),
                    contract_duration=_cut(row, "contract_duration", 50),
                    calendar_type=_cut(row, "calendar_type", 50),
                    published_date=row.get("published_date"),
                    closing_date=row.get("closing_date"),
                    prebid_date=row.get("prebid_date"),
                    status=_cut(row, "notice_status", 50),
                    bidders=row.get("bidders", ""),
                    published_at=row.get("published_at"),
                    closing_at=row.get("closing_at"),
                    org_name=org,
                    category_name=category,
                    area_name=area,
                )
            award = philgeps.award_key(row, notice)
            if award is not None and award not in awards:
                title = row.get("award_title") or row.get("notice_title", "")
                search_parts = (title, row.get("notice_title", ""), org, supplier or "")
                awards[award] = AwardRow(
                    key=award,
                    public_id=uuid7().hex,
                    award_number=_cut(row, "award_number", 32),
                    title=title,
                    amount=row.get("amount"),
                    contract_number=_cut(row, "contract_number", 100),
                    award_type=_cut(row, "award_type", 150),
                    reason=row.get("reason", ""),
                    status=_cut(row, "award_status", 50),
                    unspsc_code=_cut(row, "unspsc_code", 20),
                    unspsc_description=_cut(row, "unspsc_description", 255),
                    published_date=row.get("award_published_date"),
                    award_date=row.get("award_date"),
                    ntp_date=row.get("ntp_date"),
                    effectivity_date=row.get("effectivity_date"),
                    end_date=row.get("end_date"),
                    procurement_mode=_cut(row, "procurement_mode", 150),
                    notice_status=_cut(row, "notice_status", 50),
                    search_text=" ".join(dict.fromkeys(part for part in search_parts if part)),
                    notice_key=notice,
                    supplier_name=supplier,
                    org_name=org,
                    category_name=category,
                    area_name=area,
                )
            item = philgeps.line_item_key(row, notice, award)
            if item is not None and item not in items:
                items[item] = LineItemRow(
                    key=item,
                    line_number=row.get("line_number"),
                    name=row.get("item_name", ""),
                    description=row.get("item_description", ""),
                    quantity=row.get("quantity"),
                    uom=_cut(row, "uom", 100),
                    budget=row.get("item_budget"),
                    notice_key=notice,
                    award_key=award,
                )
        return {name: list(staged.values()) for name, staged in out.items()}


def _cut(row: dict[str, Any], field: str, size: int) -> str:
    """A text value cut to its column's size (PhilGEPS names are already cut at 50-60)."""
    return (row.get(field) or "")[:size]


def pg_type(column: str) -> str:
    """The PostgreSQL type of a stage column (COPY parses text into it)."""
    if column in _PG_TYPES:
        return _PG_TYPES[column]
    return "date" if column.endswith("_date") else "text"


_PG_TYPES = {
    "key": "uuid", "public_id": "uuid", "notice_key": "uuid", "award_key": "uuid",
    "approved_budget": "numeric", "amount": "numeric", "quantity": "numeric", "budget": "numeric",
    "line_number": "integer", "published_at": "timestamptz", "closing_at": "timestamptz",
}  # fmt: skip


@dataclass
class Chunk:
    """One batch: its rows per stage table, the rows refused, the rows read so far."""

    stages: dict[str, list[tuple[Any, ...]]]
    errors: list[tuple[int, str]]
    rows_read: int  # rows read so far, this chunk included


@dataclass
class CopyChunk:
    """A Chunk as the parent receives it: each stage's rows as COPY text."""

    stages: dict[str, bytes]
    errors: list[tuple[int, str]]
    rows_read: int


def chunks(source: philgeps.Source) -> Iterator[Chunk]:
    """Clean and stage a source, BATCH_ROWS rows at a time (rows with errors are reported)."""
    stager = Stager()
    layout = source.layout
    rows: list[dict[str, Any]] = []
    errors: list[tuple[int, str]] = []
    read = 0
    try:
        for line, cells in source.rows:
            read += 1
            try:
                rows.append(philgeps.clean_row(cells, layout))
            except philgeps.RowError as exc:
                errors.append((line, str(exc)))
            if len(rows) >= BATCH_ROWS:
                yield Chunk(stager.stage(rows), errors, read)
                rows, errors = [], []
        yield Chunk(stager.stage(rows), errors, read)
    finally:
        source.rows.close()  # type: ignore[attr-defined]  # a generator; Source types it as an Iterator


def copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows in PostgreSQL's COPY text format (tab-separated, \\N for NULL)."""
    lines = []
    for row in rows:
        fields = []
        for value in row:
            if value is None:
                fields.append("\\N")
            elif type(value) is str:
                # Most values need no escaping; four substring tests are cheaper than
                # always rewriting the string.
                if "\\" in value or "\n" in value or "\t" in value or "\r" in value:
                    value = (
                        value.replace("\\", "\\\\")
                        .replace("\n", "\\n")
                        .replace("\t", "\\t")
                        .replace("\r", "\\r")
                    )
                fields.append(value)
            else:  # Decimal, date and int print as PostgreSQL reads them
                fields.append(str(value))
        lines.append("\t".join(fields))
    lines.append("")
    return "\n".join(lines).encode("utf-8")


def main(path: str) -> int:
    return serve(_import_frames(path))


def _import_frames(path: str) -> Iterator[tuple[str, object]]:
    try:
        source = philgeps.open_source(Path(path))
    except philgeps.NotPhilgepsFile as exc:
        yield "refused", str(exc)
        return
    except OSError as exc:
        yield "refused", f"The file cannot be read: {exc.strerror}."
        return
    yield "layout", {"era": source.layout.era, "sha256": source.sha256, "total_rows": source.total_rows}
    for chunk in chunks(source):
        stages = {name: copy_text(rows) for name, rows in chunk.stages.items() if rows}
        # Plain data only: this module runs as __main__ here, so its classes would not
        # unpickle in the parent.
        yield "chunk", (stages, chunk.errors, chunk.rows_read)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

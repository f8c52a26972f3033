"""The contract of a procurement indicator (one module per indicator in this package).

An indicator is computed in the database, set-based, over every process or only over the
processes an import touched (a `Scope`). It writes IndicatorResult rows (code, scope,
notice/award/organization/supplier, value, evidence); explorer/indicators/engine.py
then refreshes the `flags` arrays of the awards and notices concerned. A result is a
deviation worth a look, with its evidence, against a stated baseline: never a verdict.

Most indicators judge a notice on its own rows (and a few neighbours, `related()`): a
SelectIndicator says its results in one SELECT, and its results in scope are deleted and
inserted again. Those whose results depend on rows far from the import (a fence over all
suppliers, windows across notices, category percentiles) implement `write()` themselves,
from stored baselines, writing only the rows that differ (`write_results()`). Either way an
incremental run leaves the same results as a run from scratch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from django.conf import settings

ResultScope = Literal["process", "award", "supplier"]

# The temporary table of notice ids an incremental run covers (engine.py fills it).
WORK_TABLE = "indicator_work"
# The temporary table of notices whose flags may change (engine.py refreshes them at the end).
DIRTY_TABLE = "indicator_dirty"
# The temporary table of an indicator's new results that write_results() stores.
NEW_TABLE = "indicator_new"
RESULT_COLUMNS = "notice_id, award_id, organization_id, supplier_id, value, evidence"
# Awards and notices whose PhilGEPS status says they were cancelled take no part.
NOT_CANCELLED = "NOT ({column} ILIKE 'cancel%%')"


@dataclass(frozen=True)
class Scope:
    """Every process (`full`), or the notices in WORK_TABLE."""

    full: bool

    def on(self, column: str) -> str:
        """SQL true for the rows whose notice id (`column`) is in scope."""
        return "TRUE" if self.full else f"{column} IN (SELECT notice_id FROM {WORK_TABLE})"


def prefix_condition(column: str, prefixes: list[str] | tuple[str, ...]) -> tuple[str, list[str]]:
    """SQL true when `column` starts with one of `prefixes` (case-insensitive), and its params."""
    if not prefixes:
        return "FALSE", []
    escaped = [p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for p in prefixes]
    return "(" + " OR ".join(f"{column} ILIKE %s" for _ in escaped) + ")", escaped


def competitive(column: str) -> tuple[str, list[str]]:
    """Open or selective modes (settings.INDICATOR_COMPETITIVE_MODES)."""
    return prefix_condition(column, settings.INDICATOR_COMPETITIVE_MODES)


class Indicator(ABC):
    """One indicator. Subclasses set the class attributes and implement `write`, or are
    SelectIndicators and implement `select`."""

    code: ClassVar[str]
    label: ClassVar[str]
    explanation: ClassVar[str]  # one plain-language sentence, shown with every badge
    source: ClassVar[str]  # Cardinal code, DIGIWHIST/opentender, ProZorro, RA 9184 section
    scope: ClassVar[ResultScope]

    def settings(self) -> dict[str, Any]:
        """The settings it reads, by name (shown on the pages and written in the output)."""
        return {}

    def related(self) -> str | None:
        """SQL selecting further notice ids whose result may change when the notices in
        WORK_TABLE change (neighbours in time, same entity...), or None."""
        return None

    @abstractmethod
    def write(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        """Compute every result (scope.full), or bring the stored ones up to date after the
        notices in WORK_TABLE changed, so that they equal a run from scratch; add the
        notices whose flags may change to DIRTY_TABLE; return the meta (baselines computed
        on the way), JSON-ready."""


class SelectIndicator(Indicator):
    """An indicator whose results in a scope are one SELECT: they are deleted in scope and
    inserted again, and every notice in the work scope may change flags."""

    @abstractmethod
    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        """The SELECT of notice_id, award_id, organization_id, supplier_id, value, evidence
        of this indicator's results in `scope`, and its params."""

    def write(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        if not scope.full:
            cursor.execute(
                f"INSERT INTO {DIRTY_TABLE} SELECT notice_id FROM {WORK_TABLE} ON CONFLICT DO NOTHING"
            )
        where = "code = %s" if scope.full else f"code = %s AND {scope.on('notice_id')}"
        cursor.execute(f"DELETE FROM explorer_indicatorresult WHERE {where}", [self.code])
        sql, params = self.select(scope)
        cursor.execute(
            "INSERT INTO explorer_indicatorresult (code, scope, notice_id, award_id, organization_id, "
            "supplier_id, value, evidence, computed_at) "
            f"SELECT %s, %s, q.notice_id, q.award_id, q.organization_id, q.supplier_id, q.value, "
            f"q.evidence, now() FROM ({sql}) q",
            [self.code, self.scope, *params],
        )
        return {}


def new_results(cursor: Any, sql: str | None = None, params: list[Any] | None = None) -> None:
    """An empty NEW_TABLE, filled with the rows of `sql` (a SELECT of RESULT_COLUMNS) if given."""
    cursor.execute(f"DROP TABLE IF EXISTS {NEW_TABLE}")
    cursor.execute(
        f"CREATE TEMP TABLE {NEW_TABLE} (notice_id bigint, award_id bigint, organization_id bigint, "
        "supplier_id bigint, value float, evidence jsonb) ON COMMIT DROP"
    )
    if sql is not None:
        cursor.execute(f"INSERT INTO {NEW_TABLE} SELECT {RESULT_COLUMNS} FROM ({sql}) q", params or [])


def write_results(cursor: Any, indicator: Indicator, region: str, params: list[Any] | None = None) -> None:
    """Make the stored results of `indicator` in `region` (an SQL condition on the stored
    row `r`) equal the rows of NEW_TABLE: delete the stored rows no new row repeats, insert
    the new rows not stored yet, and leave identical rows alone. The notices of the rows
    deleted or inserted (for a supplier's row, the notices of its awards) go to DIRTY_TABLE."""
    cursor.execute(f"ANALYZE {NEW_TABLE}")
    # The row's key column first: an equality the anti-joins can hash or look up.
    key = {"process": "notice_id", "award": "award_id", "supplier": "supplier_id"}[indicator.scope]
    same = (
        f"x.{key} = r.{key} AND x.notice_id IS NOT DISTINCT FROM r.notice_id "
        "AND x.award_id IS NOT DISTINCT FROM r.award_id "
        "AND x.organization_id IS NOT DISTINCT FROM r.organization_id "
        "AND x.supplier_id IS NOT DISTINCT FROM r.supplier_id "
        "AND x.value = r.value AND x.evidence = r.evidence"
    )
    cursor.execute("DROP TABLE IF EXISTS indicator_changed")
    cursor.execute(
        "CREATE TEMP TABLE indicator_changed ON COMMIT DROP AS WITH gone AS ("
        f"DELETE FROM explorer_indicatorresult r WHERE r.code = %s AND {region} "
        f"AND NOT EXISTS (SELECT 1 FROM {NEW_TABLE} x WHERE {same}) RETURNING r.notice_id, r.supplier_id) "
        "SELECT * FROM gone",
        [indicator.code, *(params or [])],
    )
    cursor.execute(
        "WITH added AS (INSERT INTO explorer_indicatorresult (code, scope, "
        f"{RESULT_COLUMNS}, computed_at) SELECT %s, %s, x.*, now() FROM {NEW_TABLE} x "
        f"WHERE NOT EXISTS (SELECT 1 FROM explorer_indicatorresult r WHERE r.code = %s AND {same}) "
        "RETURNING notice_id, supplier_id) INSERT INTO indicator_changed SELECT * FROM added",
        [indicator.code, indicator.scope, indicator.code],
    )
    cursor.execute(
        f"INSERT INTO {DIRTY_TABLE} SELECT notice_id FROM indicator_changed WHERE notice_id IS NOT NULL "
        "UNION SELECT a.notice_id FROM indicator_changed c "
        "JOIN explorer_award a ON a.supplier_id = c.supplier_id "
        "WHERE c.notice_id IS NULL ON CONFLICT DO NOTHING"
    )

"""The contract of a procurement indicator (one module per indicator in this package).

An indicator is computed in the database, set-based, over every process or only over the
processes an import touched (a `Scope`). It writes IndicatorResult rows (code, scope,
notice/award/organization/supplier, value, evidence); explorer/indicators/engine.py
then refreshes the `flags` arrays of the awards and notices concerned. A result is a
deviation worth a look, with its evidence, against a stated baseline: never a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from django.conf import settings

ResultScope = Literal["process", "award", "supplier"]

# The temporary table of notice ids an incremental run covers (engine.py fills it).
WORK_TABLE = "indicator_work"
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


class Indicator:
    """One indicator. Subclasses set the class attributes and implement `select` (one
    SELECT of notice_id, award_id, organization_id, supplier_id, value, evidence) or
    override `insert`."""

    code: ClassVar[str]
    label: ClassVar[str]
    explanation: ClassVar[str]  # one plain-language sentence, shown with every badge
    source: ClassVar[str]  # Cardinal code, DIGIWHIST/opentender, ProZorro, RA 9184 section
    scope: ClassVar[ResultScope]
    # True when the results depend on the whole data (quartiles, percentiles): an
    # incremental run recomputes it everywhere (still one set-based statement).
    always_full: ClassVar[bool] = False

    def settings(self) -> dict[str, Any]:
        """The settings it reads, by name (shown on the pages and written in the output)."""
        return {}

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        """The SELECT of this indicator's results in `scope`, for the default insert().
        An indicator implements this or, when one SELECT cannot say it (R048's quartiles
        over every supplier), insert() itself."""
        raise NotImplementedError(f"{type(self).__name__} implements neither select() nor insert()")

    def related(self) -> str | None:
        """SQL selecting further notice ids whose result may change when the notices in
        WORK_TABLE change (neighbours in time, same entity...), or None."""
        return None

    def insert(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        """Write this indicator's results for `scope` (the old ones are already deleted);
        return its meta (baselines computed on the way), JSON-ready."""
        sql, params = self.select(scope)
        cursor.execute(
            "INSERT INTO explorer_indicatorresult (code, scope, notice_id, award_id, organization_id, "
            "supplier_id, value, evidence, computed_at) "
            f"SELECT %s, %s, q.notice_id, q.award_id, q.organization_id, q.supplier_id, q.value, "
            f"q.evidence, now() FROM ({sql}) q",
            [self.code, self.scope, *params],
        )
        return {}

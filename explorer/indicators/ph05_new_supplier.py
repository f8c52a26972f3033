"""PH05 new supplier, large award."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Indicator, Scope

# A category's percentile is a baseline only over this many awards with an amount.
MIN_CATEGORY_AWARDS = 20


class NewSupplierLargeAward(Indicator):
    code = "PH05"
    label = "New supplier, large award"
    explanation = (
        "An award above its business category's 90th percentile to a supplier whose first award in "
        "the data came less than a year before."
    )
    source = "ProZorro / DIGIWHIST supplier-history risk indicators"
    scope = "award"
    # The category percentiles are over all awards, every run; an incremental run judges the
    # awards of the suppliers it touched against them (an `indicators` job re-judges all).

    def related(self) -> str | None:
        # A supplier's first award may move with an import: all its awards are judged again.
        return (
            "SELECT b.notice_id FROM explorer_award b WHERE b.supplier_id IN (SELECT s.supplier_id "
            f"FROM explorer_award s WHERE s.notice_id IN (SELECT notice_id FROM {WORK_TABLE}))"
        )

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_NEW_SUPPLIER_DAYS": settings.INDICATOR_NEW_SUPPLIER_DAYS,
            "INDICATOR_NEW_SUPPLIER_PERCENTILE": settings.INDICATOR_NEW_SUPPLIER_PERCENTILE,
        }

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        cancelled = NOT_CANCELLED.format(column="a.status")
        touched = (
            ""
            if scope.full
            else " AND a.supplier_id IN (SELECT s.supplier_id FROM explorer_award s "
            f"WHERE {scope.on('s.notice_id')})"
        )
        sql = (
            "WITH p AS (SELECT a.category_id, percentile_cont(%s) WITHIN GROUP (ORDER BY a.amount) AS cut "
            f"FROM explorer_award a WHERE a.amount IS NOT NULL AND a.category_id IS NOT NULL AND {cancelled} "
            "GROUP BY a.category_id HAVING count(*) >= %s), "
            "f AS (SELECT a.supplier_id, min(a.award_date) AS first FROM explorer_award a "
            f"WHERE a.supplier_id IS NOT NULL AND a.award_date IS NOT NULL AND {cancelled}{touched} "
            "GROUP BY a.supplier_id) "
            "SELECT a.notice_id, a.id AS award_id, a.organization_id, a.supplier_id, 1.0::float AS value, "
            "jsonb_build_object('amount', a.amount, 'category_cut', round(p.cut::numeric, 2), "
            "'percentile', %s::float, 'first_award', f.first, 'days_since_first', a.award_date - f.first, "
            "'window_days', %s::int) AS evidence "
            "FROM explorer_award a JOIN p ON p.category_id = "
            "a.category_id JOIN f ON f.supplier_id = a.supplier_id "
            f"WHERE {scope.on('a.notice_id')} AND {cancelled} AND a.amount > p.cut "
            "AND a.award_date IS NOT NULL AND a.award_date - f.first < %s"
        )
        pct, days = settings.INDICATOR_NEW_SUPPLIER_PERCENTILE, settings.INDICATOR_NEW_SUPPLIER_DAYS
        return sql, [pct, MIN_CATEGORY_AWARDS, pct, days, days]

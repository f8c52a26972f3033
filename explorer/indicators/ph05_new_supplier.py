"""PH05 new supplier, large award.

Its baselines are stored: each category's percentile (CategoryCut) and each supplier's
first award (SupplierStats, supplier_stats.py). An incremental run recomputes the
percentiles of the categories the import touched (an index-only scan of each, through
award_category_amount) and the touched suppliers' first awards, then judges again only the
awards whose verdict or evidence can have changed: those on the touched notices, every
award of a supplier whose first award moved, and in a category whose percentile moved its
flagged awards (their evidence names the percentile) and the awards between the old and the
new percentile. So the results equal a run from scratch after every import.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators import supplier_stats
from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Indicator, Scope, new_results, write_results

# A category's percentile is a baseline only over this many awards with an amount.
MIN_CATEGORY_AWARDS = 20
JUDGED = "ph05_judged"


class NewSupplierLargeAward(Indicator):
    code = "PH05"
    label = "New supplier, large award"
    explanation = (
        "An award above its business category's 90th percentile to a supplier whose first award in "
        "the data came less than a year before."
    )
    source = "ProZorro / DIGIWHIST supplier-history risk indicators"
    scope = "award"
    refreshes = True

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_NEW_SUPPLIER_DAYS": settings.INDICATOR_NEW_SUPPLIER_DAYS,
            "INDICATOR_NEW_SUPPLIER_PERCENTILE": settings.INDICATOR_NEW_SUPPLIER_PERCENTILE,
        }

    def refresh(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        rebuilt = supplier_stats.refresh(cursor, scope)
        cursor.execute("SELECT EXISTS (SELECT 1 FROM explorer_categorycut)")
        if scope.full or rebuilt or not cursor.fetchone()[0]:
            cursor.execute("DELETE FROM explorer_categorycut")
            cursor.execute(
                f"INSERT INTO explorer_categorycut (category_id, awards, cut) {_cuts('TRUE')}", _cut_params()
            )
            sql, params = _judge("TRUE")
            new_results(cursor, sql, params)
            write_results(cursor, self, "TRUE")
            return {}
        cursor.execute("DROP TABLE IF EXISTS ph05_cuts")
        cursor.execute(
            "CREATE TEMP TABLE ph05_cuts ON COMMIT DROP AS "
            "SELECT t.category_id, o.cut AS old, NULL::float AS new "
            "FROM (SELECT DISTINCT category_id FROM explorer_award "
            f"WHERE notice_id IN (SELECT notice_id FROM {WORK_TABLE}) AND category_id IS NOT NULL) t "
            "LEFT JOIN explorer_categorycut o ON o.category_id = t.category_id"
        )
        cursor.execute(
            "DELETE FROM explorer_categorycut WHERE category_id IN (SELECT category_id FROM ph05_cuts)"
        )
        cursor.execute(
            "INSERT INTO explorer_categorycut (category_id, awards, cut) "
            f"{_cuts('a.category_id IN (SELECT category_id FROM ph05_cuts)')}",
            _cut_params(),
        )
        cursor.execute(
            "UPDATE ph05_cuts m SET new = c.cut FROM explorer_categorycut c "
            "WHERE c.category_id = m.category_id"
        )
        cursor.execute("DELETE FROM ph05_cuts WHERE old IS NOT DISTINCT FROM new")
        cursor.execute("ANALYZE ph05_cuts")
        moved = (
            f"SELECT t.supplier_id FROM {supplier_stats.TOUCHED} t JOIN explorer_supplierstats s "
            "ON s.supplier_id = t.supplier_id WHERE s.first_award IS DISTINCT FROM t.old_first"
        )
        cursor.execute(f"DROP TABLE IF EXISTS {JUDGED}")
        cursor.execute(
            f"CREATE TEMP TABLE {JUDGED} ON COMMIT DROP AS "
            f"SELECT id FROM explorer_award WHERE notice_id IN (SELECT notice_id FROM {WORK_TABLE}) "
            # Suppliers whose first award moved: all their awards.
            f"UNION SELECT a.id FROM explorer_award a WHERE a.supplier_id IN ({moved}) "
            # Categories whose percentile moved: their flagged awards, and those in between
            # (widened to whole pesos: the amounts are numeric, the percentile a float).
            "UNION SELECT r.award_id FROM explorer_indicatorresult r "
            "JOIN explorer_award a ON a.id = r.award_id "
            "WHERE r.code = %s AND a.category_id IN (SELECT category_id FROM ph05_cuts) "
            "UNION SELECT a.id FROM ph05_cuts m JOIN explorer_award a ON a.category_id = m.category_id "
            "WHERE m.new IS NOT NULL AND a.category_id IS NOT NULL AND a.amount IS NOT NULL "
            "AND a.amount >= floor(least(m.old, m.new))::numeric "
            "AND (m.old IS NULL OR a.amount <= ceil(greatest(m.old, m.new))::numeric)",
            [self.code],
        )
        cursor.execute(f"ALTER TABLE {JUDGED} ADD PRIMARY KEY (id)")
        cursor.execute(f"ANALYZE {JUDGED}")
        sql, params = _judge(f"a.id IN (SELECT id FROM {JUDGED})")
        new_results(cursor, sql, params)
        write_results(cursor, self, f"r.award_id IN (SELECT id FROM {JUDGED})")
        return {}


def _cuts(where: str) -> str:
    """The SELECT of CategoryCut rows for the categories of the awards where `where`."""
    return (
        "SELECT a.category_id, count(*), percentile_cont(%s) WITHIN GROUP (ORDER BY a.amount) "
        "FROM explorer_award a WHERE a.amount IS NOT NULL AND a.category_id IS NOT NULL "
        f"AND {NOT_CANCELLED.format(column='a.status')} AND {where} "
        "GROUP BY a.category_id HAVING count(*) >= %s"
    )


def _cut_params() -> list[Any]:
    return [settings.INDICATOR_NEW_SUPPLIER_PERCENTILE, MIN_CATEGORY_AWARDS]


def _judge(where: str) -> tuple[str, list[Any]]:
    """The SELECT of the results among the awards where `where`, against the stored baselines."""
    cancelled = NOT_CANCELLED.format(column="a.status")
    pct, days = settings.INDICATOR_NEW_SUPPLIER_PERCENTILE, settings.INDICATOR_NEW_SUPPLIER_DAYS
    sql = (
        "SELECT a.notice_id, a.id AS award_id, a.organization_id, a.supplier_id, 1.0::float AS value, "
        "jsonb_build_object('amount', a.amount, 'category_cut', round(p.cut::numeric, 2), "
        "'percentile', %s::float, 'first_award', f.first_award, "
        "'days_since_first', a.award_date - f.first_award, 'window_days', %s::int) AS evidence "
        "FROM explorer_award a JOIN explorer_categorycut p ON p.category_id = a.category_id "
        "JOIN explorer_supplierstats f ON f.supplier_id = a.supplier_id "
        f"WHERE {where} AND {cancelled} AND a.amount > p.cut "
        "AND a.award_date IS NOT NULL AND a.award_date - f.first_award < %s"
    )
    return sql, [pct, days, days]

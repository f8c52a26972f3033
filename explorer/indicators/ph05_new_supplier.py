"""PH05 new supplier, large award.

Its baselines are stored: each category's percentile (CategoryCut) and each supplier's
first award (SupplierStats, supplier_stats.py). A category's percentile is read from the
award_category_amount index at two ranks; an import moves those ranks by at most its own
awards in the category, so the stored amount at the rank (`anchor`) and the count below it
let the new percentile be read by stepping from the anchor over about as many index
entries as the import added, not by scanning the category. Then only the awards whose
verdict or evidence can have changed are judged again: those on the touched notices, every
award of a supplier whose first award moved, and in a category whose percentile moved its
flagged awards (their evidence names the percentile) and the awards between the old and
the new percentile. So the results equal a run from scratch after every import.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings

import explorer.indicators.supplier_stats as supplier_stats
from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Indicator, Scope, new_results, write_results

# A category's percentile is a baseline only over this many awards with an amount.
MIN_CATEGORY_AWARDS = 20
JUDGED = "ph05_judged"
# The live amounts of one category, in the order of the award_category_amount index.
AMOUNTS = (
    "FROM explorer_award a WHERE a.category_id = %s AND a.amount IS NOT NULL "
    f"AND {NOT_CANCELLED.format(column='a.status')}"
)


class Cut(NamedTuple):
    """A CategoryCut row: n amounts, the one at rank floor(p (n - 1)) and the count below it."""

    awards: int
    cut: float | None
    anchor: Decimal | None
    below: int


class NewSupplierLargeAward(Indicator):
    code = "PH05"
    label = "New supplier, large award"
    explanation = (
        "An award above its business category's 90th percentile to a supplier whose first award in "
        "the data came less than a year before."
    )
    source = "ProZorro / DIGIWHIST supplier-history risk indicators"
    scope = "award"

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_NEW_SUPPLIER_DAYS": settings.INDICATOR_NEW_SUPPLIER_DAYS,
            "INDICATOR_NEW_SUPPLIER_PERCENTILE": settings.INDICATOR_NEW_SUPPLIER_PERCENTILE,
        }

    def write(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        rebuilt = supplier_stats.refresh(cursor, scope)
        cursor.execute(
            "SELECT COALESCE(max(id), 0), EXISTS (SELECT 1 FROM explorer_categorycut) FROM explorer_award"
        )
        last, built = cursor.fetchone()
        if scope.full or rebuilt or not built:
            cursor.execute("DELETE FROM explorer_categorycut")
            cursor.execute(
                "SELECT c.id FROM explorer_businesscategory c "
                "WHERE EXISTS (SELECT 1 FROM explorer_award a WHERE a.category_id = c.id)"
            )
            for (category,) in cursor.fetchall():
                _store(cursor, category, _whole(cursor, category), last)
            new_results(cursor, *_judge("TRUE"))
            write_results(cursor, self, "TRUE")
            return {}
        moved_cuts = self._move_cuts(cursor, last)
        cursor.execute("DROP TABLE IF EXISTS ph05_cuts")
        cursor.execute(
            "CREATE TEMP TABLE ph05_cuts (category_id bigint, old float, new float) ON COMMIT DROP"
        )
        if moved_cuts:
            cursor.executemany("INSERT INTO ph05_cuts VALUES (%s, %s, %s)", moved_cuts)
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
        new_results(cursor, *_judge(f"a.id IN (SELECT id FROM {JUDGED})"))
        write_results(cursor, self, f"r.award_id IN (SELECT id FROM {JUDGED})")
        return {}

    def _move_cuts(self, cursor: Any, last: int) -> list[tuple[int, float | None, float | None]]:
        """Bring the CategoryCut rows of the categories of the touched notices' awards up to
        date; return (category, old cut, new cut) where the cut moved."""
        live = NOT_CANCELLED.format(column="a.status")
        added = f"a.id > k.last_award_id AND a.amount IS NOT NULL AND {live}"
        cursor.execute(
            "SELECT a.category_id, k.awards, k.cut, k.anchor, k.below, "
            # An award counted before on a touched notice: the category is recounted.
            "k.category_id IS NULL OR k.anchor IS NULL OR bool_or(a.id <= k.last_award_id), "
            f"count(*) FILTER (WHERE {added}), count(*) FILTER (WHERE {added} AND a.amount < k.anchor) "
            "FROM explorer_award a LEFT JOIN explorer_categorycut k ON k.category_id = a.category_id "
            f"WHERE a.notice_id IN (SELECT notice_id FROM {WORK_TABLE}) AND a.category_id IS NOT NULL "
            "GROUP BY a.category_id, k.category_id",
            [],
        )
        moved = []
        for category, awards, old, anchor, below, whole, n_added, n_below in cursor.fetchall():
            if whole:
                new = _whole(cursor, category)
            else:
                new = _stepped(cursor, category, awards + n_added, anchor, below + n_below)
            _store(cursor, category, new, last)
            if new.cut != old:
                moved.append((category, old, new.cut))
        return moved


def _percentile(lower: Decimal, upper: Decimal, n: int) -> float | None:
    """percentile_cont(p) from the amounts at ranks floor(p (n - 1)) and the next one, with
    PostgreSQL's arithmetic (a run from scratch gives the same float)."""
    if n < MIN_CATEGORY_AWARDS:
        return None
    position = settings.INDICATOR_NEW_SUPPLIER_PERCENTILE * (n - 1)
    low, high = float(lower), float(upper)
    return low + (position - math.floor(position)) * (high - low)


def _rank(n: int) -> int:
    return math.floor(settings.INDICATOR_NEW_SUPPLIER_PERCENTILE * (n - 1))


def _whole(cursor: Any, category: int) -> Cut:
    """The category's Cut from its amounts (an index-only scan of the category)."""
    cursor.execute(f"SELECT count(*) {AMOUNTS}", [category])
    n = cursor.fetchone()[0]
    if n == 0:
        return Cut(0, None, None, 0)
    cursor.execute(f"SELECT a.amount {AMOUNTS} ORDER BY a.amount OFFSET %s LIMIT 2", [category, _rank(n)])
    values = [row[0] for row in cursor.fetchall()]
    cursor.execute(f"SELECT count(*) {AMOUNTS} AND a.amount < %s", [category, values[0]])
    return Cut(n, _percentile(values[0], values[-1], n), values[0], cursor.fetchone()[0])


def _stepped(cursor: Any, category: int, n: int, anchor: Decimal, below: int) -> Cut:
    """The category's Cut over n amounts, `below` of them under `anchor`, read by stepping
    from the anchor to the new rank in the index."""
    rank = _rank(n)
    if rank >= below:
        # Up: the amounts from the anchor on, in order; the rank is (rank - below) of them in.
        cursor.execute(
            f"SELECT a.amount {AMOUNTS} AND a.amount >= %s ORDER BY a.amount LIMIT %s",
            [category, anchor, rank - below + 2],
        )
        values = [row[0] for row in cursor.fetchall()]
        if rank - below >= len(values):
            return _whole(cursor, category)  # fewer amounts than counted: awards were deleted
        at = values[rank - below]
        upper = values[rank - below + 1] if rank - below + 1 < len(values) else at
        return Cut(n, _percentile(at, upper, n), at, below + sum(1 for v in values if v < at))
    # Down: the amounts under the anchor, largest first.
    cursor.execute(
        f"SELECT a.amount {AMOUNTS} AND a.amount < %s ORDER BY a.amount DESC LIMIT %s",
        [category, anchor, below - rank],
    )
    values = [row[0] for row in cursor.fetchall()]
    if len(values) < below - rank:
        return _whole(cursor, category)  # fewer amounts than counted: awards were deleted
    at = values[below - 1 - rank]
    if below - 2 - rank >= 0:
        upper = values[below - 2 - rank]
    else:
        cursor.execute(
            f"SELECT a.amount {AMOUNTS} AND a.amount >= %s ORDER BY a.amount LIMIT 1", [category, anchor]
        )
        row = cursor.fetchone()
        if row is None:
            return _whole(cursor, category)
        upper = row[0]
    cursor.execute(f"SELECT count(*) {AMOUNTS} AND a.amount = %s", [category, at])
    ties = cursor.fetchone()[0]
    return Cut(n, _percentile(at, upper, n), at, below - sum(1 for v in values if v > at) - ties)


def _store(cursor: Any, category: int, cut: Cut, last: int) -> None:
    cursor.execute(
        "INSERT INTO explorer_categorycut (category_id, awards, cut, anchor, below, last_award_id) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (category_id) DO UPDATE SET awards = EXCLUDED.awards, "
        "cut = EXCLUDED.cut, anchor = EXCLUDED.anchor, below = EXCLUDED.below, "
        "last_award_id = EXCLUDED.last_award_id",
        [category, cut.awards, cut.cut, cut.anchor, cut.below, last],
    )


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

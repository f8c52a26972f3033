"""Per-supplier statistics (explorer.models.SupplierStats) that R048 and PH05 compute their
baselines from, kept in step with the awards at the cost of the awards an import adds.

A run from scratch rebuilds the table. An incremental run looks at the awards on the
notices in WORK_TABLE: a supplier none of whose earlier awards (ids up to its
`last_award_id`) is on those notices only gained awards, on notices it had none on, so its
processes, segments and first award are updated from the new awards alone. A supplier with
an earlier award on a touched notice (a notice that gained an award sharing an award
number, or was changed and recomputed) is recomputed from all its awards. Imports only add
rows, so the second case is the rare one.

Both indicators call refresh(); the first call in a run (after engine.py's begin()) does
the work, and TOUCHED keeps each touched supplier's first award from before it for PH05.
"""

from __future__ import annotations

from typing import Any

from explorer.indicators.base import NOT_CANCELLED, WORK_TABLE, Scope

# The suppliers an incremental run touched, their first award before it and whether they
# were recomputed whole (temporary; it exists once refresh() ran in this run).
TOUCHED = "indicator_suppliers"
REBUILT = "indicator_suppliers_rebuilt"  # exists when this run rebuilt the whole table
COLUMNS = "(supplier_id, processes, segments, first_award, last_award_id)"

# Awards with one supplier: no other award of the same notice and award number names
# another supplier (PhilGEPS lists a shared award once per awardee).
SINGLE_SUPPLIER = (
    "NOT EXISTS (SELECT 1 FROM explorer_award o WHERE o.notice_id = a.notice_id "
    "AND a.award_number <> '' AND o.award_number = a.award_number AND "
    "o.supplier_id IS DISTINCT FROM a.supplier_id)"
)
LIVE = NOT_CANCELLED.format(column="a.status")
CODED = "a.unspsc_code ~ '^[0-9]{2}'"


def _stats(where: str) -> str:
    """The SELECT of SupplierStats rows for the suppliers of the awards where `where`."""
    # Two aggregates: inside a FILTER, SINGLE_SUPPLIER would run once per award instead of
    # as one anti-join.
    return (
        "SELECT f.supplier_id, COALESCE(r.processes, 0), COALESCE(r.segments, '{}'), f.first_award, "
        "f.last_award_id FROM (SELECT a.supplier_id, "
        f"min(a.award_date) FILTER (WHERE {LIVE}) AS first_award, max(a.id) AS last_award_id "
        "FROM explorer_award a "
        f"WHERE a.supplier_id IS NOT NULL AND {where} GROUP BY a.supplier_id) f "
        "LEFT JOIN (SELECT a.supplier_id, count(DISTINCT a.notice_id) AS processes, "
        f"array_agg(DISTINCT left(a.unspsc_code, 2) ORDER BY left(a.unspsc_code, 2)) FILTER (WHERE {CODED}) "
        "AS segments FROM explorer_award a JOIN explorer_notice n ON n.id = a.notice_id "
        f"WHERE a.supplier_id IS NOT NULL AND {LIVE} AND {NOT_CANCELLED.format(column='n.status')} "
        f"AND {SINGLE_SUPPLIER} AND {where} GROUP BY a.supplier_id) r ON r.supplier_id = f.supplier_id"
    )


def built(cursor: Any) -> bool:
    """False when the table was never filled though there are awards (a database migrated
    after its data came in): an incremental run then rebuilds it as from scratch."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM explorer_supplierstats) "
        "OR NOT EXISTS (SELECT 1 FROM explorer_award WHERE supplier_id IS NOT NULL)"
    )
    return bool(cursor.fetchone()[0])


def begin(cursor: Any) -> None:
    """A run starts (engine.py): forget an earlier run's TOUCHED, which ON COMMIT DROP does
    not when runs share a transaction (the tests)."""
    cursor.execute(f"DROP TABLE IF EXISTS {TOUCHED}, {REBUILT}")


def refresh(cursor: Any, scope: Scope) -> bool:
    """Bring SupplierStats up to date: all of it (scope.full, or never built), else for the
    suppliers of the awards on the notices in WORK_TABLE, listed in TOUCHED. True when it
    was rebuilt whole (in this call or an earlier one of the same run)."""
    cursor.execute(f"SELECT to_regclass('pg_temp.{TOUCHED}'), to_regclass('pg_temp.{REBUILT}')")
    done, rebuilt = cursor.fetchone()
    if done is not None:
        return rebuilt is not None  # the other indicator of this run did it
    if scope.full or not built(cursor):
        cursor.execute(f"CREATE TEMP TABLE {TOUCHED} (supplier_id bigint, old_first date) ON COMMIT DROP")
        cursor.execute(f"CREATE TEMP TABLE {REBUILT} () ON COMMIT DROP")
        cursor.execute("DELETE FROM explorer_supplierstats")
        cursor.execute(f"INSERT INTO explorer_supplierstats {COLUMNS} {_stats('TRUE')}")
        return True
    cursor.execute(
        f"CREATE TEMP TABLE {TOUCHED} ON COMMIT DROP AS SELECT a.supplier_id, s.first_award AS old_first, "
        "(s.supplier_id IS NULL OR bool_or(a.id <= s.last_award_id)) AS whole "
        "FROM explorer_award a LEFT JOIN explorer_supplierstats s ON s.supplier_id = a.supplier_id "
        f"WHERE a.notice_id IN (SELECT notice_id FROM {WORK_TABLE}) AND a.supplier_id IS NOT NULL "
        "GROUP BY a.supplier_id, s.supplier_id"
    )
    cursor.execute(f"ALTER TABLE {TOUCHED} ADD PRIMARY KEY (supplier_id)")
    cursor.execute(f"ANALYZE {TOUCHED}")
    whole = f"SELECT supplier_id FROM {TOUCHED} WHERE whole"
    cursor.execute(f"DELETE FROM explorer_supplierstats WHERE supplier_id IN ({whole})")
    cursor.execute(f"INSERT INTO explorer_supplierstats {COLUMNS} {_stats(f'a.supplier_id IN ({whole})')}")
    # The others: their new awards are on notices they had no award on, so each notice with
    # a qualifying new award is one more process.
    qualifies = f"{LIVE} AND {NOT_CANCELLED.format(column='n.status')} AND {SINGLE_SUPPLIER}"
    cursor.execute(
        "WITH d AS (SELECT a.supplier_id, "
        f"min(a.award_date) FILTER (WHERE {LIVE}) AS first_award, "
        f"count(DISTINCT a.notice_id) FILTER (WHERE {qualifies}) AS processes, "
        f"array_agg(DISTINCT left(a.unspsc_code, 2)) FILTER (WHERE {qualifies} AND {CODED}) AS segments, "
        "max(a.id) AS last_award_id FROM explorer_award a JOIN explorer_notice n ON n.id = a.notice_id "
        f"JOIN {TOUCHED} t ON t.supplier_id = a.supplier_id AND NOT t.whole "
        "JOIN explorer_supplierstats s ON s.supplier_id = a.supplier_id "
        f"WHERE a.notice_id IN (SELECT notice_id FROM {WORK_TABLE}) AND a.id > s.last_award_id "
        "GROUP BY a.supplier_id) "
        "UPDATE explorer_supplierstats s SET processes = s.processes + d.processes, "
        "segments = ARRAY(SELECT DISTINCT x FROM unnest(s.segments::text[] || d.segments) x ORDER BY x), "
        "first_award = least(s.first_award, d.first_award), last_award_id = d.last_award_id "
        "FROM d WHERE s.supplier_id = d.supplier_id"
    )
    return False

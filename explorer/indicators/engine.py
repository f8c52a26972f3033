"""Computing the indicators: from scratch, or for the processes an import touched.

Each indicator writes its results in scope (base.py): a SelectIndicator deletes the old
ones and inserts the new in one set-based statement; those whose results depend on rows
far from the import (R048, PH03, PH05) bring them up to date from stored baselines. An
incremental run costs in proportion to the import and leaves the same results as a run
from scratch. The `flags` arrays are then rewritten only where they change, for the awards
and notices whose results may have changed: an UPDATE of an award rewrites its row and its
full-text entry, so untouched rows are left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from explorer.indicators import INDICATORS, supplier_stats
from explorer.indicators.base import DIRTY_TABLE, WORK_TABLE, Indicator, Scope

Progress = Callable[[int, int, str], None]

# The advisory lock that makes indicator runs take turns (an import's and a job's): the
# stored baselines are updated by adding an import's awards, so two runs at once over the
# same awards (an import's high-water marks also take in a concurrent import's rows) would
# count them twice.
RUN_LOCK = 18_000_001


@dataclass
class Computed:
    """What a run did: results per code, each indicator's meta, seconds per step."""

    full: bool
    results: dict[str, int] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    awards_changed: int = 0
    notices_changed: int = 0
    notices_in_scope: int = 0


def compute_all(
    *,
    codes: Iterable[str] | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Computed:
    """Every indicator (or those in `codes`) over every process."""
    return _run(None, codes=codes, progress=progress, should_stop=should_stop)


def compute_for_notices(notice_ids: Iterable[int], *, progress: Progress | None = None) -> Computed:
    """The indicators for these notices (an import's) and the neighbours their results
    depend on, equal to what compute_all() would leave."""
    return _run(list(notice_ids), progress=progress)


def compute_after_import(*, notice_after: int, award_after: int) -> Computed:
    """The indicators for the notices an import added or gave new awards: those with ids
    above `notice_after`, and those of awards above `award_after`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM explorer_notice WHERE id > %s UNION SELECT "
            "notice_id FROM explorer_award WHERE id > %s",
            [notice_after, award_after],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return Computed(full=False)
    return compute_for_notices(ids)


def high_water_marks() -> tuple[int, int]:
    """The largest notice and award ids now (compute_after_import's starting points)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COALESCE(max(id), 0) FROM explorer_notice), "
            "(SELECT COALESCE(max(id), 0) FROM explorer_award)"
        )
        notices, awards = cursor.fetchone()
    return notices, awards


def _run(
    notice_ids: list[int] | None,
    *,
    codes: Iterable[str] | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Computed:
    full = notice_ids is None
    chosen = [INDICATORS[code] for code in (codes or INDICATORS)]
    done = Computed(full=full)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUN_LOCK])
        cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {DIRTY_TABLE} (notice_id bigint PRIMARY KEY) ON COMMIT DROP"
        )
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {WORK_TABLE} (notice_id bigint PRIMARY KEY) ON COMMIT DROP"
        )
        supplier_stats.begin(cursor)
        for step, indicator in enumerate(chosen):
            if should_stop and should_stop():
                raise Stopped
            if progress:
                progress(step, len(chosen) + 1, f"{indicator.code} {indicator.label}")
            started = time.monotonic()
            if not full:
                _fill_work(cursor, notice_ids or [], indicator)
            done.meta[indicator.code] = indicator.write(cursor, Scope(full=full))
            done.results[indicator.code] = _count(cursor, indicator.code)
            done.seconds[indicator.code] = round(time.monotonic() - started, 3)
        if progress:
            progress(len(chosen), len(chosen) + 1, "Flags on awards and notices")
        started = time.monotonic()
        if not full:
            cursor.execute(f"TRUNCATE {WORK_TABLE}")
            _insert_ids(cursor, DIRTY_TABLE, notice_ids or [])
            cursor.execute(f"ANALYZE {DIRTY_TABLE}")
            cursor.execute(f"SELECT count(*) FROM {DIRTY_TABLE}")
            done.notices_in_scope = cursor.fetchone()[0]
        done.awards_changed, done.notices_changed = _refresh_flags(cursor, full=full)
        done.seconds["flags"] = round(time.monotonic() - started, 3)
    return done


class Stopped(Exception):
    """The job was cancelled between two indicators (the transaction is rolled back)."""


def _insert_ids(cursor: Any, table: str, ids: list[int]) -> None:
    cursor.execute(f"INSERT INTO {table} SELECT unnest(%s::bigint[]) ON CONFLICT DO NOTHING", [ids])


def _fill_work(cursor: Any, notice_ids: list[int], indicator: Indicator) -> None:
    cursor.execute(f"TRUNCATE {WORK_TABLE}")
    _insert_ids(cursor, WORK_TABLE, notice_ids)
    related = indicator.related()
    if related:
        cursor.execute(f"INSERT INTO {WORK_TABLE} {related} ON CONFLICT DO NOTHING", [])
    cursor.execute(f"ANALYZE {WORK_TABLE}")


def _count(cursor: Any, code: str) -> int:
    cursor.execute("SELECT count(*) FROM explorer_indicatorresult WHERE code = %s", [code])
    return cursor.fetchone()[0]


def _refresh_flags(cursor: Any, *, full: bool) -> tuple[int, int]:
    """Rewrite Award.flags and Notice.flags from the results where they differ."""
    awards_in = "TRUE" if full else f"a.notice_id IN (SELECT notice_id FROM {DIRTY_TABLE})"
    notices_in = "TRUE" if full else f"n.id IN (SELECT notice_id FROM {DIRTY_TABLE})"
    cursor.execute("DROP TABLE IF EXISTS indicator_award_codes")
    cursor.execute(
        "CREATE TEMP TABLE indicator_award_codes ON COMMIT DROP AS "
        "SELECT award_id, array_agg(DISTINCT code ORDER BY code)::varchar(16)[] AS codes FROM ("
        "SELECT r.award_id, r.code FROM explorer_indicatorresult r "
        "JOIN explorer_award a ON a.id = r.award_id "
        f"WHERE r.scope = 'award' AND {awards_in} "
        "UNION ALL SELECT a.id, r.code FROM explorer_indicatorresult r JOIN explorer_award a "
        f"ON a.notice_id = r.notice_id WHERE r.scope = 'process' AND {awards_in} "
        "UNION ALL SELECT a.id, r.code FROM explorer_indicatorresult r JOIN explorer_award a "
        f"ON a.supplier_id = r.supplier_id WHERE r.scope = 'supplier' AND {awards_in}"
        ") x GROUP BY award_id"
    )
    cursor.execute("ALTER TABLE indicator_award_codes ADD PRIMARY KEY (award_id)")
    cursor.execute("ANALYZE indicator_award_codes")
    cursor.execute(
        "UPDATE explorer_award a SET flags = c.codes FROM indicator_award_codes c "
        "WHERE a.id = c.award_id AND a.flags IS DISTINCT FROM c.codes"
    )
    awards = cursor.rowcount
    # Awards with flags but no result left: `flags && every code` is read from the GIN index
    # (a `flags <> '{}'` test read every award).
    codes = list(INDICATORS)
    cursor.execute(
        "UPDATE explorer_award a SET flags = '{}' WHERE a.flags && %s::varchar(16)[] AND "
        f"{awards_in} AND NOT EXISTS (SELECT 1 FROM indicator_award_codes c WHERE c.award_id = a.id)",
        [codes],
    )
    awards += cursor.rowcount
    cursor.execute(
        "WITH codes AS (SELECT notice_id, array_agg(DISTINCT code "
        "ORDER BY code)::varchar(16)[] AS codes FROM ("
        "SELECT r.notice_id, r.code FROM explorer_indicatorresult r "
        "JOIN explorer_notice n ON n.id = r.notice_id "
        f"WHERE r.notice_id IS NOT NULL AND {notices_in} "
        "UNION ALL SELECT a.notice_id, unnest(c.codes) FROM indicator_award_codes c "
        "JOIN explorer_award a ON a.id = c.award_id) x GROUP BY notice_id) "
        "UPDATE explorer_notice n SET flags = codes.codes FROM codes "
        "WHERE n.id = codes.notice_id AND n.flags IS DISTINCT FROM codes.codes"
    )
    notices = cursor.rowcount
    cursor.execute(
        f"UPDATE explorer_notice n SET flags = '{{}}' WHERE n.flags && %s::varchar(16)[] AND {notices_in} "
        "AND NOT EXISTS (SELECT 1 FROM explorer_indicatorresult r WHERE r.notice_id = n.id) "
        "AND NOT EXISTS (SELECT 1 FROM explorer_award a JOIN indicator_award_codes c ON c.award_id = a.id "
        "WHERE a.notice_id = n.id)",
        [codes],
    )
    notices += cursor.rowcount
    return awards, notices

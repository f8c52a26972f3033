"""What the indicator step's flags UPDATE costs, and why: the same UPDATE on copies of the
award table with different indexes.

Needs a seeded database (`seed_demo --awards 300000` or more). Each variant copies the
first --awards awards into a table of their own (`CREATE TABLE ... (LIKE explorer_award
INCLUDING ALL)`, so with the stored full-text column and every index), vacuums it, takes a
checkpoint (as an import's UPDATE meets one) and then sets the flags of 30 % of them, as
the indicators of an import do. The copy is dropped afterwards.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from common import record, setup_django

TABLE = "bench_flags_award"
# What each copy lacks: (its label, a test on an index's definition that drops it, fillfactor)
VARIANTS: list[tuple[str, Callable[[str], bool], int]] = [
    ("all the award table's indexes", lambda definition: False, 100),
    ("without the full-text GIN index", lambda definition: "search_vector" in definition, 100),
    (
        "without the flags index, fillfactor 80 (room for HOT updates)",
        lambda definition: "(flags)" in definition,
        80,
    ),
    ("no index but the primary key", lambda definition: "_pkey " not in definition, 100),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--awards", type=int, default=300_000)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    rows = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) "
            "FROM information_schema.columns "
            "WHERE table_name = 'explorer_award' AND column_name <> 'search_vector'"
        )
        (columns,) = cursor.fetchone()
        values = columns.replace("flags", "'{}'::varchar(16)[]")  # every copy starts unflagged
        for label, dropped, fillfactor in VARIANTS:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
            cursor.execute(f"CREATE TABLE {TABLE} (LIKE explorer_award INCLUDING ALL)")
            cursor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = {fillfactor})")
            _drop_indexes(cursor, dropped)
            cursor.execute(
                f"INSERT INTO {TABLE} ({columns}) SELECT {values} FROM explorer_award ORDER BY id LIMIT %s",
                [args.awards],
            )
            cursor.execute(f"VACUUM ANALYZE {TABLE}")
            cursor.execute("CHECKPOINT")
            cursor.execute(f"SELECT count(*) FROM pg_indexes WHERE tablename = '{TABLE}'")
            (indexes,) = cursor.fetchone()
            cursor.execute("SELECT pg_current_wal_lsn()")
            (wal_before,) = cursor.fetchone()
            started = time.perf_counter()
            cursor.execute(f"UPDATE {TABLE} SET flags = ARRAY['PH01']::varchar(16)[] WHERE id % 10 < 3")
            seconds = time.perf_counter() - started
            updated = cursor.rowcount
            cursor.execute("SELECT pg_stat_force_next_flush()")  # the HOT count below, now
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", [wal_before])
            (wal,) = cursor.fetchone()
            cursor.execute(f"SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = '{TABLE}'")
            (hot,) = cursor.fetchone()
            rows.append(
                f"| {label} | {indexes} | {updated:,} | {seconds:.2f} s | {wal / 2**20:,.0f} MB | {hot:,} |"
            )
            print(rows[-1])
        cursor.execute(f"DROP TABLE {TABLE}")
    record(
        "The flags UPDATE of an import's indicators, on copies of the award table",
        f"python bench/flags_update_bench.py --awards {args.awards}",
        [f"{args.awards:,} awards copied per variant; the flags of 30 % of them set in one UPDATE"],
        [
            "| Copy | Indexes | Updated | UPDATE | WAL | HOT updates |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
        ],
    )


def _drop_indexes(cursor: Any, dropped: Callable[[str], bool]) -> None:
    """Drop the copy's indexes whose definition `dropped` picks (unique ones by their
    constraint)."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef, c.conname FROM pg_indexes i LEFT JOIN pg_constraint c "
        "ON c.conname = i.indexname AND c.contype = 'u' WHERE i.tablename = %s",
        [TABLE],
    )
    for name, definition, constraint in cursor.fetchall():
        if dropped(definition):
            cursor.execute(
                f"ALTER TABLE {TABLE} DROP CONSTRAINT {constraint}" if constraint else f"DROP INDEX {name}"
            )


if __name__ == "__main__":
    main()

"""`python -m jobs.export_reader`: runs an export's query and streams its rows back.

The xlsx writer spent ~106 µs a row in openpyxl (it now writes the XML itself, ~15 µs);
turning PostgreSQL's answer into Python values cost another 16-20 µs in the same process
(bench/RESULTS.md). In this child process
that work happens on the other core, and the writer only unpickles (~1 µs a row). It
speaks explorer/frames.py's protocol (ChildProcess, serve): the parent sends
("query", (sql, params, database)) on stdin, database being its connection's settings;
this answers ("rows", [...]) frames, then ("end", None), or ("error", traceback).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from explorer.frames import read_frame, serve

    _, (sql, params, database) = read_frame(sys.stdin.buffer)
    # The parent's database, not this environment's: they differ under the test runner.
    connection.settings_dict.update(database)
    return serve(_batches(sql, params))


def _batches(sql: str, params: list[object]) -> Iterator[tuple[str, object]]:
    from jobs.kinds.export.rows import BATCH, reading_connection

    with reading_connection() as reader, reader.cursor(name="export") as cursor:
        cursor.itersize = BATCH
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(BATCH):
            yield "rows", batch


if __name__ == "__main__":
    sys.exit(main())

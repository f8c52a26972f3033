"""`python -m jobs.export_reader`: runs an export's query and streams its rows back.

The xlsx writer spends ~106 µs a row in openpyxl; turning PostgreSQL's answer into Python
values cost another 16-20 µs in the same process (bench/RESULTS.md). In this child process
that work happens on the other core, and the writer only unpickles (~1 µs a row). A
subprocess, not multiprocessing: Celery's pool children are daemonic and may not fork
multiprocessing children. Speaks explorer/staging.py's frame protocol: the parent sends
("query", (sql, params, database)) on stdin, database being its connection's settings;
this answers ("rows", [...]) frames, then ("end", None), or ("error", traceback).
"""

from __future__ import annotations

import os
import sys
import traceback


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from explorer.staging import read_frame, write_frame
    from jobs.exporters import BATCH, reading_connection

    out = sys.stdout.buffer
    try:
        _, (sql, params, database) = read_frame(sys.stdin.buffer)
        # The parent's database, not this environment's: they differ under the test runner.
        connection.settings_dict.update(database)
        with reading_connection() as reader, reader.cursor(name="export") as cursor:
            cursor.itersize = BATCH
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(BATCH):
                write_frame(out, "rows", batch)
    except BrokenPipeError:
        return 1  # the writer stopped reading (cancelled or failed): nothing to report
    except Exception:
        write_frame(out, "error", traceback.format_exc())
        return 1
    write_frame(out, "end", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

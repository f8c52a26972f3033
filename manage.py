#!/usr/bin/env python
from __future__ import annotations

import contextlib
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from config import embedded_db

    database = contextlib.nullcontext()
    # Local mode: a command that reads the database finds the embedded server running
    # (started here if need be, stopped again by the last process using it). Production
    # has DATABASE_URL; a build step without it (collectstatic) needs no database.
    if not settings.DATABASE_URL and not settings.PRODUCTION and embedded_db.binaries():
        database = embedded_db.in_use(embedded_db.for_data_dir(settings.DATA_DIR))
    try:
        with database:
            execute_from_command_line(sys.argv)
    except embedded_db.EmbeddedPostgresError as exc:
        sys.exit(f"The embedded PostgreSQL failed: {exc}")


if __name__ == "__main__":
    main()

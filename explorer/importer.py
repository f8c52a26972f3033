"""Import PhilGEPS files into the awards model.

Streaming (one batch of rows in memory at a time), idempotent (natural keys: a second
import of the same file adds nothing) and honest (every refused row is recorded with
its line and reason on the ImportRun). Each batch commits on its own, so an interrupted
import leaves whole batches behind and simply runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from explorer import philgeps, staging
from explorer.frames import ChildProcess
from explorer.indicators import engine as indicators
from explorer.models import ImportRun

logger = logging.getLogger(__name__)


ProgressCallback = Callable[[int, int | None], None]


@dataclass
class Counts:
    rows_read: int = 0
    rows_failed: int = 0
    notices_new: int = 0
    awards_new: int = 0
    line_items_new: int = 0
    organizations_new: int = 0
    suppliers_new: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add_error(self, line: int, reason: str) -> None:
        self.rows_failed += 1
        if len(self.errors) < ImportRun.MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "reason": reason})


def import_file(
    path: Path,
    *,
    source_name: str | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ImportRun:
    """Import one file and return its ImportRun (refused, failed or succeeded)."""
    run = ImportRun.objects.create(source_name=source_name or Path(path).name)
    marks = indicators.high_water_marks()
    counts = Counts()
    reader = _Reader(Path(path))
    try:
        try:
            layout = reader.open()
        except philgeps.NotPhilgepsFile as exc:
            return _finish(run, ImportRun.Status.REFUSED, str(exc), counts)
        run.era, run.sha256 = layout["era"], layout["sha256"]
        run.save(update_fields=["era", "sha256"])
        for chunk in reader.chunks():
            for line, reason in chunk.errors:
                counts.add_error(line, reason)
            counts.rows_read = chunk.rows_read
            _write(chunk.stages, counts)
            if progress:
                progress(counts.rows_read, layout["total_rows"])
            if should_stop and should_stop():
                _indicators_after(marks)  # the batches written so far stay, so do their indicators
                return _finish(run, ImportRun.Status.FAILED, "Stopped before the end of the file.", counts)
    except Exception:
        logger.exception("import of %s failed", run.source_name)
        _finish(run, ImportRun.Status.FAILED, "The import stopped on an internal error; see the log.", counts)
        raise
    finally:
        reader.close()
        _merge_search_index()
    note = _indicators_after(marks)
    return _finish(run, ImportRun.Status.SUCCEEDED, _summary(counts) + note, counts)


# An import that brought nearly every notice (the first one, or the whole history into an
# empty database) has its indicators computed from scratch: the same results, without the
# incremental run's bookkeeping over a scope that is the whole table (1M rows into an empty
# database: 84 against 102 s, bench/RESULTS.md).
FROM_SCRATCH_SHARE = 0.85


def _indicators_after(marks: tuple[int, int]) -> str:
    """Recompute the indicators of the notices this import added or gave new awards (and
    their neighbours), once its batches are committed (explorer/indicators/engine.py).
    The rows stay imported if that fails: the run says so, and an `indicators` job redoes it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE id > %s), count(*) FROM explorer_notice", [marks[0]]
            )
            new, total = cursor.fetchone()
        if total and new >= FROM_SCRATCH_SHARE * total:
            done = indicators.compute_all()
        else:
            done = indicators.compute_after_import(notice_after=marks[0], award_after=marks[1])
    except Exception:
        logger.exception("indicators after an import failed")
        return " The indicators were not recomputed (see the log); start an indicators job."
    if done.full:
        logger.info("indicators after import (from scratch): %s", done.seconds)
    else:
        logger.info(
            "indicators after import (incremental): %s notices in scope, %s",
            done.notices_in_scope,
            done.seconds,
        )
    return ""


GIN_PENDING_LIST = "64MB"


def _merge_search_index() -> None:
    """Move the batches' pending full-text entries into the index proper (see _write)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list('award_search_vector'::regclass)")


class _Reader:
    """Runs `python -m explorer.staging PATH` and reads COPY-ready batches from it: the
    child parses the next batch while PostgreSQL inserts this one, each on its own core."""

    def __init__(self, path: Path) -> None:
        self.child = ChildProcess("explorer.staging", str(path))
        self.frames = self.child.frames()

    def open(self) -> dict[str, Any]:
        kind, payload = next(self.frames)
        if kind == "refused":
            raise philgeps.NotPhilgepsFile(payload)
        return payload

    def chunks(self) -> Iterator[staging.CopyChunk]:
        for _, payload in self.frames:
            yield staging.CopyChunk(*payload)

    def close(self) -> None:
        self.child.close()


def _summary(counts: Counts) -> str:
    return (
        f"{counts.rows_read:,} rows read, {counts.rows_failed:,} refused; new: "
        f"{counts.notices_new:,} notices, {counts.awards_new:,} awards, "
        f"{counts.line_items_new:,} line items."
    )


def _finish(run: ImportRun, status: str, message: str, counts: Counts) -> ImportRun:
    run.status = status
    run.message = message
    run.finished_at = timezone.now()
    for name in (
        "rows_read",
        "rows_failed",
        "notices_new",
        "awards_new",
        "line_items_new",
        "organizations_new",
        "suppliers_new",
        "errors",
    ):
        setattr(run, name, getattr(counts, name))
    run.save()
    return run


def _write(stages: dict[str, bytes], counts: Counts) -> None:
    """Load one batch's stage rows (COPY text from the reader process) and move them into
    the real tables, in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Don't wait for the WAL flush of every batch: a crash can lose only the last
        # batches, and re-running the import (idempotent) restores them.
        cursor.execute("SET LOCAL synchronous_commit = off")
        # Let the full-text GIN index collect new entries and merge them in bulk: the
        # award insert took half as long (bench/import_bench.py, 6.5k -> 10k rows/s).
        # import_file() merges the pending list at the end, so searches stay fast.
        cursor.execute(f"SET LOCAL gin_pending_list_limit = '{GIN_PENDING_LIST}'")
        # A batch joins a few thousand stage rows to the growing real tables on their
        # unique keys: index lookups. Statistics lag the import, and with them the
        # planner hash-joined the whole notice table for every batch, so each batch
        # took longer than the last (line items: 0.9 -> 2.4 s per 100k rows over 500k).
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        for stage in staging.STAGES:
            rows = stages.get(stage.name)
            if not rows:
                continue
            columns = ", ".join(stage.columns)
            types = ", ".join(f"{column} {staging.pg_type(column)}" for column in stage.columns)
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage.name} ({types}) ON COMMIT DELETE ROWS")
            with cursor.cursor.copy(f"COPY {stage.name} ({columns}) FROM STDIN") as copy:
                copy.write(rows)
            # A temporary table has no statistics: without them the planner hash-joined
            # whole notice and supplier tables for every batch, so batches slowed down
            # as the tables grew (bench/import_bench.py).
            # Its row count is what the plan needs; one column keeps the ANALYZE cheap.
            cursor.execute(f"ANALYZE {stage.name} ({stage.columns[0]})")
            cursor.execute(stage.insert)
            if stage.counter:
                setattr(counts, stage.counter, getattr(counts, stage.counter) + cursor.rowcount)

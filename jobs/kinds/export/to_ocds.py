"""OCDS export: a ZIP of OCDS 1.1 release packages and compiled-releases.jsonl.

The releases are those of the notices behind the matching awards (each with all its
awards: a release is the whole contracting process). explorer/ocds.py maps a notice to
its release, explorer/ocds_bulk.py writes the ZIP (packages split at 250,000 awards or
1 GB); this module only picks the notices and reports progress by awards written.
"""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from explorer import ocds, ocds_bulk
from explorer.models import Award
from jobs.kinds.base import Run
from jobs.kinds.export.rows import Format


def write(run: Run, awards: QuerySet[Award], path: Path, total: int) -> int:
    def progress(counts: ocds_bulk.Counts) -> None:
        # A notice's other awards come along, so "done" may pass the matching count.
        run.reporter.update(min(counts.awards, total), message=f"{counts.releases:,} releases written")

    uri = ocds.site_url(reverse("jobs:download", args=[run.job.id]))
    ids = ocds.notice_ids(ocds.notices_of_awards(awards))
    counts = ocds_bulk.write_zip(path, ids, uri=uri, published=timezone.now(), progress=progress)
    run.reporter.update(total, message=f"{counts.releases:,} releases written", force=True)
    return counts.awards


FORMAT = Format(name="ocds", label="OCDS", suffix=".zip", content_type="application/zip", write=write)

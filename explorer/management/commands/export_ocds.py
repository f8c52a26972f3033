"""`manage.py export_ocds OUT.zip`: every notice (awarded or not) as OCDS 1.1.

The ZIP holds release packages (split at 250,000 awards or 1 GB) and
compiled-releases.jsonl (explorer/ocds_bulk.py). Written under a temporary name and
renamed when complete, so OUT.zip is never half a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from explorer import ocds, ocds_bulk
from explorer.models import Notice


class Command(BaseCommand):
    help = "Write every notice as OCDS 1.1 release packages and compiled-releases.jsonl into a ZIP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="the ZIP file to write")
        parser.add_argument(
            "--uri",
            default="",
            help="the URL the file will be published at (package `uri`s); default: the Data page",
        )

    def handle(self, *args: Any, out: Path, uri: str, **options: Any) -> None:
        temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        base = uri or ocds.site_url(f"/data/ocds/{out.name}")
        counts = ocds_bulk.write_zip(
            temporary,
            ocds.notice_ids(Notice.objects.all()),
            uri=base,
            published=timezone.now(),
            progress=lambda c: self.stderr.write(
                f"{c.releases:,} releases, {c.awards:,} awards", ending="\r"
            ),
        )
        temporary.replace(out)
        self.stdout.write(
            f"Wrote {counts.releases:,} releases ({counts.awards:,} awards) in "
            f"{len(counts.packages)} package(s) and {ocds_bulk.COMPILED_NAME} to {out}"
        )

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from explorer.importer import import_file
from explorer.models import ImportRun


class Command(BaseCommand):
    help = "Import PhilGEPS Bid Notice and Award files (CSV or XLSX, any era). Safe to repeat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    def handle(self, *args: Any, paths: list[Path], **options: Any) -> None:
        failed = 0
        for path in paths:
            run = import_file(path)
            style = self.style.SUCCESS if run.status == ImportRun.Status.SUCCEEDED else self.style.ERROR
            era = f" [{run.era}]" if run.era else ""
            self.stdout.write(style(f"{path}{era}: {run.status}: {run.message}"))
            for error in run.errors[:20]:
                self.stdout.write(f"  line {error['line']}: {error['reason']}")
            if run.rows_failed > 20:
                self.stdout.write(f"  ... and {run.rows_failed - 20:,} more refused rows (see the admin)")
            if run.status != ImportRun.Status.SUCCEEDED:
                failed += 1
        if failed:
            raise CommandError(f"{failed} of {len(paths)} files were not imported")

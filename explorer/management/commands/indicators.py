from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from explorer.indicators import cardinal, engine


class Command(BaseCommand):
    help = (
        "Compute every indicator over the whole database and write the process- and supplier-level "
        "results to OUT.json in Cardinal's output shape."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="the JSON file to write")
        parser.add_argument(
            "--stored", action="store_true", help="write the stored results without computing them again"
        )

    def handle(self, *args: Any, out: Path, stored: bool, **options: Any) -> None:
        meta = None
        if not stored:
            started = time.perf_counter()
            done = engine.compute_all()
            meta = done.meta
            self.stdout.write(f"Computed in {time.perf_counter() - started:.1f} s: {done.results}")
        data = cardinal.output(meta)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, sort_keys=True)
        tmp.replace(out)
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {len(data['OCID']):,} processes and {len(data['Tenderer']):,} tenderers to {out}"
            )
        )

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from explorer import demo
from explorer.indicators import engine


class Command(BaseCommand):
    help = "Fill an empty database with deterministic synthetic awards shaped like PhilGEPS data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--awards", type=int, required=True, help="number of awards to create")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
        parser.add_argument(
            "--flush", action="store_true", help="delete all procurement data first (not users or jobs)"
        )
        parser.add_argument(
            "--no-indicators", action="store_true", help="do not compute the indicators after seeding"
        )

    def handle(
        self, *args: Any, awards: int, seed: int, flush: bool, no_indicators: bool = False, **options: Any
    ) -> None:
        if awards < 1:
            raise CommandError("--awards must be at least 1")
        if flush:
            demo.flush()
        started = time.perf_counter()
        try:
            result = demo.seed(awards=awards, seed=seed, stdout=self.stdout.write)
        except demo.DatabaseNotEmpty as exc:
            raise CommandError(f"{exc} Run with --flush to replace it.") from None
        seconds = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.awards:,} awards, {result.notices:,} notices, "
                f"{result.line_items:,} line items, {result.organizations:,} agencies and "
                f"{result.suppliers:,} suppliers in {seconds:.1f} s "
                f"({result.awards / seconds:,.0f} awards/s)."
            )
        )
        if not no_indicators:
            started = time.perf_counter()
            done = engine.compute_all()
            self.stdout.write(
                f"Computed the indicators in {time.perf_counter() - started:.1f} s: "
                + ", ".join(f"{code} {n:,}" for code, n in done.results.items())
            )
        started = time.perf_counter()
        demo.vacuum()
        self.stdout.write(f"Vacuumed and analysed the tables in {time.perf_counter() - started:.1f} s.")

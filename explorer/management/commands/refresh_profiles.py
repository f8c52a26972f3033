"""Recompute the risk profiles of every organization and supplier (explorer/profiles.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from explorer import profiles


class Command(BaseCommand):
    help = "Recompute the risk profiles (screening scores) of every organization and supplier."

    def handle(self, *args: Any, **options: Any) -> None:
        baseline = profiles.refresh()
        self.stdout.write(f"Risk profiles over {baseline.awards:,} awards in {baseline.seconds:.1f} s.")

"""Seeding speed: `seed_demo --awards N` into an empty database.

Usage: DATABASE_URL=postgres://... python bench/seed_bench.py [--awards 1000000]
Replaces all procurement data in that database (users and jobs stay).
"""

from __future__ import annotations

import argparse
import time

from common import record, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--awards", type=int, default=1_000_000)
    args = parser.parse_args()
    setup_django()

    from explorer import demo

    demo.flush()
    started = time.perf_counter()
    result = demo.seed(awards=args.awards, seed=1)
    demo.vacuum()  # as seed_demo does: the visibility map the other benches' index-only scans need
    seconds = time.perf_counter() - started
    record(
        f"seed_demo --awards {args.awards:,}",
        f"python bench/seed_bench.py --awards {args.awards}",
        [
            f"{result.awards:,} awards, {result.notices:,} notices, {result.line_items:,} line items, "
            f"{result.organizations:,} agencies, {result.suppliers:,} suppliers",
            f"**{seconds:.1f} s** ({result.awards / seconds:,.0f} awards/s), "
            "indexes rebuilt, tables vacuumed and analysed",
        ],
    )


if __name__ == "__main__":
    main()

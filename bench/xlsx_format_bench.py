"""What the Excel export's formatting costs (issue 17): the export's writer against bare
openpyxl write-only mode, on the same synthetic rows, in memory (no database, no worker).

Usage: python bench/xlsx_format_bench.py [--rows 100000] [--repeat 2]
The writer adds a frozen bold header, an autofilter, amount and date formats per cell,
column widths and the About sheet, and writes the sheet XML itself (since issue 22);
the baseline stays openpyxl writing the plain values. Both deflate at zlib's default
level. Runs alternate between the two so that the machine's load (printed) weighs on
both alike.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from common import record, setup_django


class _Reporter:
    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Run:
    reporter = _Reporter()
    params: dict[str, Any] = {"format": "xlsx", "filters": {"q": "road"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    setup_django()
    from openpyxl import Workbook

    from jobs.kinds.export import rows as exporters
    from jobs.kinds.export import to_xlsx

    kinds = [kind for _, _, kind in exporters.COLUMNS]

    def row(i: int) -> list[Any]:
        values: list[Any] = [f"Supply and delivery of item {i}" if k == "text" else None for k in kinds]
        for j, kind in enumerate(kinds):
            if kind == "number":
                values[j] = Decimal("12345.67") + i
            elif kind == "date":
                values[j] = datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 700)
            elif kind == "id":
                values[j] = f"00000000-0000-4000-8000-{i:012d}"
        return values

    data = [row(i) for i in range(args.rows)]
    to_xlsx.rows = lambda awards: iter(data)  # type: ignore[assignment]

    def bare(path: Path) -> None:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Awards")
        sheet.append(exporters.HEADERS)
        for values in data:
            sheet.append(values)
        book.save(path)

    def formatted(path: Path) -> None:
        to_xlsx.write(_Run(), None, path, len(data))  # type: ignore[arg-type]

    times: dict[str, list[float]] = {"bare": [], "formatted": []}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for name, writer in (("bare", bare), ("formatted", formatted)):
                loads.append(os.getloadavg()[0])
                started = time.perf_counter()
                writer(Path(tmp) / f"{name}.xlsx")
                times[name].append(time.perf_counter() - started)
    best = {name: min(values) for name, values in times.items()}
    record(
        f"Excel export formatting, {args.rows:,} synthetic rows in memory",
        f"python bench/xlsx_format_bench.py --rows {args.rows} --repeat {args.repeat}",
        [
            f"bare openpyxl write-only: best {best['bare']:.1f} s ({args.rows / best['bare']:,.0f} rows/s)",
            f"the export's writer (header, filter, formats, widths, About): best {best['formatted']:.1f} s "
            f"({args.rows / best['formatted']:,.0f} rows/s), "
            f"{best['formatted'] / best['bare']:.2f}x bare's time, "
            f"{best['bare'] / best['formatted']:.2f}x its speed",
            f"load average (1 min) at each run's start: {', '.join(f'{load:.1f}' for load in loads)}",
        ],
    )


if __name__ == "__main__":
    main()

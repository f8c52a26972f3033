"""`make bench`: every benchmark in turn against the real services; figures go to RESULTS.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The import bench replaces the procurement data with its own rows: it runs before the
# 1M-award seed that the other benches read.
SCRIPTS = [
    ["import_bench.py", "--rows", "500000"],
    ["seed_bench.py", "--awards", "1000000"],
    ["job_latency_bench.py"],
    ["export_bench.py"],
    ["search_bench.py"],
    ["analysis_bench.py"],
    ["throughput_bench.py"],
    ["sockets_bench.py"],
    ["hostile_bench.py"],
    ["startup_bench.py"],
]


def main() -> int:
    failed = 0
    for script, *args in SCRIPTS:
        print(f"\n>>> {script} {' '.join(args)}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE.parent)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

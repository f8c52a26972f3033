"""`make bench`: every benchmark in turn against the real services; figures go to RESULTS.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The import bench replaces the procurement data with its own rows: it runs before the
# 2M-award seed that the other benches read.
SCRIPTS = [
    ["import_bench.py", "--rows", "500000"],
    # The full PhilGEPS history is about 2M awards (issue 22): every bench below reads it.
    ["seed_bench.py", "--awards", "2000000"],
    ["job_latency_bench.py"],
    ["export_bench.py", "--rows", "1000000"],
    ["search_bench.py"],
    ["search_load_bench.py", "--xlsx-rows", "1000000"],
    ["flags_update_bench.py"],
    ["analysis_bench.py"],
    ["throughput_bench.py"],
    ["throughput_bench.py", "--web", "2", "--proxy"],
    ["sockets_bench.py"],
    ["sockets_bench.py", "--clients", "5000", "--web", "2", "--proxy"],
    ["locust_bench.py", "--minutes", "10"],
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

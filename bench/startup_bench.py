"""The first `make run` on a fresh clone, and a restart: seconds until the Open line.

Clones the committed HEAD into a temporary folder, so the first start creates the venv,
installs the pins, creates the embedded PostgreSQL cluster, migrates and seeds the demo
data, exactly as a new user's first start does. Needs no services: local mode.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, record

ALARMS = ("Traceback", "ERROR", "WARNING", "CRITICAL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(clone: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], dict[str, float], list[str]]:
    """`make run` until its Open line: the process, when each phase's line came, the output."""
    started = time.monotonic()
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={free_port()}"],
        cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    seen: dict[str, float] = {}
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        for phase in ("Database:", "Applying", "Empty database", "Open "):
            if line.startswith(phase) and phase not in seen:
                seen[phase] = time.monotonic() - started
        if line.startswith("Open "):
            return process, seen, lines
    raise SystemExit("make run ended before its Open line:\n" + "\n".join(lines))


def stop(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
    process.wait(60)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="philgeps-startup-"))
    clone = folder / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DATA_DIR", "VIRTUAL_ENV")
    } | {"PYTHONUNBUFFERED": "1"}
    try:
        first, first_seen, first_lines = start(clone, env)
        stop(first)
        second, second_seen, _ = start(clone, env)
        stop(second)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    app_lines = first_lines[[line.startswith("Database:") for line in first_lines].index(True) :]
    alarms = [line for line in app_lines if any(alarm in line for alarm in ALARMS)]
    installed, opened = first_seen["Database:"], first_seen["Open "]
    record(
        "First start of `make run` on a fresh clone",
        "python bench/startup_bench.py",
        [
            f"until the Open line: **{opened:.1f} s**: the venv and the pinned packages (from this "
            f"machine's package mirror) {installed:.1f} s, then initdb, PostgreSQL, the migrations, "
            f"20,000 demo awards and the demo accounts {opened - installed:.1f} s",
            f"a restart (cluster, data and accounts kept): **{second_seen['Open ']:.1f} s**",
            f"lines of the app's start-up output with {'/'.join(ALARMS)}: {len(alarms)}",
        ],
    )
    if alarms:
        print("\n".join(alarms), file=sys.stderr)


if __name__ == "__main__":
    main()

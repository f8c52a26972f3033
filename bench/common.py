"""Helpers shared by the benchmark scripts: Django setup, machine facts, RESULTS.md."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SHARED_DATA = ROOT.parent / "shared" / "data"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def machine() -> str:
    memory = psutil.virtual_memory().total / 1024**3
    return (
        f"{platform.node()}: {psutil.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"
    )


def record(title: str, command: str, lines: list[str]) -> None:
    """Print the figures and append them to bench/RESULTS.md."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    block = [
        f"### {title} ({stamp}, commit {commit})",
        "",
        f"Machine: {machine()}  ",
        f"Command: `{command}`",
        "",
    ]
    block += [f"- {line}" for line in lines]
    text = "\n".join(block) + "\n\n"
    print(text)
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by the scripts in `bench/` (`make bench`).\n\n")
    with RESULTS.open("a") as handle:
        handle.write(text)


class RssSampler:
    """Samples the resident memory of a process (and its children) in a background thread."""

    def __init__(self, pid: int | None = None, interval: float = 0.05) -> None:
        self.process = psutil.Process(pid or os.getpid())
        self.interval = interval
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a child may exit between the two calls
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        start = time.perf_counter()
        while not self._stop.is_set():
            try:
                rss = self._rss()
            except psutil.Error:
                break
            self.peak = max(self.peak, rss)
            self.samples.append((time.perf_counter() - start, rss))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

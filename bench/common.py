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


def record(title: str, command: str, lines: list[str], table: list[str] | None = None) -> None:
    """Print the figures (bullets, then an optional Markdown table) and append them to
    bench/RESULTS.md."""
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
    if table:
        block += ["", *table]
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


def service_process(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    """Start `python -m ...` from the repository with this environment plus `env`."""
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker(log: Path, *, name: str, concurrency: int = 1) -> subprocess.Popen[bytes]:
    """A real `celery worker` on both job queues; returns once it answers a ping."""
    from config.celery import app

    hostname = f"{name}@bench-{os.getpid()}"
    process = service_process(
        ["celery", "-A", "config", "worker", "--hostname", hostname, "--queues", "interactive,bulk",
         "--concurrency", str(concurrency), "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
        log,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[hostname], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start; see {log}")
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()

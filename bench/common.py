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
from collections.abc import Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SHARED_DATA = ROOT.parent / "shared" / "data"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # The benchmarks submit thousands of jobs per user within the hour; the per-user hourly
    # quota (jobs/quotas.py) is a limit for people, not for a measurement. The web and
    # worker processes started below inherit this.
    os.environ.setdefault("JOB_HOURLY_QUOTA", "0")
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


def run_job(user, kind: str, params: dict, worker: psutil.Process) -> tuple[float, object, int, int]:  # type: ignore[no-untyped-def]
    """Submit one job and wait for it: (run seconds, job, pool process peak RSS, worker tree
    peak RSS). Raises if the job does not succeed."""
    from jobs import services
    from jobs.models import FINAL_STATES, Job, State

    Job.objects.filter(owner=user).delete()
    with RssSampler(worker.pid) as tree:
        job, _ = services.submit_job(user=user, kind=kind, params=params)
        child_peak = 0
        while not Job.objects.filter(pk=job.pk, state__in=FINAL_STATES).exists():
            for child in worker.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child_peak = max(child_peak, child.memory_info().rss)
            time.sleep(0.05)
    job.refresh_from_db()
    if job.state != State.SUCCEEDED:
        raise RuntimeError(f"{kind} job ended {job.state}: {job.error}")
    return (job.finished_at - job.started_at).total_seconds(), job, child_peak, tree.peak


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_daphne(log: Path, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    """daphne serving the app on a free port; returns once it accepts connections."""

    port = free_port()
    process = service_process(
        ["config.server", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], log, **env
    )
    return process, _listening(process, port, 60, f"daphne did not start; see {log}")


def session_cookie(user) -> str:  # type: ignore[no-untyped-def]
    """A `Cookie` header value logging `user` in (a session made without a login request)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def bench_users(prefix: str, count: int, *, staff: bool = False) -> list:  # type: ignore[type-arg]
    """`count` users named prefix-0..., their earlier jobs deleted."""
    from django.contrib.auth import get_user_model

    from jobs.models import Job

    users = []
    for i in range(count):
        user, _ = get_user_model().objects.get_or_create(
            username=f"{prefix}-{i}", defaults={"is_staff": staff}
        )
        users.append(user)
    Job.objects.filter(owner__in=users).delete()
    from django.db import connection

    # Repeated runs leave dead job rows behind, and the development PostgreSQL here runs
    # with autovacuum off (production's is on): 480,000 dead rows slowed the throughput
    # bench by ~5 %. Start every run from a clean table.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE jobs_job")
    return users


def start_nginx(ports: list[int], folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Debian's nginx with deploy/nginx.conf in front of the daphnes on `ports` (as
    tests/test_compose.py runs it): the upstream gets one server line per daphne, and the
    listen port, pid and temporary files move to free/own places."""
    import re
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"^\s*server web:8000 (.*);$", conf, re.M)
    if not upstream:
        raise RuntimeError("deploy/nginx.conf: the upstream is not `server web:8000 ...;`")
    servers = "\n".join(f"        server 127.0.0.1:{port} {upstream[1]};" for port in ports)
    port = free_port()
    conf = conf.replace(upstream[0], servers).replace(
        "listen 8080;", f"listen 127.0.0.1:{port} backlog=8192;"
    )
    conf = conf.replace("/tmp/nginx", str(folder / "nginx"))  # noqa: S108 (the text replaced, not a path used)
    path = folder / "nginx.conf"
    path.write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    log = (folder / "nginx.log").open("ab")
    process = subprocess.Popen(
        [nginx, "-c", str(path), "-g", "daemon off; user root;"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, _listening(process, port, 30, f"nginx did not start; see {folder / 'nginx.log'}")


def _listening(process: subprocess.Popen[bytes], port: int, seconds: float, failure: str) -> int:
    """`port` once something accepts connections on it; RuntimeError(failure) if `process`
    exits or `seconds` pass first."""
    import socket

    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(failure) from None
            time.sleep(0.1)


def newest_awards_filters(rows: int) -> dict[str, str]:
    """Search filters that select about the `rows` newest awards (a date_from), or none
    when the table holds no more than that."""
    from explorer.models import Award

    total = Award.objects.count()
    if total <= rows:
        return {}
    date = (
        Award.objects.exclude(award_date=None)
        .order_by("-award_date")
        .values_list("award_date", flat=True)[rows - 1]
    )
    return {"date_from": date.isoformat()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-file limit (its children inherit it) towards `wanted`."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if wanted > soft:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(wanted, hard)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


WEB_APPLICATION_NAME = "philgeps-web-bench"  # daphne's sessions, by libpq's PGAPPNAME


@contextlib.contextmanager
def cpu_quota_group(cores: float) -> Iterator[Path]:
    """A new cgroup whose processes get at most `cores` of CPU time in all (a CFS quota, as
    a container's `cpus:` limit sets), for WORKER_CPU_CGROUP; removed afterwards, its
    remaining processes moved back to the root group. cgroup v1's `cpu` controller or
    cgroup v2's; needs root."""
    period = 100_000
    v1 = Path("/sys/fs/cgroup/cpu")
    v2 = Path("/sys/fs/cgroup")
    name = f"philgeps-bench-{os.getpid()}"
    if (v1 / "cpu.cfs_quota_us").exists():
        root, group = v1, v1 / name
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(period))
        (group / "cpu.cfs_quota_us").write_text(str(int(cores * period)))
    elif "cpu" in (v2 / "cgroup.controllers").read_text().split():
        root, group = v2, v2 / name
        (v2 / "cgroup.subtree_control").write_text("+cpu")
        group.mkdir()
        (group / "cpu.max").write_text(f"{int(cores * period)} {period}")
    else:
        raise SystemExit("--worker-cpus needs a cgroup cpu controller (v1 or v2) under /sys/fs/cgroup")
    try:
        yield group
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # gone meanwhile
                (root / "cgroup.procs").write_text(pid)
        group.rmdir()


@contextlib.contextmanager
def worker_cpu_quota(cores: float | None) -> Iterator[None]:
    """With `cores`, a cpu_quota_group that the worker started inside joins (its
    WORKER_CPU_CGROUP); without, nothing."""
    if not cores:
        yield
        return
    with cpu_quota_group(cores) as group:
        os.environ["WORKER_CPU_CGROUP"] = str(group)
        yield


class CpuMeter:
    """CPU seconds per group of processes over a time span, sampled in a thread: a process
    tree (with children that come and go, such as the export's reader) or the PostgreSQL
    backends whose application_name is given. A process that exits loses at most its last
    interval."""

    def __init__(self, trees: dict[str, int], backends: dict[str, str], interval: float = 0.5) -> None:
        self.trees, self.backends, self.interval = trees, backends, interval
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found = []
        for name, pid in self.trees.items():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                found += [(name, proc) for proc in [root, *root.children(recursive=True)]]
        if self.backends:
            import psycopg
            from django.db import connection

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            with psycopg.connect(**params, autocommit=True) as raw:
                rows = raw.execute(
                    "SELECT application_name, pid FROM pg_stat_activity WHERE application_name = ANY(%s)",
                    [list(self.backends.values())],
                ).fetchall()
            names = {app: name for name, app in self.backends.items()}
            for app, pid in rows:
                with contextlib.suppress(psutil.Error):
                    found.append((names[app], psutil.Process(pid)))
        return found

    def sample(self) -> None:
        for name, proc in self._processes():
            try:
                times = proc.cpu_times()
                created = proc.create_time()
            except psutil.Error:
                continue
            key = (name, proc.pid)
            used = times.user + times.system
            if key not in self.first:
                self.first[key] = 0.0 if created > self.started else used
            self.last[key] = used

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):  # a sample may race a process's exit
                self.sample()

    def __enter__(self) -> CpuMeter:
        self.started = time.time()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(Exception):
            self.sample()

    def seconds(self) -> dict[str, float]:
        totals = dict.fromkeys([*self.trees, *self.backends], 0.0)
        for (name, _), used in self.last.items():
            totals[name] += used - self.first[(name, _)]
        return totals

    def text(self) -> str:
        return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.seconds().items())


class PySpy:
    """py-spy sampling a process and its children while the block runs (pip install
    py-spy; not a requirement): `top()` lists the functions with the most samples of their
    own, and the share of samples under each given function name."""

    def __init__(self, pid: int, path: Path, rate: int = 200) -> None:
        import shutil

        self.path = path
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.command = [binary, "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
                        "--rate", str(rate), "--nonblocking", "--output", str(path)]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        if Path(self.command[0]).exists():
            self.process = subprocess.Popen(
                self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            time.sleep(1)  # attaching takes a moment
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def top(self, count: int = 8, under: tuple[str, ...] = ()) -> str:
        import re

        if not self.path.exists():
            return "no profile (py-spy missing or could not attach)"
        own: dict[str, int] = {}
        inside = dict.fromkeys(under, 0)
        total = 0
        for line in self.path.read_text(errors="replace").splitlines():
            stack, _, samples = line.rpartition(" ")
            if not samples.isdigit():
                continue
            n = int(samples)
            total += n
            frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
            leaf = frames[-1]
            own[leaf] = own.get(leaf, 0) + n
            for name in under:
                if any(name in frame for frame in frames):
                    inside[name] += n
        if not total:
            return "no samples"
        ranked = sorted(own.items(), key=lambda item: -item[1])[:count]
        text = "; ".join(f"`{name}` {n / total:.0%}" for name, n in ranked)
        if under:
            text += " | under: " + "; ".join(f"`{name}` {n / total:.0%}" for name, n in inside.items())
        return f"{total:,} samples; own time: {text}"

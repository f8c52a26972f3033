"""Real processes for integration tests: a `celery worker` and a daphne server.

Both run against the test database (committed data: use `transactional_db`), the test
RabbitMQ vhost and Redis. Loaded as a plugin for the whole suite (`-p tests.services` in
pyproject.toml), so its fixtures are everywhere and its asserts are rewritten.

Fault tests stop and restart a broker or Redis of their own (`private_rabbit`,
`private_redis`), never the shared servers other test runs use.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float = 30, what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess that shares this test session's services and files."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "EXPORT_ROOT": str(settings.EXPORT_ROOT),
        "UPLOAD_ROOT": str(settings.UPLOAD_ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for browser tests' own process only
    env.update(extra)
    return env


class Worker:
    """One `celery worker` process (prefork, like production)."""

    def __init__(
        self, log_dir: Path, *, name: str, concurrency: int = 1, extra_env: dict[str, str] | None = None
    ):
        self.name = f"{name}@{socket.gethostname()}-{os.getpid()}"
        self.log = log_dir / f"{name}.log"
        self.broker_url = (extra_env or {}).get("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
        # A test that asks for a pause after each progress write gets the slowed worker.
        app = "tests.slow_worker" if "TEST_PROGRESS_PAUSE_MS" in (extra_env or {}) else "config"
        command = [
            sys.executable, "-m", "celery", "-A", app, "worker",
            "--hostname", self.name, "--queues", "interactive,bulk", "--pool", "prefork",
            "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=service_env(**(extra_env or {})),
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: self._alive() and self.ping(),
                timeout=60,
                what=f"worker {self.name} to answer a ping (log: {self.log})",
            )
        except BaseException:
            self.kill()  # else it outlives the test and takes later tests' jobs
            raise

    def ping(self) -> bool:
        """Whether the worker is up: it answers a ping, or on a private broker (which this
        process's Celery app does not talk to, and kombu pools per URL would outlive its
        restarts) it logged being ready."""
        from config.celery import app

        if self.broker_url != settings.CELERY_BROKER_URL:
            return " ready." in self.log.read_text(errors="replace")
        return bool(app.control.ping(destination=[self.name], timeout=0.5))

    def _alive(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"worker exited with {self.process.returncode}; log:\n{self.log.read_text()[-3000:]}")
        return True

    def children(self) -> list[int]:
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children(recursive=True)]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): a crash, not a shutdown."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def purge_queues() -> None:
    """Drop messages left by an earlier run so they cannot reach this session's workers."""
    from config.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in settings.CELERY_TASK_QUEUES:
            queue(channel).declare()
            queue(channel).purge()


@pytest.fixture
def start_worker(tmp_path: Path, transactional_db: Any) -> Iterator[Callable[..., Worker]]:
    """Start workers on demand in a test; all are stopped afterwards."""
    purge_queues()
    started: list[Worker] = []

    def start(name: str = "worker", **kwargs: Any) -> Worker:
        worker = Worker(tmp_path, name=f"{name}{len(started)}", **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def worker(start_worker: Callable[..., Worker]) -> Worker:
    return start_worker()


class Daphne:
    def __init__(self, log_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = log_dir / "daphne.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "config.server",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env or service_env(),
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._listening, timeout=60, what=f"daphne on port {self.port} (log: {self.log})")

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"daphne exited; log:\n{self.log.read_text()[-3000:]}")
        return _listening(self.port)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="session")
def daphne_server(tmp_path_factory: pytest.TempPathFactory, django_db_setup: Any) -> Iterator[Daphne]:
    server = Daphne(tmp_path_factory.mktemp("daphne"))
    yield server
    server.stop()


@pytest.fixture
def daphne(daphne_server: Daphne, transactional_db: Any) -> Daphne:
    """A daphne process serving this session's test database (test data must be committed)."""
    return daphne_server


# --- RabbitMQ vhosts of a test's own ------------------------------------------------


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl on this machine's broker (the one TEST_BROKER_URL names)."""
    result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def broker_url_for(vhost: str) -> str:
    from urllib.parse import urlparse

    return urlparse(settings.CELERY_BROKER_URL)._replace(path=f"/{vhost}").geturl()


@pytest.fixture
def fresh_vhost() -> Iterator[str]:
    """An empty vhost, deleted afterwards. The job queues are declared classic in the
    suite's vhost, and RabbitMQ refuses to redeclare a queue with another type."""
    import uuid
    from urllib.parse import urlparse

    name = f"test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl(
        "set_permissions",
        "-p",
        name,
        urlparse(settings.CELERY_BROKER_URL).username or "guest",
        ".*",
        ".*",
        ".*",
    )
    yield name
    rabbitmqctl("delete_vhost", name)


# --- Private brokers for fault tests ------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateServer:
    """A server process of this test alone, on its own port and data directory, that the
    test may stop and start again (same port, same data) like an operator restart."""

    port: int
    url: str
    log: Path

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        return None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command(),
            env=self.environment(),
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._up, timeout=60, what=f"{self.command()[0]} on port {self.port} (log: {self.log})")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"{self.command()[0]} exited; log:\n{self.log.read_text()[-3000:]}")
        return _listening(self.port)

    def stop(self) -> None:
        """A clean shutdown of the whole process group (SIGTERM), waited for."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        wait_for(lambda: not _listening(self.port), timeout=30, what=f"port {self.port} to close")


class PrivateRabbit(PrivateServer):
    """A RabbitMQ node beside the shared one: own node name, ports, cookie, data and an
    empty plugin list (starts in about 3 s here)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"faults{os.getpid()}p{self.port}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.log = base / "rabbitmq.log"
        (base / "enabled_plugins").write_text("")
        (base / "rabbitmq-env.conf").write_text("")  # not the system node's NODENAME
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        self.start()

    def command(self) -> list[str]:
        # The server script itself: /usr/sbin/rabbitmq-server would switch to the
        # system node's user and cookie.
        script = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        return [str(script if script.exists() else "rabbitmq-server")]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.base),  # its own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
        }


class PrivateRedis(PrivateServer):
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = base / "redis.log"
        self.start()

    def command(self) -> list[str]:
        return [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.base),
        ]  # fmt: skip


def _need(program: str) -> None:
    from tests.conftest import REQUIRE_SERVICES

    if not shutil.which(program):
        reason = f"needs {program} installed to start a private server for fault tests"
        if REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def private_rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbit]:
    _need("rabbitmq-server")
    server = PrivateRabbit(tmp_path_factory.mktemp("rabbitmq"))
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    _need("redis-server")
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()

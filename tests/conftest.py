"""Shared test setup: the database, named users, sample data paths, and the service gate.

Without DATABASE_URL (the local half of `make test`) the session runs on a throwaway
embedded PostgreSQL of its own (config/embedded_db.py), started before pytest-django
creates the test database and removed at the end. Tests marked `services` or `browser`
need the real PostgreSQL, RabbitMQ and Redis (or Chromium): when one is missing they are
skipped with the reason, unless REQUIRE_SERVICES=1 (CI), which stops the run instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from django.conf import settings

from config import embedded_db, ratelimit

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def shared_file(name: str) -> Path:
    """A real PhilGEPS sample from ../shared/data (never copied into the repository)."""
    path = SHARED_DATA / name
    if not path.exists():
        if REQUIRE_SERVICES:
            pytest.fail(f"sample data {path} is missing")
        pytest.skip(f"sample data {path} is not next to the checkout")
    return path


# --- Service gate ---------------------------------------------------------------------


def _tcp_problem(url: str, default_port: int, name: str) -> str | None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return f"{name} at {host}:{port} is unreachable ({exc})"


def _database_problem() -> str | None:
    if not settings.DATABASE_URL:
        return "needs the real PostgreSQL: set DATABASE_URL (make test-services does)"
    db = settings.DATABASES["default"]
    return _tcp_problem(f"//{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}", 5432, "PostgreSQL")


def _broker_problem() -> str | None:
    if settings.LOCAL_WORKER:
        return "needs RabbitMQ: set CELERY_BROKER_URL (make test does)"
    return _tcp_problem(settings.CELERY_BROKER_URL, 5672, "RabbitMQ")


def _redis_problem() -> str | None:
    if not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL (make test does)"
    return _tcp_problem(settings.REDIS_URL, 6379, "Redis")


def _services_problem() -> str | None:
    return _database_problem() or _broker_problem() or _redis_problem()


def _browser_problem() -> str | None:
    if not shutil.which(CHROMIUM):
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    return _services_problem()


GATES: dict[str, Callable[[], str | None]] = {
    "services": _services_problem,
    "browser": _browser_problem,
}


@pytest.hookimpl(trylast=True)  # after `-m` deselection: only gate the tests that will run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Browser tests run last: Playwright's sync API holds an event loop on the main thread
    # for the rest of the session, and async_to_sync in other tests refuses to run beside it.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
    problems: dict[str, str | None] = {}
    for item in items:
        markers = [name for name in GATES if item.get_closest_marker(name)]
        for name in markers:
            if name not in problems:
                problems[name] = GATES[name]()
            problem = problems[name]
            if problem is None:
                continue
            if REQUIRE_SERVICES:
                pytest.exit(f"REQUIRE_SERVICES=1 but {item.nodeid} {problem}", returncode=1)
            item.add_marker(pytest.mark.skip(reason=problem))
            break


# --- Database -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> Iterator[None]:
    """pytest-django's hook to change DATABASES before it creates the test database."""
    if settings.DATABASE_URL:
        yield
        return
    with embedded_db.throwaway() as cluster:
        # In place: Django's connection objects hold this very dict.
        settings.DATABASES["default"]["HOST"] = str(cluster.socket_dir)
        yield


@contextlib.contextmanager
def fresh_data_dir() -> Iterator[Path]:
    """An empty DATA_DIR for an embedded cluster, removed afterwards. Not under pytest's
    tmp_path: a pytest session starting beside this one makes pytest's base folder private
    again, which would lock the database server's own user (when run as root) out."""
    root = Path(tempfile.mkdtemp(prefix="philgeps-test-"))
    try:
        yield root / "var"
    finally:
        embedded_db.stop(embedded_db.for_data_dir(root / "var"), mode="immediate")  # if a test left it
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with fresh_data_dir() as path:
        yield path


# --- Users ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings, request, monkeypatch):  # type: ignore[no-untyped-def]
    """Rate-limit counters (config/ratelimit.py) of one test never reach the next: each
    test gets a memory cache of its own (never a flush of a shared Redis database). Their
    clock stands still in the middle of a window: a window starts again on the minute, so a
    test's requests on either side of one were counted apart (a 200 where CI expected 429)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_030.0))


@pytest.fixture(autouse=True)
def _no_trailing_queue_pushes() -> Iterator[None]:
    """A queue push a test scheduled (jobs/lifecycle.py) never runs in the next one, and
    its thread's connection is closed before the test database is dropped."""
    yield
    from jobs import lifecycle

    lifecycle.stop_trailing_pushes()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(django_user_model):  # type: ignore[no-untyped-def]
    """The analyst who owns things in most tests."""
    return django_user_model.objects.create_user("alice", password="alice-password")


@pytest.fixture
def bob(django_user_model):  # type: ignore[no-untyped-def]
    """Another analyst, who must never see alice's things."""
    return django_user_model.objects.create_user("bob", password="bob-password")


@pytest.fixture
def staff(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(
        "staff", password="staff-password", is_staff=True, is_superuser=True
    )


@pytest.fixture
def alice_client(client, alice):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    return client

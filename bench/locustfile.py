"""Mixed load for locust (bench/locust_bench.py starts it headless with the services).

40 analysts browse: a search from the fixed 20-query set (the page with its facets, as
htmx asks for it), sometimes a facet value clicked, the deferred exact totals, an
organization's, a supplier's or an award's page. 4 API users submit exports and reports
of a search and poll them to the end. Logins and ids come from the JSON file that
locust_bench.py writes (LOCUST_DATA); every user is a separate account.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time

from locust import HttpUser, between, events, task

with open(os.environ["LOCUST_DATA"]) as handle:
    DATA = json.load(handle)
_browsers = itertools.count()
_submitters = itertools.count()
_lock = threading.Lock()
JOB_OUTCOMES: dict[str, int] = {}
FINAL = {"succeeded", "failed", "cancelled"}


class Analyst(HttpUser):
    fixed_count = DATA["browsers"]
    wait_time = between(0.5, 2.5)

    def on_start(self) -> None:
        with _lock:
            index = next(_browsers)
        self.client.headers["Cookie"] = DATA["cookies"][index % len(DATA["cookies"])]

    @task(6)
    def search(self) -> None:
        params = random.choice(DATA["queries"])
        self.client.get("/", params=params, headers={"HX-Request": "true"}, name="search")
        if random.random() < 0.3:  # the exact count of a large result, fetched after the page
            self.client.get("/search/totals/", params=params, name="search totals")

    @task(2)
    def facet(self) -> None:
        params = {**random.choice(DATA["queries"]), **random.choice(DATA["facet_clicks"])}
        self.client.get("/", params=params, headers={"HX-Request": "true"}, name="search + facet value")

    @task(2)
    def organization(self) -> None:
        self.client.get(f"/organizations/{random.choice(DATA['organizations'])}/", name="organization page")

    @task(1)
    def supplier(self) -> None:
        self.client.get(f"/suppliers/{random.choice(DATA['suppliers'])}/", name="supplier page")

    @task(1)
    def award(self) -> None:
        self.client.get(f"/awards/{random.choice(DATA['awards'])}/", name="award page")


class ApiUser(HttpUser):
    fixed_count = DATA["submitters"]
    wait_time = between(2, 5)

    def on_start(self) -> None:
        with _lock:
            index = next(_submitters)
        self.client.headers["Authorization"] = f"Token {DATA['tokens'][index % len(DATA['tokens'])]}"

    @task
    def job(self) -> None:
        kind, params = random.choice(DATA["jobs"])
        with self.client.post(
            "/api/jobs/",
            json={"kind": kind, "params": params},
            name=f"api submit {kind}",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            job_id = response.json()["id"]
        deadline = time.monotonic() + 600
        state = ""
        while time.monotonic() < deadline:
            time.sleep(1)
            got = self.client.get(f"/api/jobs/{job_id}/", name="api job status")
            if got.status_code == 200 and (state := got.json()["state"]) in FINAL:
                break
        with _lock:
            JOB_OUTCOMES[state or "timed out"] = JOB_OUTCOMES.get(state or "timed out", 0) + 1


@events.quitting.add_listener
def _write_outcomes(environment, **kwargs) -> None:  # type: ignore[no-untyped-def]
    path = os.environ.get("LOCUST_OUTCOMES")
    if path:
        with open(path, "w") as handle:
            json.dump(JOB_OUTCOMES, handle)

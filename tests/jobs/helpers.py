"""Small helpers shared by the job tests."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from django.test import Client
from websockets.sync.client import ClientConnection, connect

from jobs.models import Job


def api_submit(
    client: Client, kind: str = "export", *, headers: dict[str, str] | None = None, **params: Any
) -> Any:
    body = json.dumps({"kind": kind, "params": params})
    return client.post("/api/jobs/", body, content_type="application/json", headers=headers)


def export_params(fmt: str = "csv", **filters: str) -> dict[str, Any]:
    return {"format": fmt, "filters": filters}


def reload(job: Job) -> Job:
    job.refresh_from_db()
    return job


FRAGMENT_ROOT = re.compile(r"<div\b([^>]*)>")
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


def fragment_attrs(html: str) -> dict[str, str]:
    """The attributes of a status fragment's root element."""
    match = FRAGMENT_ROOT.search(html)
    assert match, html
    return dict(ATTRIBUTE.findall(match.group(1)))


def open_socket(server: Any, client: Client, *, origin: str | None = None) -> ClientConnection:
    """A real WebSocket to daphne, authenticated by the test client's session cookie."""
    cookie = f"sessionid={client.cookies['sessionid'].value}" if "sessionid" in client.cookies else ""
    return connect(
        f"{server.ws_url}/ws/jobs/",
        origin=origin or server.url,
        additional_headers={"Cookie": cookie} if cookie else None,
        proxy=None,
        open_timeout=10,
    )


def messages_until(
    socket: ClientConnection, job_id: str, *, state: str, timeout: float = 60
) -> list[dict[str, str]]:
    """Fragments of one job received until it reaches `state` (others are collected too)."""
    seen: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            attrs = fragment_attrs(socket.recv(timeout=max(remaining, 0.01)))
        except TimeoutError:
            job = Job.objects.filter(pk=job_id).values("state", "progress_done", "attempts", "error").first()
            raise AssertionError(
                f"no {state} fragment for {job_id} in {timeout} s; job {job}; got {seen}"
            ) from None
        seen.append(attrs)
        if attrs["data-job-id"] == job_id and attrs["data-state"] == state:
            return seen

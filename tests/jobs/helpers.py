"""Small helpers shared by the job tests."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from jobs.models import Job


def api_submit(client: Client, kind: str = "export", **params: Any) -> Any:
    return client.post(
        "/api/jobs/", json.dumps({"kind": kind, "params": params}), content_type="application/json"
    )


def export_params(fmt: str = "csv", **filters: str) -> dict[str, Any]:
    return {"format": fmt, "filters": filters}


def reload(job: Job) -> Job:
    job.refresh_from_db()
    return job

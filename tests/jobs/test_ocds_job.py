"""The `ocds` export through the real services: API -> RabbitMQ -> worker -> download."""

from __future__ import annotations

import io
import zipfile

import pytest

from explorer import demo
from explorer.models import Award, Notice
from jobs.models import Job, State
from tests.jobs.helpers import api_submit, export_params
from tests.ocds_check import problems, read_zip
from tests.services import wait_for

pytestmark = pytest.mark.services


def test_ocds_export_job_downloads_a_valid_zip_of_the_matching_notices(worker, client, alice, tmp_path):
    demo.seed(awards=800, seed=11)
    client.force_login(alice)
    job_id = api_submit(client, **export_params("ocds", amount_min="100000")).json()["id"]
    job = wait_for(lambda: Job.objects.filter(pk=job_id, state__in=[State.SUCCEEDED, State.FAILED]).first())
    assert job.state == State.SUCCEEDED, job.error

    response = client.get(f"/api/jobs/{job_id}/download/")
    assert response.status_code == 200
    path = tmp_path / "export.zip"
    path.write_bytes(b"".join(response.streaming_content))
    assert zipfile.ZipFile(io.BytesIO(path.read_bytes())).testzip() is None
    packages, compiled = read_zip(path)
    releases = [r for p in packages.values() for r in p["releases"]]
    expected = Notice.objects.filter(awards__amount__gte=100000).distinct().count()

    assert len(releases) == len(compiled) == expected > 50
    assert job.file_rows == Award.objects.filter(notice__awards__amount__gte=100000).distinct().count()
    assert job.progress_done == job.progress_total
    for package in packages.values():
        assert problems(package) == {}

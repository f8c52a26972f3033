"""Jobs end to end on the real services: API -> RabbitMQ -> celery worker -> Redis -> daphne -> socket."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings

from explorer import demo
from explorer.models import Award
from explorer.search import SearchForm, awards_matching
from jobs.models import Job, State
from tests.jobs.helpers import api_submit, export_params, messages_until, open_socket, reload
from tests.services import wait_for

pytestmark = pytest.mark.services


def matching_ids(**filters: str) -> list[str]:
    form = SearchForm(filters)
    assert form.is_valid()
    return [str(i) for i in awards_matching(form.cleaned_data).values_list("public_id", flat=True)]


def test_csv_export_streams_progress_over_the_socket_and_downloads_the_rows(worker, daphne, client, alice):
    demo.seed(awards=6000, seed=3)
    client.force_login(alice)
    with open_socket(daphne, client) as socket:
        job_id = api_submit(client, **export_params("csv", amount_min="100000")).json()["id"]
        seen = [m for m in messages_until(socket, job_id, state="succeeded") if m["data-job-id"] == job_id]

    seqs = [int(m["data-seq"]) for m in seen]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    assert {m["data-state"] for m in seen} >= {"running", "succeeded"}
    assert seen[-1]["data-percent"] == "100"
    assert all(m["id"] == f"job-{job_id}" and m["hx-swap-oob"] == "true" for m in seen)

    response = client.get(f"/api/jobs/{job_id}/download/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    expected = matching_ids(amount_min="100000")
    assert len(expected) > 100
    assert [row[-1] for row in rows[1:]] == expected  # same awards, same order
    job = Job.objects.get(pk=job_id)
    assert (job.file_rows, job.attempts, job.result["rows"]) == (len(expected), 1, len(expected))


def test_xlsx_export_has_typed_cells_and_an_about_sheet(worker, client, alice):
    demo.seed(awards=500, seed=4)
    client.force_login(alice)
    job_id = api_submit(client, **export_params("xlsx", sort="-amount")).json()["id"]
    job = wait_for(lambda: Job.objects.filter(pk=job_id, state__in=[State.SUCCEEDED, State.FAILED]).first())
    assert job.state == State.SUCCEEDED, job.error

    response = client.get(job.download_url())
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    rows = list(book["Awards"].iter_rows(values_only=True))
    assert rows[0][0] == "Reference number"
    assert len(rows) - 1 == Award.objects.count() == job.file_rows
    amounts = [row[8] for row in rows[1:] if row[8] is not None]
    assert amounts == sorted(amounts, reverse=True)
    assert all(isinstance(a, (int, float)) for a in amounts)
    assert any(row[9] is not None and row[9].year >= 2000 for row in rows[1:])  # a real date cell
    assert all(isinstance(row[0], str) for row in rows[1:] if row[0])  # reference numbers stay text
    about = {row[0]: row[-1] for row in book["About this export"].iter_rows(values_only=True) if row}
    assert about["Awards"] == job.file_rows
    assert about["Sort"] == "Largest amount first"  # the filters in the search form's words


def test_cancel_while_queued_means_it_never_runs(start_worker, client, alice):
    demo.seed(awards=50, seed=5)
    client.force_login(alice)
    doomed = api_submit(client, **export_params("csv", q="road")).json()["id"]

    cancelled = client.post(f"/api/jobs/{doomed}/cancel/")
    assert cancelled.json()["state"] == "cancelled"

    start_worker()
    later = api_submit(client, **export_params("csv")).json()["id"]
    wait_for(lambda: Job.objects.filter(pk=later, state=State.SUCCEEDED).exists(), what="the later job")
    job = Job.objects.get(pk=doomed)
    assert (job.state, job.attempts, job.started_at, job.file_path) == (State.CANCELLED, 0, None, "")


def test_cancel_while_running_stops_and_cleans_up(worker, client, alice):
    demo.seed(awards=30000, seed=6)
    client.force_login(alice)
    job_id = api_submit(client, **export_params("xlsx")).json()["id"]
    wait_for(
        lambda: Job.objects.filter(pk=job_id, state=State.RUNNING, progress_done__gt=0).exists(),
        what="the export to be writing rows",
    )

    client.post(f"/api/jobs/{job_id}/cancel/")

    job = wait_for(lambda: Job.objects.filter(pk=job_id, state=State.CANCELLED).first(), what="cancelled")
    assert job.progress_done < 30000
    assert job.file_path == ""
    assert not list(Path(settings.EXPORT_ROOT).rglob(f"{job_id}*"))
    assert client.get(f"/api/jobs/{job_id}/download/").status_code == 404


def test_worker_killed_mid_export_is_redelivered_and_finishes_once(start_worker, client, alice):
    demo.seed(awards=30000, seed=7)
    client.force_login(alice)
    first = start_worker("doomed")
    job_id = api_submit(client, **export_params("xlsx")).json()["id"]
    wait_for(
        lambda: Job.objects.filter(pk=job_id, state=State.RUNNING, progress_done__gt=0).exists(),
        what="the export to be writing rows",
    )

    first.kill()
    # Mid-write, nothing is downloadable and no final file exists.
    assert client.get(f"/api/jobs/{job_id}/download/").status_code == 404
    assert not (Path(settings.EXPORT_ROOT) / f"{job_id}.xlsx").exists()

    start_worker("rescuer")
    job = wait_for(
        lambda: Job.objects.filter(pk=job_id, state__in=[State.SUCCEEDED, State.FAILED]).first(),
        timeout=120,
        what="the redelivered job to finish",
    )
    assert job.state == State.SUCCEEDED, job.error
    assert job.attempts == 2
    assert [e["event"] for e in job.history] == [
        "created", "started", "restarted after the worker was lost", "succeeded",
    ]  # fmt: skip
    book = openpyxl.load_workbook(job.file_path, read_only=True)
    assert sum(1 for _ in book["Awards"].iter_rows(values_only=True)) - 1 == 30000 == job.file_rows
    assert not list((Path(settings.EXPORT_ROOT) / "tmp").glob(f"{job_id}*"))
    assert Job.objects.filter(pk=job_id).count() == 1
    assert reload(job).state == State.SUCCEEDED

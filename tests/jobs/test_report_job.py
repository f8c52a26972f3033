"""The report job end to end: API -> worker -> report page and xlsx, with progress by step."""

from __future__ import annotations

import io

import openpyxl
import pytest

from explorer import demo, report
from explorer.models import Award
from jobs.models import Job, JobData, State
from tests.jobs.helpers import api_submit, messages_until, open_socket

pytestmark = pytest.mark.services


def test_report_job_flags_the_planted_anomalies_on_its_page_and_in_its_workbook(
    worker, daphne, client, alice
):
    demo.seed(awards=3000, seed=22)
    client.force_login(alice)
    with open_socket(daphne, client) as socket:
        response = api_submit(client, "report", filters={})
        assert response.status_code == 201, response.content
        job_id = response.json()["id"]
        seen = [m for m in messages_until(socket, job_id, state="succeeded") if m["data-job-id"] == job_id]

    percents = [int(m["data-percent"]) for m in seen if m["data-percent"]]
    assert percents == sorted(percents)  # progress by analysis step, never backwards
    assert len(set(percents)) >= 3
    job = Job.objects.get(pk=job_id)
    # The worker's counts equal the report computed here, over the same awards.
    expected = report.build(Award.objects.all())
    assert job.result["flags"] == {
        "benford": 1,
        "thresholds": sum(t["flagged"] for t in expected["thresholds"]),
        "concentration": 1,
        "screens": expected["screens"]["flagged"],
    }
    scopes = {scope for scope, _ in report.SCOPES}
    assert sum(job.result["findings"].values()) == len(expected["findings"])
    assert set(job.result["findings"]) <= scopes
    assert job.result["flags"]["thresholds"] >= 1  # the planted supplier at least
    assert JobData.objects.filter(job=job).exists()
    assert "benford" not in client.get(f"/api/jobs/{job_id}/").json()["result"]  # the API stays small

    page = client.get(f"/jobs/{job_id}/report/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in demo.PLANTED.values():
        assert name in html
    assert html.count('class="flagged"') >= 3
    assert "not evidence of wrongdoing" in html

    download = client.get(f"/jobs/{job_id}/download/")
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
    assert {"Summary", "By month", "Benford", "Thresholds", "Rounding", "Concentration"} <= set(
        book.sheetnames
    )
    benford = {row[0]: row[5] for row in book["Benford"].iter_rows(min_row=2, values_only=True)}
    assert benford[demo.PLANTED["benford_agency"]] == "yes"
    assert [name for name, flag in benford.items() if flag == "yes" and name != "All awards"] == [
        demo.PLANTED["benford_agency"]
    ]
    assert "Findings" in book.sheetnames
    api = client.get(f"/api/jobs/{job_id}/report/").json()
    assert [(f["scope"], f["name"], f["analysis"]) for f in api["findings"]] == [
        (f["scope"], f["name"], f["analysis"]) for f in expected["findings"]
    ]


def test_report_params_are_checked_field_by_field(client, alice):
    client.force_login(alice)
    response = api_submit(client, "report", filters={"amount_min": "lots", "colour": "red"})

    assert response.status_code == 400
    assert "filters" in response.json()["fields"]
    assert not Job.objects.exists()


def test_report_page_of_another_user_is_a_404_and_an_unfinished_one_redirects(client, alice, bob):
    job = Job.objects.create(
        owner=alice, kind="report", params={"filters": {}}, params_hash="x", queue="bulk"
    )
    client.force_login(bob)
    assert client.get(f"/jobs/{job.id}/report/").status_code == 404
    client.force_login(alice)
    response = client.get(f"/jobs/{job.id}/report/")
    assert response.status_code == 302
    assert response["Location"] == job.get_absolute_url()
    job.refresh_from_db()
    assert job.state == State.QUEUED  # looking at the page changed nothing

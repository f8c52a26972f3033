"""The report as JSON (GET /api/jobs/<id>/report/) and the findings on the report page,
from a stored report (no worker: the job kind's own run is tested in test_report_job.py)."""

from __future__ import annotations

import openpyxl
import pytest

from explorer import demo, report
from explorer.models import Award
from jobs.kinds import report as report_kind
from jobs.models import ApiToken, Job, JobData, State

pytestmark = pytest.mark.django_db


def _report_job(owner, *, state=State.SUCCEEDED, kind="report"):
    job = Job.objects.create(
        owner=owner, kind=kind, params={"filters": {}}, params_hash=kind, queue="bulk", state=state
    )
    if state == State.SUCCEEDED and kind == "report":
        data = report.build(Award.objects.all())
        data |= {"filters": {}, "generated": "2026-12-01T12:00:00+08:00"}
        JobData.objects.create(job=job, payload=data)
    return job


@pytest.fixture
def seeded():
    demo.seed(awards=3000, seed=21)


def test_the_owner_gets_the_whole_report_with_its_findings_and_their_searches(client, alice, seeded):
    job = _report_job(alice)
    client.force_login(alice)

    body = client.get(f"/api/jobs/{job.id}/report/").json()

    assert body["job"] == str(job.id)
    assert body["awards"] == Award.objects.count()
    assert {"benford", "thresholds", "screens", "concentration"} <= set(body)
    assert body["findings"], "the seeded anomalies give findings"
    planted = {f["name"] for f in body["findings"]}
    assert demo.PLANTED["benford_agency"] in planted
    assert demo.PLANTED["concentration_agency"] in planted
    for finding in body["findings"]:
        assert {"analysis", "scope", "name", "statistic", "evidence", "baseline", "search_url"} <= set(
            finding
        )
        assert finding["search_url"].startswith("/")


def test_the_report_api_takes_an_api_token_and_refuses_others(client, alice, bob, seeded):
    job = _report_job(alice)
    key = ApiToken.issue(alice)
    response = client.get(f"/api/jobs/{job.id}/report/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json()["job"] == str(job.id)
    assert client.get(f"/api/jobs/{job.id}/report/").status_code == 401  # no session, no token
    client.force_login(bob)
    response = client.get(f"/api/jobs/{job.id}/report/")
    assert response.status_code == 404
    assert "findings" not in response.json()


def test_a_job_that_is_not_a_report_or_not_finished_is_refused_in_plain_words(client, alice):
    client.force_login(alice)
    export = _report_job(alice, kind="export")
    queued = _report_job(alice, state=State.QUEUED)

    assert client.get(f"/api/jobs/{export.id}/report/").status_code == 404
    response = client.get(f"/api/jobs/{queued.id}/report/")
    assert response.status_code == 409
    assert response.json() == {"error": "The report is not ready.", "state": "queued"}


def test_the_report_page_and_workbook_render_the_findings_grouped_by_scope(client, alice, seeded, tmp_path):
    job = _report_job(alice)
    data = JobData.objects.get(job=job).payload
    client.force_login(alice)

    html = client.get(f"/jobs/{job.id}/report/").content.decode()

    assert 'id="findings"' in html
    groups = [label for scope, label in report.SCOPES if any(f["scope"] == scope for f in data["findings"])]
    positions = [html.index(f"<h3>{label} (") for label in groups]
    assert positions == sorted(positions)
    assert groups
    for finding in data["findings"][:5]:
        assert finding["baseline"].split(";")[0][:40] in html.replace("&#x27;", "'")

    path = tmp_path / "r.xlsx"
    report_kind.write_workbook(data, path)
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["Findings"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (f["scope"], f["name"], f["analysis"]) for f in data["findings"]
    ]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Findings: Procuring entities"] == sum(
        f["scope"] == "organization" for f in data["findings"]
    )


def test_a_report_stored_before_v2_still_renders(client, alice, seeded):
    job = _report_job(alice)
    stored = JobData.objects.get(job=job)
    old = stored.payload
    for key in ("screens", "findings"):
        old.pop(key)
    for threshold in old["thresholds"]:
        threshold.pop("bunching")
        threshold.pop("baseline")
    old["benford"]["overall"].pop("log10_p")
    stored.save()
    client.force_login(alice)

    assert client.get(f"/jobs/{job.id}/report/").status_code == 200
    assert client.get(f"/api/jobs/{job.id}/report/").json()["findings"] == []

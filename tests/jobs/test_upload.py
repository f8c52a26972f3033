"""The import page's chunked, resumable upload (jobs/uploads.py, jobs/upload_views.py).

A file goes up in octet-stream chunks appended at the offset they name; a retry of a
chunk already written is refused with the current offset (so it changes nothing), and the
final call checks the whole file like the one-piece upload and starts the import job.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from jobs import maintenance, uploads
from jobs.kinds import imports
from jobs.models import Job, State
from tests.conftest import shared_file

pytestmark = pytest.mark.django_db
V2 = "philgeps-v2-2024q4-sample-200.csv"


@pytest.fixture(autouse=True)
def upload_root(settings, tmp_path: Path) -> Path:
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    return settings.UPLOAD_ROOT


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def start(client, name: str, size: int):
    return client.post("/jobs/import/uploads/", {"name": name, "size": str(size)})


def send(client, state: dict, offset: int, data: bytes, content_type: str = "application/octet-stream"):
    return client.post(f"{state['chunk_url']}?offset={offset}", data, content_type=content_type)


def upload_in_chunks(client, name: str, content: bytes, chunk: int) -> dict:
    state = start(client, name, len(content)).json()
    for offset in range(0, len(content), chunk):
        assert send(client, state, offset, content[offset : offset + chunk]).json()["offset"] == min(
            offset + chunk, len(content)
        )
    return state


def test_a_file_sent_in_chunks_is_checked_stored_and_imported_as_a_job(staff_client, upload_root):
    content = shared_file(V2).read_bytes()
    state = upload_in_chunks(staff_client, "q4 2024.csv", content, chunk=40_000)

    response = staff_client.post(state["complete_url"])

    assert response.status_code == 201
    job = Job.objects.get()
    assert response.json()["job"] == str(job.id)
    assert f'id="job-{job.id}"' in response.json()["html"]
    assert (job.kind, job.state, job.params["name"]) == ("import", State.QUEUED, "q4 2024.csv")
    assert imports.upload_path(job.params["upload"]).read_bytes() == content
    assert list((upload_root / "incoming").iterdir()) == []  # the partial file became the upload


def test_a_retried_chunk_changes_nothing_and_the_client_can_ask_where_to_resume(staff_client):
    content = shared_file(V2).read_bytes()
    state = start(staff_client, "q4.csv", len(content)).json()
    assert send(staff_client, state, 0, content[:50_000]).json()["offset"] == 50_000

    again = send(staff_client, state, 0, content[:50_000])  # its answer was lost: sent twice
    ahead = send(staff_client, state, 90_000, content[90_000:100_000])  # a gap
    where = staff_client.get(state["status_url"]).json()

    assert (again.status_code, again.json()["offset"]) == (409, 50_000)
    assert (ahead.status_code, ahead.json()["offset"]) == (409, 50_000)
    assert where["offset"] == 50_000
    assert send(staff_client, state, 50_000, content[50_000:]).json()["offset"] == len(content)
    assert staff_client.post(state["complete_url"]).status_code == 201
    assert imports.upload_path(Job.objects.get().params["upload"]).read_bytes() == content


def test_completing_early_says_where_the_file_ends(staff_client):
    state = start(staff_client, "q4.csv", 1000).json()
    send(staff_client, state, 0, b"x" * 400)

    response = staff_client.post(state["complete_url"])

    assert (response.status_code, response.json()["offset"]) == (409, 400)
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("big.csv", 201 * 1024 * 1024, "the import page takes files up to 200.0"),
        ("notes.txt", 1000, "Upload a PhilGEPS .csv or .xlsx file"),
        ("empty.csv", 0, "The file is empty."),
        ("odd.csv", -5, "Send the file's size as a whole number of bytes."),
        ("odd.csv", "1e9", "Send the file's size as a whole number of bytes."),
    ],
)
def test_a_file_too_big_or_of_the_wrong_kind_is_refused_before_any_byte_is_sent(
    staff_client, upload_root, name, size, message
):
    response = start(staff_client, name, size)

    assert response.status_code == 400
    assert message in response.json()["error"].replace("\xa0", " ")
    assert not (upload_root / "incoming").exists() or list((upload_root / "incoming").iterdir()) == []


def test_chunks_past_the_announced_size_or_not_octet_stream_are_refused(staff_client):
    state = start(staff_client, "q4.csv", 100).json()

    past = send(staff_client, state, 0, b"x" * 101)
    form = send(staff_client, state, 0, b"x" * 10, content_type="application/x-www-form-urlencoded")
    bad_offset = staff_client.post(
        f"{state['chunk_url']}?offset=NaN", b"x", content_type="application/octet-stream"
    )

    assert past.status_code == 400
    assert "past the size announced" in past.json()["error"]
    assert form.status_code == 400
    assert bad_offset.status_code == 400
    assert staff_client.get(state["status_url"]).json()["offset"] == 0


def test_a_file_the_checks_refuse_is_deleted_with_the_reason(staff_client, upload_root):
    content = shared_file("philgeps-areas.csv").read_bytes()
    state = upload_in_chunks(staff_client, "areas.csv", content, chunk=500)

    response = staff_client.post(state["complete_url"])

    assert response.status_code == 400
    assert "not a PhilGEPS bid notice" in response.json()["error"]
    assert sorted(p.name for p in upload_root.rglob("*") if p.is_file()) == []
    assert not Job.objects.exists()
    assert staff_client.get(state["status_url"]).status_code == 404


def test_uploads_are_staff_only_and_each_users_own(client, staff, alice, django_user_model):
    client.force_login(staff)
    state = start(client, "q4.csv", 100).json()
    other = django_user_model.objects.create_user("other-staff", password="x", is_staff=True)

    client.force_login(other)
    assert client.get(state["status_url"]).status_code == 404
    assert send(client, state, 0, b"x" * 10).status_code == 404
    client.force_login(alice)
    assert start(client, "q4.csv", 100).status_code == 404
    assert client.get(state["status_url"]).status_code == 404
    client.logout()
    assert client.get(state["status_url"]).status_code == 302  # to the login page


def test_unfinished_uploads_are_swept_once_idle_and_fresh_ones_kept(staff_client, upload_root):
    idle = start(staff_client, "idle.csv", 100).json()
    fresh = start(staff_client, "fresh.csv", 100).json()
    send(staff_client, idle, 0, b"x" * 10)
    hour_ago = time.time() - 3601
    os.utime(upload_root / "incoming" / f"{idle['id']}.part", (hour_ago, hour_ago))

    assert maintenance.remove_orphaned_uploads() == 1

    assert staff_client.get(idle["status_url"]).status_code == 404
    assert staff_client.get(fresh["status_url"]).json()["offset"] == 0
    assert sorted(p.name for p in (upload_root / "incoming").iterdir()) == [
        f"{fresh['id']}.json",
        f"{fresh['id']}.part",
    ]


def test_a_write_that_fails_part_way_leaves_the_file_where_it_was(staff, upload_root):
    upload = uploads.start(user=staff, name="q4.csv", size=1000)
    uploads.append(upload=upload, offset=0, length=100, read=lambda n: b"a" * n)
    blocks = iter([b"b" * 50])

    with pytest.raises(imports.UploadRefused, match="arrived incomplete"):
        uploads.append(upload=upload, offset=100, length=200, read=lambda n: next(blocks, b""))

    assert upload.part.read_bytes() == b"a" * 100

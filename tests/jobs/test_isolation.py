"""Every user sees only their own jobs: pages, API, downloads, cancel, re-run and sockets;
every state change needs a CSRF token (or an API token), and file names stay ours."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from websockets.exceptions import InvalidStatus

from explorer import demo
from explorer.models import ResultSet
from explorer.search import RESULT_SET_GONE
from jobs import execution, services
from jobs.models import ApiToken, Job, State
from tests.jobs.helpers import api_submit, export_params, fragment_attrs, open_socket


@pytest.fixture
def alices_job(alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params(q="road"))
    return job


JOB_URLS = [
    ("get", "/jobs/{id}/"),
    ("get", "/jobs/{id}/status/"),
    ("get", "/jobs/{id}/report/"),
    ("get", "/jobs/{id}/download/"),
    ("post", "/jobs/{id}/cancel/"),
    ("post", "/jobs/{id}/rerun/"),
    ("get", "/api/jobs/{id}/"),
    ("get", "/api/jobs/{id}/download/"),
    ("get", "/api/jobs/{id}/report/"),
    ("post", "/api/jobs/{id}/cancel/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), JOB_URLS)
def test_another_users_job_is_404_everywhere(client, bob, alices_job, method, url):
    client.force_login(bob)

    response = getattr(client, method)(url.format(id=alices_job.id))

    assert response.status_code == 404
    assert Job.objects.get(pk=alices_job.pk).state == State.QUEUED
    assert Job.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), JOB_URLS)
def test_anonymous_users_are_sent_to_login_or_get_401(client, alices_job, method, url):
    response = getattr(client, method)(url.format(id=alices_job.id))

    if url.startswith("/api/"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_job_lists_show_only_own_jobs(client, alice, bob, alices_job):
    bobs, _ = services.submit_job(user=bob, kind="export", params=export_params(q="road"))
    client.force_login(bob)

    api_ids = [job["id"] for job in client.get("/api/jobs/").json()["jobs"]]
    page = client.get("/jobs/").content.decode()

    assert api_ids == [str(bobs.id)]
    assert str(bobs.id) in page
    assert str(alices_job.id) not in page


@pytest.mark.django_db
def test_token_auth_works_without_csrf_and_a_bad_token_is_401(client, alice):
    key = ApiToken.issue(alice)

    created = api_submit(client, headers={"Authorization": f"Token {key}"}, **export_params())
    listed = client.get("/api/jobs/", headers={"Authorization": f"Token {key}"})
    refused = client.get("/api/jobs/", headers={"Authorization": "Token not-a-real-token"})

    assert created.status_code == 201
    assert listed.json()["jobs"][0]["id"] == created.json()["id"]
    assert refused.status_code == 401


@pytest.mark.django_db
def test_session_api_posts_need_the_csrf_token(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = api_submit(client, **export_params())

    assert response.status_code == 403
    assert Job.objects.count() == 0


@pytest.mark.services
def test_socket_refuses_anonymous_and_foreign_origins(daphne, client, alice):
    with pytest.raises(InvalidStatus) as anonymous:
        open_socket(daphne, client)
    client.force_login(alice)
    with pytest.raises(InvalidStatus) as foreign:
        open_socket(daphne, client, origin="https://evil.example")

    assert anonymous.value.response.status_code == 403
    assert foreign.value.response.status_code == 403


@pytest.mark.services
def test_socket_carries_only_the_users_own_jobs(daphne, alice, bob):
    from django.test import Client

    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    with open_socket(daphne, alice_client) as alice_socket, open_socket(daphne, bob_client) as bob_socket:
        alices = api_submit(alice_client, **export_params(q="alice")).json()["id"]
        assert fragment_attrs(alice_socket.recv(timeout=10))["data-job-id"] == alices
        # Anything of alice's would have reached bob's socket before bob's own job.
        bobs = api_submit(bob_client, **export_params(q="bob")).json()["id"]
        assert fragment_attrs(bob_socket.recv(timeout=10))["data-job-id"] == bobs


@pytest.mark.services
def test_socket_sends_the_current_state_of_active_jobs_on_connect(daphne, client, alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params(q="road"))
    client.force_login(alice)

    with open_socket(daphne, client) as socket:
        attrs = fragment_attrs(socket.recv(timeout=10))

    assert attrs["data-job-id"] == str(job.id)
    assert attrs["data-state"] == "queued"
    assert attrs["data-queue-position"] == "1"


@pytest.mark.django_db
def test_another_users_result_set_is_a_field_error_on_every_page_that_takes_it(client, alice, bob):
    scan = Job.objects.create(owner=alice, kind="scan", params={}, params_hash="x", state=State.SUCCEEDED)
    ResultSet.objects.create(id=scan.id, owner=alice, description="matches of the scan for x")
    client.force_login(bob)

    search = client.get("/", {"set": str(scan.id)})
    totals = client.get("/search/totals/", {"set": str(scan.id)})
    export = api_submit(client, **export_params(set=str(scan.id)))

    assert search.status_code == 400
    assert "not one of your finished scans" in search.content.decode()
    assert totals.status_code == 400
    assert export.status_code == 400
    assert export.json()["fields"]["filters"] == [f"set: {RESULT_SET_GONE}"]
    assert Job.objects.filter(owner=bob).count() == 0


# --- CSRF -----------------------------------------------------------------------------


@pytest.fixture
def csrf_client(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def _state_changing_posts(job: Job) -> list[tuple[str, dict[str, object], dict[str, str]]]:
    """(url, form data, extra headers) of every POST a page or the API offers."""
    return [
        ("/jobs/submit/", {"kind": "export", "format": "csv", "q": "road"}, {}),
        ("/jobs/submit/", {"kind": "report", "q": "road"}, {"HX-Request": "true"}),
        (f"/jobs/{job.id}/cancel/", {}, {}),
        (f"/jobs/{job.id}/cancel/", {}, {"HX-Request": "true"}),
        (f"/jobs/{job.id}/rerun/", {}, {"HX-Request": "true"}),
        ("/api/jobs/", {"kind": "export", "params": {"format": "xlsx"}}, {}),
        (f"/api/jobs/{job.id}/cancel/", {}, {}),
        ("/logout/", {}, {}),
    ]


def _post(client: Client, url: str, data: dict[str, object], headers: dict[str, str]):  # type: ignore[no-untyped-def]
    if url.startswith("/api/"):
        return client.post(url, data, content_type="application/json", headers=headers)
    return client.post(url, data, headers=headers)


@pytest.mark.django_db
def test_every_state_changing_post_needs_the_csrf_token(csrf_client, alice, alices_job):
    Job.objects.filter(pk=alices_job.pk).update(state=State.FAILED)  # so that re-run may start one
    for url, data, headers in _state_changing_posts(alices_job):
        response = _post(csrf_client, url, data, headers)

        assert response.status_code == 403, url
        assert Job.objects.count() == 1, url
        assert Job.objects.get().state == State.FAILED
    assert csrf_client.get("/jobs/").status_code == 200  # still logged in: logout was refused too


@pytest.mark.django_db
def test_the_same_posts_pass_with_the_token_the_page_carries(csrf_client, alice, alices_job):
    csrf_client.get("/")  # the page sets the cookie its hx-headers repeat
    token = csrf_client.cookies["csrftoken"].value
    statuses = [
        _post(csrf_client, url, data, {**headers, "X-CSRFToken": token}).status_code
        for url, data, headers in _state_changing_posts(alices_job)
    ]

    # Each one did what it is for: submitted (201 / a redirect to the job), cancelled, re-ran
    # (an htmx redirect), logged out.
    assert statuses == [302, 201, 302, 200, 200, 201, 200, 302], statuses


@pytest.mark.django_db
def test_staff_upload_needs_the_csrf_token(staff, settings, tmp_path):
    settings.UPLOAD_ROOT = tmp_path
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    response = client.post("/jobs/import/", {"file": SimpleUploadedFile("a.csv", b"x")})

    assert response.status_code == 403
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer abc", "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=", "Token", "token  "])
def test_only_a_valid_token_skips_csrf_and_any_other_authorization_header_is_401(csrf_client, header):
    response = api_submit(csrf_client, headers={"Authorization": header}, **export_params())

    assert response.status_code == 401
    assert Job.objects.count() == 0


# --- File names -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_download_names_cannot_be_steered_by_the_search(client, alice, settings, tmp_path, fmt):
    settings.EXPORT_ROOT = tmp_path
    demo.seed(awards=20, seed=8)
    hostile = '../../etc/passwd"; filename=evil.exe\r\nSet-Cookie: a=b'
    job, _ = services.submit_job(user=alice, kind="export", params=export_params(fmt, q=hostile))
    execution.execute(str(job.id), redelivered=False, worker="inline")
    client.force_login(alice)

    response = client.get(f"/jobs/{job.id}/download/")

    assert response.status_code == 200
    assert re.fullmatch(
        rf'attachment; filename="philgeps-awards-\d{{8}}-\d{{6}}-{str(job.id)[:8]}\.{fmt}"',
        response["Content-Disposition"],
    )
    assert Path(Job.objects.get(pk=job.pk).file_path).parent == tmp_path

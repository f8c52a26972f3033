"""Every user sees only their own jobs: pages, API, downloads, cancel, re-run and sockets."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from jobs import services
from jobs.models import ApiToken, Job, State
from tests.jobs.helpers import api_submit, export_params, fragment_attrs, open_socket

pytest_plugins = ["tests.services"]


@pytest.fixture
def alices_job(alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params(q="road"))
    return job


JOB_URLS = [
    ("get", "/jobs/{id}/"),
    ("get", "/jobs/{id}/status/"),
    ("get", "/jobs/{id}/download/"),
    ("post", "/jobs/{id}/cancel/"),
    ("post", "/jobs/{id}/rerun/"),
    ("get", "/api/jobs/{id}/"),
    ("get", "/api/jobs/{id}/download/"),
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

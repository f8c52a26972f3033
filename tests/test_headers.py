"""Response headers: the Content-Security-Policy on pages, and `Cache-Control: private`
on everything a logged-in user gets (no-store except for downloads)."""

from __future__ import annotations

import pytest
from django.utils.cache import get_max_age

from jobs import services
from jobs.models import ApiToken, Job, State
from tests.jobs.helpers import export_params

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    policy = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())


def cache_control(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def test_pages_carry_a_policy_without_inline_script_style_or_eval(alice_client, client):
    for response in (alice_client.get("/"), alice_client.get("/jobs/"), client.get("/login/")):
        policy = directives(response)
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["connect-src"] == "'self'"  # the job socket is same-origin
        assert policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'"
        assert "unsafe" not in response["Content-Security-Policy"]


def test_logged_in_pages_fragments_and_api_answers_are_private_and_not_stored(alice_client, alice):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params())
    token = ApiToken.issue(alice)
    answers = {
        "search": alice_client.get("/"),
        "jobs": alice_client.get("/jobs/"),
        "fragment": alice_client.get(f"/jobs/{job.id}/status/", headers={"HX-Request": "true"}),
        "api": alice_client.get("/api/jobs/"),
        "token api": alice_client.get("/api/jobs/", headers={"Authorization": f"Token {token}"}),
    }

    for name, response in answers.items():
        assert response.status_code == 200, name
        assert {"private", "no-store"} <= cache_control(response), (name, response.get("Cache-Control"))
        assert "public" not in cache_control(response), name


def test_a_download_is_private_but_may_be_kept(alice_client, alice, tmp_path):
    job, _ = services.submit_job(user=alice, kind="export", params=export_params())
    path = tmp_path / f"{job.id}.csv"
    path.write_text("a,b\n")
    Job.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, file_path=str(path), file_name="x.csv")

    response = alice_client.get(f"/jobs/{job.id}/download/")

    assert response.status_code == 200
    assert cache_control(response) == {"private"}
    assert get_max_age(response) is None


def test_anonymous_answers_are_not_marked_private_by_the_middleware(client):
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert "private" not in cache_control(response)

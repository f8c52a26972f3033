"""The Content-Security-Policy in a real browser: every page works under it, and Chromium
reports no violation (no inline script or style, no eval, charts and live updates intact)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from explorer import demo
from explorer.models import Award, Organization, Supplier
from jobs import services
from jobs.models import Job, State
from tests.browser.test_jobs import BLOCK_WEBSOCKETS
from tests.jobs.helpers import export_params
from tests.services import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.services]

# Registered before any page script runs: every violation the page reports, in words.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.cspViolations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline") +
    " at " + event.sourceFile + ":" + event.lineNumber + " " + (event.sample || ""));
});
"""


def watch(page: Page) -> list[str]:
    """Violations reported to the page or logged on its console, as they come."""
    seen: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and seen.append(message.text),
    )
    return seen


def violations(page: Page, console: list[str]) -> list[str]:
    return [*page.evaluate("() => window.cspViolations || []"), *console]


def strict_policy(response: Any) -> str:
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, policy
    assert "style-src 'self'" in policy, policy
    assert "unsafe" not in policy, policy
    return policy


def finished_report(user: Any) -> Job:
    job, _ = services.submit_job(user=user, kind="report", params={"filters": {}})
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=[State.SUCCEEDED, State.FAILED]).exists(),
        timeout=90,
        what="the report job to finish",
    )
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED, job.error
    return job


def test_every_page_runs_under_the_policy_without_a_violation(login, live, worker, staff, new_context):
    demo.seed(awards=600, seed=51)
    report = finished_report(staff)
    award = Award.objects.select_related("organization", "supplier").first()
    # (path, what must be on the page once its scripts ran)
    pages = [
        ("/?q=supply", "#search-actions button[data-action]"),
        (f"/awards/{award.public_id}/", "h1"),
        (f"/organizations/{Organization.objects.first().public_id}/", "canvas[data-chart][data-drawn]"),
        (f"/suppliers/{Supplier.objects.first().public_id}/", "canvas[data-chart][data-drawn]"),
        ("/jobs/", "#quota"),
        (report.get_absolute_url(), ".job-status"),
        (f"{report.get_absolute_url()}report/", "canvas[data-chart][data-drawn]"),
        ("/jobs/import/", "form[data-chunked-upload]"),
        ("/system/", "canvas[data-chart][data-drawn]"),
    ]
    page = login(staff)
    console = watch(page)

    for path, ready in pages:
        response = page.goto(path)
        assert response.status == 200, path
        strict_policy(response)
        expect(page.locator(ready).first).to_be_attached()
        page.wait_for_function("() => window.jobsSocketOpen === true")  # the live-update socket connected
        assert violations(page, console) == [], path

    # htmx at work under the policy: a search swapped in, a job started from its button.
    page.goto("/")
    page.get_by_label("Keywords").fill("supply")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]q=supply"))
    page.get_by_role("button", name="Export to CSV").click()
    status = page.locator("#search-actions .job-status")
    expect(status).to_have_attribute("data-state", "succeeded", timeout=60_000)
    assert violations(page, console) == []

    anonymous = new_context(base_url=live.url).new_page()
    console = watch(anonymous)
    response = anonymous.goto("/login/")
    strict_policy(response)
    expect(anonymous.get_by_role("button", name="Log in")).to_be_visible()
    assert violations(anonymous, console) == []


def test_pending_jobs_poll_under_the_policy_when_the_socket_is_blocked(login, alice):
    demo.seed(awards=50, seed=52)
    job, _ = services.submit_job(user=alice, kind="export", params=export_params("csv"))
    page = login(alice)
    page.context.add_init_script(BLOCK_WEBSOCKETS)
    console = watch(page)
    polls: list[str] = []
    page.on("request", lambda request: f"/jobs/{job.id}/status/" in request.url and polls.append(request.url))

    page.goto("/jobs/")
    page.wait_for_function("() => window.blockedSockets > 0")
    expect(page.locator(f"#job-{job.id}")).to_have_attribute("data-state", "queued")
    page.wait_for_event("request", lambda request: f"/jobs/{job.id}/status/" in request.url, timeout=10_000)

    assert polls
    assert violations(page, console) == []  # the poll trigger needs no eval

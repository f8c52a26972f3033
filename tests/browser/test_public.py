"""Public browsing and the API docs in Chromium against daphne: an anonymous visitor
searches and opens an award, follows "Log in to export" and comes back to the same
search with the job buttons; the Swagger UI docs page renders from this site under the
Content-Security-Policy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import Page, expect

from explorer import demo
from tests.browser.test_security import violations, watch

pytestmark = [pytest.mark.browser, pytest.mark.services]


def _visitor_account(user_model: Any, name: str) -> str:
    """An account whose password daphne checks with the real hashers (the tests' settings
    use a fast one); returns the password."""
    password = f"{name}-Password-1"
    hasher = PBKDF2PasswordHasher()
    user_model.objects.create(username=name, password=hasher.encode(password, hasher.salt()))
    return password


def _log_in(page: Page, name: str, password: str) -> None:
    """Fill and send the login page the visitor was sent to."""
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_an_anonymous_visitor_searches_then_logs_in_to_export_and_returns_to_the_search(
    live, new_context, django_user_model
):
    password = _visitor_account(django_user_model, "frank")
    demo.seed(awards=150, seed=31)
    context = new_context(base_url=live.url)
    page = context.new_page()
    console = watch(page)

    page.goto("/")
    page.get_by_label("Keywords").fill("supply")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]q=supply"))
    expect(page.locator(".summary")).to_contain_text("awards")
    search_url = page.url
    login_link = page.get_by_role("link", name="Log in to export")
    expect(login_link).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Export"))).to_have_count(0)

    page.locator('a[href^="/awards/"]').first.click()
    expect(page).to_have_url(re.compile(r"/awards/[0-9a-f-]{36}/"))
    page.go_back()
    expect(page).to_have_url(search_url)

    page.get_by_role("link", name="Log in to export").click()
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    _log_in(page, "frank", password)

    expect(page).to_have_url(search_url)
    expect(page.get_by_role("button", name=re.compile("Export")).first).to_be_visible()
    expect(page.get_by_role("link", name="Log in to export")).to_have_count(0)
    assert violations(page, console) == []


def test_an_anonymous_visitor_follows_the_ocds_release_link_through_the_login(
    live, new_context, django_user_model
):
    password = _visitor_account(django_user_model, "grace")
    demo.seed(awards=60, seed=32)
    context = new_context(base_url=live.url)
    page = context.new_page()

    page.goto("/")
    page.locator('a[href^="/awards/"]').first.click()
    expect(page).to_have_url(re.compile(r"/awards/[0-9a-f-]{36}/"))
    release = page.locator("[data-ocds-release]")
    ocid = release.inner_text()
    # The API answers only logged-in users: the link says so and goes by the login page.
    expect(release.locator("xpath=..")).to_contain_text("log in")
    release.click()
    expect(page).to_have_url(re.compile(r"/login/\?next=%2Fapi%2Focds%2Freleases%2F"))
    _log_in(page, "grace", password)

    expect(page).to_have_url(re.compile(rf"/api/ocds/releases/{re.escape(ocid)}/$"))
    assert f'"ocid":"{ocid}"' in page.locator("body").inner_text()


def test_the_api_docs_page_renders_from_this_site_under_the_policy(live, new_context):
    context = new_context(base_url=live.url)
    page = context.new_page()
    console = watch(page)
    foreign: list[str] = []
    page.on("request", lambda request: request.url.startswith(live.url) or foreign.append(request.url))

    response = page.goto("/api/docs/")

    assert response.status == 200
    expect(page.locator(".swagger-ui .title")).to_contain_text("PhilGEPS Data Explorer API")
    expect(page.locator(".opblock-summary-path").filter(has_text="/api/awards/").first).to_be_visible()
    expect(page.locator(".opblock-summary-path").filter(has_text="/api/jobs/").first).to_be_visible()
    assert foreign == []
    assert violations(page, console) == []

"""The analyst's path through the explorer in a real browser: search, facet, award, entity."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from explorer import demo
from explorer.models import Award
from jobs.kinds import KINDS
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.services]


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def test_search_facet_award_and_organization_pages_round_trip_through_the_url(login, alice):
    demo.seed(awards=400, seed=11)
    word = "supply"
    expected = Award.objects.filter(search_text__icontains=word).count()
    assert expected > 10
    page = login(alice)

    page.goto("/")
    page.get_by_label("Keywords").fill(word)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(rf"[?&]q={word}"))  # pushed by HTMX, no reload
    summary = page.locator(".summary")
    expect(summary).to_contain_text("awards")
    searched_count = int(re.search(r"([\d,]+) awards", summary.inner_text()).group(1).replace(",", ""))
    assert 0 < searched_count <= Award.objects.count()

    # Apply the first category facet: the URL gains it and the count shrinks to its figure.
    facet = page.locator(".facet").filter(has_text="Business category").locator("li a").first
    category = facet.inner_text()
    facet_count = int(facet.locator("xpath=..").locator(".count").inner_text().replace(",", ""))
    facet.click()
    expect(page).to_have_url(re.compile(r"[?&]category="))
    assert query_of(page.url)["category"] == [category]
    assert query_of(page.url)["q"] == [word]
    expect(summary).to_contain_text(f"{facet_count:,} awards")
    # The job buttons came back with the HTMX-swapped results, for the new filters.
    expect(page.locator("#search-actions button[data-action]")).to_have_count(
        sum(len(spec.actions) + bool(spec.panel_template) for spec in KINDS.values() if not spec.staff_only)
    )  # each kind's buttons, and the scan form's
    expect(page.locator("#search-actions input[name=category]").first).to_have_value(category)
    screenshot(page, "explorer-search")

    # The URL alone reproduces the state: a fresh load shows the same filters and count.
    shared = page.url
    page.goto(shared)
    expect(page.get_by_label("Keywords")).to_have_value(word)
    expect(page.locator(".summary")).to_contain_text(f"{facet_count:,} awards")
    expect(page.locator(".facet li.active")).to_contain_text(category)

    # Follow the first result to its award page, then on to the procuring entity.
    first = page.locator("table.results tbody tr").first
    title = first.locator("td").nth(1).inner_text()
    organization = first.locator("td").nth(2).inner_text()
    first.locator("td").nth(1).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/awards/[0-9a-f-]{36}/$"))
    expect(page.locator("h1")).to_contain_text(title)
    page.get_by_role("link", name=organization).first.click()
    expect(page).to_have_url(re.compile(r"/organizations/[0-9a-f-]{36}/$"))
    expect(page.locator("h1")).to_contain_text(organization)
    expect(page.locator("canvas[data-chart][data-drawn]")).to_have_count(1)  # Chart.js drew it
    screenshot(page, "explorer-organization")

    # The entity page's search link comes back to a search filtered to it.
    page.get_by_role("link", name=re.compile("search its awards", re.I)).click()
    assert query_of(page.url)["organization"] == [organization]
    expect(page.locator("table.results tbody tr").first).to_contain_text(organization)


def test_organization_box_suggests_names_as_the_analyst_types(login, alice):
    demo.seed(awards=200, seed=13)
    name = Award.objects.select_related("organization").first().organization.name
    page = login(alice)
    page.goto("/")
    page.get_by_label("Procuring entity", exact=True).press_sequentially(name[:6].lower(), delay=30)
    options = page.locator("#organization-suggestions option")
    expect(options.first).to_be_attached()
    values = options.evaluate_all("options => options.map(o => o.value)")
    assert all(name[:6].lower() in value.lower() for value in values)
    assert "organization=" not in page.url  # suggestions do not touch the search URL


def test_search_works_without_javascript(live, browser, alice):
    from tests.browser.conftest import session_cookie

    demo.seed(awards=120, seed=12)
    context = browser.new_context(base_url=live.url, java_script_enabled=False)
    context.add_cookies([session_cookie(alice, live)])
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Keywords").fill("supply")
    page.get_by_role("button", name="Search").click()
    assert query_of(page.url)["q"] == ["supply"]
    expect(page.locator(".summary")).to_contain_text("awards")

    # The plain form sent every empty field too: the server redirected to the clean URL.
    assert page.url.endswith("/?q=supply")

    response = page.goto("/?q=supply&amount_min=-5")  # a hand-edited URL
    assert response.status == 400
    expect(page.locator(".field-amount_min .errorlist")).to_contain_text("greater than or equal to 0")
    context.close()

"""Analysis jobs in the browser: Analyse -> live status -> report page with its charts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from explorer import demo
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.services]
pytest_plugins = ["tests.services"]


def test_analyse_opens_a_report_with_charts_and_flags_linked_to_their_contracts(login, worker, alice):
    demo.seed(awards=3000, seed=23)
    page = login(alice)
    page.goto("/")

    page.get_by_role("button", name="Analyse").click()
    status = page.locator(".job-status").filter(has_text="Report")
    expect(status.get_by_role("link", name="Open the report")).to_be_visible(timeout=60_000)
    status.get_by_role("link", name="Open the report").click()

    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/report/$"))
    expect(page.locator("canvas[data-chart][data-drawn]")).to_have_count(3)
    flagged = page.locator("#benford tr.flagged")
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text(demo.PLANTED["benford_agency"])
    expect(page.locator("#concentration tr.flagged")).to_contain_text(demo.PLANTED["concentration_supplier"])
    screenshot(page, "report")

    # A finding links to the search of its contracts.
    page.locator("#concentration tr.flagged").get_by_role("link").click()
    expect(page.get_by_label("Procuring entity")).to_have_value(demo.PLANTED["concentration_agency"])
    expect(page.get_by_label("Supplier")).to_have_value(demo.PLANTED["concentration_supplier"])
    expect(page.locator("table.results tbody tr").first).to_contain_text(
        demo.PLANTED["concentration_supplier"]
    )

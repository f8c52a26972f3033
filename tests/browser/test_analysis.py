"""Analysis jobs in the browser: Red-flag report -> live status -> report page with its charts."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db.models import Q
from playwright.sync_api import expect

from explorer import demo
from explorer.models import Award
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.services]


def test_analyse_opens_a_report_with_charts_and_flags_linked_to_their_contracts(login, worker, alice):
    demo.seed(awards=3000, seed=23)
    page = login(alice)
    page.goto("/")

    page.get_by_role("button", name="Red-flag report").click()
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
    expect(page.get_by_label("Procuring entity", exact=True)).to_have_value(
        demo.PLANTED["concentration_agency"]
    )
    expect(page.get_by_label("Supplier", exact=True)).to_have_value(demo.PLANTED["concentration_supplier"])
    expect(page.locator("table.results tbody tr").first).to_contain_text(
        demo.PLANTED["concentration_supplier"]
    )


def test_scan_all_text_shows_its_result_set_which_exports_to_exactly_those_awards(login, worker, alice):
    demo.seed(awards=800, seed=24)
    page = login(alice)
    page.goto("/?amount_min=10000")

    page.get_by_text("Scan all text").click()
    page.get_by_label("Text or pattern").fill("fuel")
    page.get_by_role("button", name="Scan every matching award").click()
    scan = page.locator("#scan-jobs .job-status")
    expect(scan.get_by_role("link", name="Show the matches")).to_be_visible(timeout=60_000)
    matches = int(re.search(r"Done: ([\d,]+) matches", scan.inner_text()).group(1).replace(",", ""))
    expected = Award.objects.filter(amount__gte=10000).filter(
        Q(title__icontains="fuel") | Q(notice__title__icontains="fuel")
    )
    assert matches == expected.count() > 0

    scan.get_by_role("link", name="Show the matches").click()
    expect(page.locator(".notice")).to_contain_text("matches of the scan for fuel")
    expect(page.locator(".summary")).to_contain_text(f"{matches:,} awards")
    screenshot(page, "scan-result-set")

    page.locator("#search-actions").get_by_role("button", name="Export to CSV").click()
    download = page.locator("#search-actions .job-status").get_by_role("link", name="Download")
    expect(download).to_be_visible(timeout=60_000)
    body = page.request.get(download.get_attribute("href")).text()
    ids = {row[-1] for row in csv.reader(io.StringIO(body.lstrip("\ufeff")))} - {"Explorer award id"}
    assert ids == {str(p) for p in expected.values_list("public_id", flat=True)}

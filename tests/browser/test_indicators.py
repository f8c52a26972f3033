"""The indicators in a real browser: the flag facet, the filter in the URL, the badges on
the rows, the award page's evidence and the notice page."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from explorer import demo
from explorer.indicators import engine
from explorer.models import Award
from tests.browser.conftest import screenshot
from tests.explorer.test_indicators import D, award, notice

pytestmark = [pytest.mark.browser, pytest.mark.services]


def test_flag_facet_filter_badges_award_and_notice_pages(login, alice):
    demo.seed(awards=300, seed=3)
    for i in range(4):
        n = notice(closing=D + dt.timedelta(days=3), abc="1000", title=f"Short notice {i}")
        award(n, amount="100", day=D + dt.timedelta(days=30))
    engine.compute_all()
    flagged = Award.objects.filter(flags__contains=["R003"]).count()
    assert flagged == 4
    page = login(alice)

    page.goto("/")
    facet = page.locator(".facet").filter(has_text="Indicator").locator("li a", has_text="R003")
    expect(facet).to_contain_text("Short submission period")
    facet.click()
    expect(page).to_have_url(re.compile(r"[?&]flag=R003"))
    assert parse_qs(urlparse(page.url).query)["flag"] == ["R003"]
    expect(page.locator(".summary")).to_contain_text(f"{flagged} awards")
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(flagged)
    expect(rows.locator('a.flag[data-flag="R003"]')).to_have_count(flagged)
    expect(page.locator(".facet li.active")).to_contain_text("R003")
    screenshot(page, "indicators-search")

    # The shared URL alone reproduces it.
    page.goto(page.url)
    expect(page.locator("table.results tbody tr")).to_have_count(flagged)

    rows.first.locator("td:nth-child(2) a").first.click()
    expect(page.locator("table.indicators")).to_contain_text("Short submission period")
    expect(page.locator('table.indicators tr[data-flag="R003"]')).to_contain_text("threshold")
    page.get_by_role("link", name="its page").click()
    expect(page).to_have_url(re.compile(r"/notices/[0-9a-f-]{36}/$"))
    expect(page.locator("h1")).to_contain_text("Short notice")
    expect(page.locator('table.indicators tr[data-flag="R003"]')).to_contain_text("days")
    expect(page.locator("table.results").first).to_contain_text("100.00")
    screenshot(page, "indicators-notice")

    page.goto("/notices/?flag=R003")
    expect(page.locator("table.notices tbody tr")).to_have_count(4)

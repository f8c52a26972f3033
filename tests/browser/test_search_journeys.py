"""The analyst's journeys through the search page in Chromium (issue 17), each ending with
a fresh load of the URL it reached: the URL is the one source of truth, so the form,
chips, facets, sort, rows and pager must be what that load shows."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.db.models import Count
from playwright.sync_api import BrowserContext, Page, expect

from explorer import demo
from explorer.models import Award, Supplier
from explorer.search import SearchForm
from tests.browser.conftest import ARTIFACTS, screenshot, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.services]
DASH = "\N{EN DASH}"  # of the pager's position, "Awards 51-100 of 400"


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def state(page: Page) -> dict[str, Any]:
    """What the analyst sees of the search: every form value, the chips, the active
    facets, the count, the rows and the pager."""
    expect(page.locator("#search .summary")).to_be_visible()
    return page.evaluate(
        """() => {
        const text = (sel) => Array.from(document.querySelectorAll(sel), (e) => e.textContent.trim());
        const form = {};
        document.querySelectorAll(".search-form [name]").forEach((e) => { form[e.name] = e.value; });
        return {
          form,
          chips: text(".filter-chip .chip-label"),
          active: Array.from(document.querySelectorAll(".facet li.active a"), (a) => a.lastChild.textContent),
          summary: document.querySelector(".summary").textContent.replace(/\\s+/g, " ").trim(),
          rows: Array.from(document.querySelectorAll("table.results tbody a[href^='/awards/']"),
                           (a) => a.getAttribute("href")),
          pager: text(".pager a"),
          position: text(".pager .position"),
        };
    }"""
    )


def same_as_fresh_load(page: Page) -> dict[str, Any]:
    """The state the page shows now, after checking a fresh load of its URL shows it too."""
    seen = state(page)
    page.goto(page.url)
    expect(page.locator("#result-totals:not([hx-get])")).to_have_count(1)  # totals settled
    assert state(page) == seen
    return seen


def count_of(page: Page) -> int:
    summary = page.locator("#search .summary")
    expect(summary).to_contain_text(re.compile(r"[\d,]+ awards, PHP"))
    return int(re.search(r"([\d,]+) awards", summary.inner_text()).group(1).replace(",", ""))


def expected_count(**filters: str) -> int:
    form = SearchForm(filters)
    assert form.is_valid(), form.errors
    return form.search.awards().count()


def clicked(page: Page, locator: Any) -> None:
    """Click a link of the results and wait for its swap to land in the address bar."""
    href = locator.get_attribute("href")
    locator.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))


def test_facets_then_the_form_keeps_the_facets(login, alice):
    demo.seed(awards=600, seed=21)
    page = login(alice)
    page.goto("/")
    page.get_by_label("Keywords").fill("supply")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q=supply$"))

    for facet in ("Business category", "Procurement mode"):
        link = page.locator(".facet").filter(has_text=facet).locator("li a").first
        clicked(page, link)
    filters = {name: values[0] for name, values in query_of(page.url).items()}
    assert set(filters) == {"q", "category", "mode"}
    faceted = count_of(page)
    assert faceted == expected_count(**filters)

    # The form now holds the facets: adding an amount narrows the same search.
    amounts = sorted(a for a in expected_awards(**filters).values_list("amount", flat=True) if a)
    floor = str(amounts[len(amounts) // 2].quantize(Decimal(1)))
    page.get_by_label("Amount from (PHP)").fill(floor)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"amount_min="))

    assert {name: values[0] for name, values in query_of(page.url).items()} == {
        **filters,
        "amount_min": floor,
    }
    narrowed = count_of(page)
    assert narrowed == expected_count(**filters, amount_min=floor)
    assert 0 < narrowed < faceted
    seen = same_as_fresh_load(page)
    assert seen["form"]["category"] == filters["category"]
    assert seen["form"]["mode"] == filters["mode"]
    assert set(seen["active"]) == {filters["category"], filters["mode"]}


def expected_awards(**filters: str) -> Any:
    form = SearchForm(filters)
    assert form.is_valid(), form.errors
    return form.search.awards()


def test_a_new_keyword_typed_on_page_two_starts_at_the_first_page(login, alice):
    demo.seed(awards=400, seed=22)
    page = login(alice)
    page.goto("/?sort=-amount")
    first_rows = state(page)["rows"]
    clicked(page, page.get_by_role("link", name="Next page"))
    assert "after" in query_of(page.url)
    expect(page.locator(".pager .position")).to_contain_text(f"Awards 51{DASH}100 of 400")

    page.get_by_label("Keywords").fill("construction")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=construction"))

    query = query_of(page.url)
    assert query == {"q": ["construction"], "sort": ["-amount"]}  # no cursor, no page number
    seen = same_as_fresh_load(page)
    expected = [f"/awards/{a.public_id}/" for a in expected_awards(q="construction", sort="-amount")[:50]]
    assert seen["rows"] == expected
    assert seen["rows"] != first_rows
    assert seen["position"][0].startswith(f"Awards 1{DASH}")
    assert "Previous page" not in seen["pager"]


def test_previous_and_first_page_come_back_to_the_same_rows(login, alice):
    demo.seed(awards=260, seed=23)
    page = login(alice)
    page.goto("/?sort=amount")
    pages = [state(page)]
    for _ in range(2):
        clicked(page, page.get_by_role("link", name="Next page"))
        pages.append(state(page))
    assert pages[2]["position"] == [f"Awards 101{DASH}150 of 260"]
    assert pages[2]["pager"] == ["First page", "Previous page", "Next page"]

    clicked(page, page.get_by_role("link", name="Previous page"))
    back = same_as_fresh_load(page)
    assert back["rows"] == pages[1]["rows"]
    assert back["position"] == [f"Awards 51{DASH}100 of 260"]

    clicked(page, page.get_by_role("link", name="First page"))
    assert page.url.endswith("/?sort=amount")
    assert same_as_fresh_load(page)["rows"] == pages[0]["rows"]

    # And to the very end and back: the last page is short, Previous is a full page.
    while page.get_by_role("link", name="Next page").count():
        clicked(page, page.get_by_role("link", name="Next page"))
    assert state(page)["position"] == [f"Awards 251{DASH}260 of 260"]
    clicked(page, page.get_by_role("link", name="Previous page"))
    expected = [f"/awards/{a.public_id}/" for a in expected_awards(sort="amount")[200:250]]
    assert same_as_fresh_load(page)["rows"] == expected


def test_a_status_is_chosen_from_the_datas_values_with_their_counts(login, alice):
    demo.seed(awards=300, seed=24)
    status, n = Award.objects.order_by().values_list("status").annotate(n=Count("id")).order_by("-n")[0]
    page = login(alice)
    page.goto("/")
    box = page.get_by_label("Award status")
    labels = box.locator("option").all_inner_texts()
    assert f"{status} ({n:,})" in labels
    box.select_option(status)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"status="))

    assert count_of(page) == n
    seen = same_as_fresh_load(page)
    assert seen["form"]["status"] == status
    assert f"Award status: {status}" in seen["chips"]
    # Typed in any case, the old free text found nothing; a choice cannot be mistyped.
    assert expected_count(status=status.lower()) == 0


def test_chips_name_each_filter_in_words_and_remove_it(login, alice):
    demo.seed(awards=300, seed=25)
    area = Award.objects.exclude(area=None).select_related("area").first().area.name
    page = login(alice)
    page.goto(f"/?area={area}&sort=-amount")
    chips = page.locator(".filter-chips")
    expect(chips.locator(".filter-chip .chip-label")).to_have_text(
        [f"Area of delivery: {area}", "Sort: amount, largest first"]
    )

    chips.get_by_role("link", name=f"Remove Area of delivery: {area}").click()
    expect(page.locator(".filter-chip .chip-label")).to_have_text(["Sort: amount, largest first"])
    assert query_of(page.url) == {"sort": ["-amount"]}
    seen = same_as_fresh_load(page)
    assert seen["form"]["area"] == ""
    assert seen["form"]["sort"] == "-amount"
    assert count_of(page) == Award.objects.count()

    page.locator(".filter-chips").get_by_role("link", name="Remove Sort: amount, largest first").click()
    expect(page.locator(".filter-chip")).to_have_count(0)
    assert page.url.endswith("/")


def test_a_supplier_is_picked_from_the_suggestions(login, alice):
    demo.seed(awards=300, seed=26)
    supplier = Supplier.objects.filter(awards__isnull=False).order_by("name").distinct().first()
    partial = supplier.name.split()[0].lower()
    page = login(alice)
    page.goto("/")
    box = page.get_by_label("Supplier")
    box.press_sequentially(partial, delay=30)
    options = page.locator("#supplier-suggestions option")
    expect(options.first).to_be_attached()
    assert supplier.name in options.evaluate_all("options => options.map(o => o.value)")

    # Searching the partial name finds no supplier of that exact name: the page offers them.
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".unmatched")).to_contain_text(f"No supplier is named exactly “{partial}”")
    clicked(page, page.locator(".unmatched").get_by_role("link", name=supplier.name, exact=True))

    assert query_of(page.url)["supplier"] == [supplier.name]
    assert count_of(page) == Award.objects.filter(supplier=supplier).count()
    seen = same_as_fresh_load(page)
    assert seen["form"]["supplier"] == supplier.name
    assert page.locator(".unmatched").count() == 0


def test_without_javascript_the_form_keeps_the_facets_and_pages_work(live, browser, alice):
    demo.seed(awards=400, seed=27)
    context = browser.new_context(base_url=live.url, java_script_enabled=False)
    context.add_cookies([session_cookie(alice, live)])
    page = context.new_page()
    page.goto("/?q=supply")
    page.locator(".facet").filter(has_text="Procurement mode").locator("li a").first.click()
    mode = query_of(page.url)["mode"][0]
    page.locator(".search-filters summary").click()  # folded without JavaScript
    page.get_by_label("Amount from (PHP)").fill("1000")
    page.get_by_role("button", name="Search").click()

    assert query_of(page.url) == {"q": ["supply"], "mode": [mode], "amount_min": ["1000"]}
    assert count_of(page) == expected_count(q="supply", mode=mode, amount_min="1000")
    context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_the_page_fits_the_screen_with_results_first_on_a_phone(live, new_context, alice, width):
    demo.seed(awards=300, seed=28)
    context: BrowserContext = new_context(base_url=live.url, viewport={"width": width, "height": 900})
    context.add_cookies([session_cookie(alice, live)])
    page = context.new_page()
    area = Award.objects.exclude(area=None).select_related("area").first().area.name
    page.goto(f"/?q=supply&area={area}&sort=-amount")
    expect(page.locator("#result-totals:not([hx-get])")).to_have_count(1)

    assert page.evaluate("document.documentElement.scrollWidth") == width
    filters = page.locator("details.search-filters")
    amount = page.locator("table.results td.amount").first
    expect(amount).to_be_visible()
    box = amount.bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    results = page.locator("table.results").bounding_box()
    facets = page.locator("aside.facets").bounding_box()
    if width == 390:
        expect(filters).not_to_have_attribute("open", "")  # folded: the results come first
        assert results["y"] < facets["y"]
    else:
        expect(filters).to_have_attribute("open", "")
        assert facets["x"] < results["x"]
    screenshot(page, f"search-{width}")
    page.screenshot(path=str(ARTIFACTS / f"search-{width}-screen.png"))  # what the first screen shows
    page.locator(".pager").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"search-{width}-pager.png"))

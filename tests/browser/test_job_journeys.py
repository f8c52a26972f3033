"""Issue 17, the job side, walked as an analyst walks it: Chromium, daphne, a real worker.

Each test follows the user's clicks and then checks the result against another way of
getting it (the API, a fresh load of the same page, the downloaded bytes read as Excel
reads them). Slow jobs come from the worker's TEST_PROGRESS_PAUSE_MS, never from sleeps.
"""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from django.db.models import Count
from playwright.sync_api import Page, expect

from explorer import demo
from explorer.models import Award
from explorer.search import SearchForm
from jobs.models import Job, State
from tests.browser.conftest import screenshot
from tests.browser.test_jobs import SLOW_WORKER, job_element, job_started_by, wait_socket_open
from tests.explorer.test_scan import python_scan
from tests.jobs.helpers import api_submit
from tests.services import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.services]

# Counts what htmx reports when a pushed fragment has nowhere to go.
COUNT_OOB_ERRORS = """
window.oobErrors = 0;
document.addEventListener("htmx:oobErrorNoTarget", () => { window.oobErrors += 1; });
"""

# A hidden tab and a browser that can notify, both under the test's control: the page's
# own code runs unchanged, only what the browser would tell it is scripted.
HIDDEN_TAB_AND_NOTIFICATIONS = """
window.tabHidden = false;
Object.defineProperty(document, "visibilityState", { get: () => (window.tabHidden ? "hidden" : "visible") });
Object.defineProperty(document, "hidden", { get: () => window.tabHidden });
window.shownNotifications = [];
window.permissionAsked = 0;
class FakeNotification {
  constructor(title, options) {
    const url = options.data && options.data.url;
    window.shownNotifications.push({ title: title, body: options.body, url: url });
  }
  close() {}
}
FakeNotification.permission = "default";
FakeNotification.requestPermission = () => {
  window.permissionAsked += 1;
  FakeNotification.permission = "granted";
  return Promise.resolve("granted");
};
window.Notification = FakeNotification;
"""


def finished(job_id: str) -> Job:
    return wait_for(
        lambda: Job.objects.filter(
            pk=job_id, state__in=[State.SUCCEEDED, State.FAILED, State.CANCELLED]
        ).first(),
        timeout=60,
        what=f"job {job_id} to finish",
    )


def open_scan_form(page: Page) -> None:
    page.locator(".scan-form summary").click()
    expect(page.get_by_label("Text or pattern")).to_be_visible()


def test_a_regex_scan_from_the_page_scans_the_search_and_finds_what_the_api_finds(
    login, worker, alice, client
):
    demo.seed(awards=600, seed=41)
    commonest = Award.objects.values("procurement_mode").annotate(n=Count("id")).order_by("-n").first()
    mode = commonest["procurement_mode"]
    in_mode = Award.objects.filter(procurement_mode=mode)
    pattern = r"\b(rice|fuel|supply|repair)\b"
    page = login(alice)
    page.goto(f"/?mode={mode.replace(' ', '+')}")
    wait_socket_open(page)
    open_scan_form(page)

    # A backreference is refused in the page, in words, and starts nothing.
    page.get_by_label("Text or pattern").fill(r"(\w+) \1")
    page.get_by_label("Regular expression").check()
    page.get_by_role("button", name="Scan every matching award").click()
    refusal = page.locator("#scan-jobs [role=alert]")
    expect(refusal).to_contain_text("Backreferences")
    assert not Job.objects.exists()

    page.get_by_label("Text or pattern").fill(pattern)
    page.get_by_role("button", name="Scan every matching award").click()
    status = page.locator("#scan-jobs .job-status[data-job-id]")
    expect(status).to_have_attribute("data-state", "succeeded", timeout=60_000)
    expect(refusal).to_have_count(0)  # the refusal went when the good pattern started
    job = Job.objects.get(kind="scan")
    # The flag is the scan's mode, and the search's mode stayed the filter (bug 1: the
    # checkbox was named `mode`, so it became the filter mode=regex and scanned nothing).
    assert job.params["mode"] == "regex"
    assert job.params["filters"] == {"mode": mode}
    expected = python_scan(pattern, regex=True, case_sensitive=False, fields=job.params["fields"])
    expected &= set(in_mode.values_list("id", flat=True))
    assert expected
    expect(status).to_contain_text(f"Done: {len(expected):,} matches in {in_mode.count():,} awards")

    # The API, asked the same, finds the same.
    client.force_login(alice)
    api_job = api_submit(client, "scan", pattern=pattern, mode="regex", filters={"mode": mode}).json()
    assert (
        finished(api_job["id"]).result == job.result == {"scanned": in_mode.count(), "matches": len(expected)}
    )

    # The matches open as a search; a fresh load of its URL shows the same count.
    status.get_by_role("link", name="Show the matches").click()
    expect(page.locator(".summary")).to_contain_text(f"{len(expected):,} awards")
    page.goto(page.url)
    expect(page.locator(".summary")).to_contain_text(f"{len(expected):,} awards")


def test_cancel_a_running_job_on_its_page_with_a_live_timeline_then_try_again(login, start_worker, alice):
    demo.seed(awards=4500, seed=42)
    start_worker(extra_env=SLOW_WORKER)
    page = login(alice)
    page.add_init_script(COUNT_OOB_ERRORS)
    page.goto("/")
    wait_socket_open(page)
    job = job_started_by(page, "Export to CSV")
    job_element(page, job).get_by_role("link", name="Export to CSV").click()
    expect(page.locator("h1")).to_have_text("Export to CSV")
    wait_socket_open(page)

    timeline = page.locator("#job-timeline")
    element = job_element(page, job)
    expect(element).to_have_attribute("data-state", "running", timeout=30_000)
    expect(timeline).to_contain_text("started", timeout=30_000)  # live: no reload
    expect(timeline.locator("[data-attempts]")).to_have_text("1")
    expect(element).to_contain_text("/ 4,500 awards")

    element.get_by_role("button", name="Cancel").click()
    expect(timeline).to_contain_text("cancel requested")
    expect(element).to_have_attribute("data-state", "cancelled", timeout=30_000)
    expect(timeline.locator("li").last).to_contain_text("cancelled")
    job.refresh_from_db()
    assert job.state == State.CANCELLED
    assert [entry["event"] for entry in job.history][-2:] == ["cancel requested", "cancelled"]
    assert not job.file_path
    live = timeline.locator("li").all_inner_texts()
    screenshot(page, "journey-cancelled-job")
    page.reload()  # a fresh load shows exactly what the live page showed
    assert page.locator("#job-timeline li").all_inner_texts() == live
    assert page.evaluate("() => window.oobErrors") == 0

    page.get_by_role("button", name="Try again").click()
    expect(page).not_to_have_url(re.compile(str(job.id)))
    again = Job.objects.exclude(pk=job.pk).get()
    assert again.params == job.params
    expect(page.locator(f"#job-{again.id}")).to_have_attribute("data-state", "succeeded", timeout=60_000)
    expect(page.locator("#job-timeline")).to_contain_text("succeeded")


def test_the_downloaded_files_open_as_excel_would_open_them(login, worker, alice):
    demo.seed(awards=120, seed=43)
    # One of the search's awards gets accented letters (its search words stay the same).
    first = SearchForm({"q": "road"}).search.awards().order_by("id").first()
    Award.objects.filter(pk=first.pk).update(title="Road in PARAÑAQUE, Las Piñas")
    page = login(alice)
    page.goto("/?q=road")
    wait_socket_open(page)
    matching = SearchForm({"q": "road"}).search.awards().count()  # what the page's search finds
    assert matching

    files = {}
    for button in ("Export to Excel", "Export to CSV"):  # in the panel's order (job_started_by)
        job = job_started_by(page, button)
        element = job_element(page, job)
        expect(element).to_have_attribute("data-state", "succeeded", timeout=60_000)
        with page.expect_download() as download:
            element.get_by_role("link", name="Download").click()
        files[button] = (download.value.suggested_filename, download.value.path().read_bytes())

    name, body = files["Export to CSV"]
    assert re.fullmatch(r"philgeps-awards-\d{8}-\d{6}-[0-9a-f]{8}\.csv", name)
    assert body.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only after this mark
    text = body.decode("utf-8-sig")
    assert "Ã" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) - 1 == matching
    assert "Road in PARAÑAQUE, Las Piñas" in {row[2] for row in rows}

    name, body = files["Export to Excel"]
    assert re.fullmatch(r"philgeps-awards-\d{8}-\d{6}-[0-9a-f]{8}\.xlsx", name)
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book["Awards"]
    assert sheet.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(sheet.max_column)
    assert sheet.auto_filter.ref == f"A1:{last}{matching + 1}"
    headers = [cell.value for cell in sheet[1]]
    amount = sheet.cell(row=2, column=headers.index("Contract amount (PHP)") + 1)
    assert amount.number_format == "#,##0.00"
    assert sheet.cell(row=2, column=headers.index("Award date") + 1).is_date
    about = {row[0]: row[1] for row in book["About this export"].iter_rows(values_only=True) if row[0]}
    assert about["Keywords"] == "road"
    assert about["Awards"] == matching


def test_a_job_finishing_in_a_hidden_tab_shows_in_its_title_and_notifies_once_allowed(
    login, start_worker, alice
):
    demo.seed(awards=4500, seed=44)
    start_worker(extra_env=SLOW_WORKER)
    page = login(alice)
    page.add_init_script(HIDDEN_TAB_AND_NOTIFICATIONS)
    page.add_init_script(COUNT_OOB_ERRORS)
    page.goto("/")
    wait_socket_open(page)
    title = page.title()

    # Never a prompt on load: a button asks, once.
    assert page.evaluate("() => window.permissionAsked") == 0
    allow = page.get_by_role("button", name="Notify me on this computer when a job finishes")
    allow.click()
    expect(allow).to_be_hidden()
    expect(page.locator("#notify-state")).to_have_text("Desktop notifications on")
    assert page.evaluate("() => window.permissionAsked") == 1

    job = job_started_by(page, "Export to Excel")
    expect(job_element(page, job)).to_have_attribute("data-state", "running", timeout=30_000)
    page.evaluate("() => { window.tabHidden = true; document.dispatchEvent(new Event('visibilitychange')); }")
    expect(job_element(page, job)).to_have_attribute("data-state", "succeeded", timeout=60_000)
    expect(page).to_have_title(f"(1) Export ready · {title}")
    shown = page.evaluate("() => window.shownNotifications")
    assert [(note["title"], note["url"]) for note in shown] == [
        ("Export to Excel is ready", f"/jobs/{job.id}/download/")  # it links the download
    ]
    assert shown[0]["body"].startswith("Done: 4,500 rows")

    page.evaluate(
        "() => { window.tabHidden = false; document.dispatchEvent(new Event('visibilitychange')); }"
    )
    expect(page).to_have_title(title)
    assert page.evaluate("() => window.oobErrors") == 0


def test_updates_of_jobs_not_on_the_page_become_a_toast_and_no_htmx_errors(
    login, start_worker, alice, client
):
    demo.seed(awards=300, seed=45)
    start_worker(extra_env={"TEST_PROGRESS_PAUSE_MS": "300"})
    award = Award.objects.order_by("id").first()
    page = login(alice)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.add_init_script(COUNT_OOB_ERRORS)
    page.goto(f"/awards/{award.public_id}/")  # no job element on an award page
    wait_socket_open(page)

    client.force_login(alice)
    job_id = api_submit(client, "export", format="csv", filters={}).json()["id"]
    toast = page.locator(".toast")
    expect(toast).to_contain_text("Export to CSV finished", timeout=60_000)
    expect(toast.get_by_role("link", name="Download")).to_have_attribute("href", f"/jobs/{job_id}/download/")
    assert len(Job.objects.get(pk=job_id).history) >= 3  # it did push several updates
    assert page.evaluate("() => window.oobErrors") == 0
    assert not [text for text in errors if "oobErrorNoTarget" in text]


def test_without_javascript_a_large_count_is_a_link_not_a_counting_that_never_ends(
    live, browser, login, alice
):
    from tests.browser.conftest import session_cookie

    demo.seed(awards=5_200, seed=46)  # past the page's count cap of 5,000
    context = browser.new_context(base_url=live.url, java_script_enabled=False)
    context.add_cookies([session_cookie(alice, live)])
    page = context.new_page()
    page.goto("/")
    summary = page.locator("#result-totals")
    expect(summary).to_contain_text("More than 5,000 awards")
    expect(summary.get_by_text("counting…")).to_be_hidden()  # nothing would ever finish it
    summary.get_by_role("link", name="Count them exactly").click()
    expect(page.locator("h1")).to_have_text("Count and total")
    expect(page.locator("#result-totals")).to_contain_text("5,200 awards")
    page.get_by_role("link", name="Back to the search").click()
    expect(page.locator("#result-totals")).to_contain_text("More than 5,000 awards")
    context.close()

    # With JavaScript the same page shows "counting…" and then the exact figures.
    scripted = login(alice)
    scripted.goto("/")
    expect(scripted.locator("#result-totals")).to_contain_text("5,200 awards", timeout=30_000)
    expect(scripted.get_by_role("link", name="Count them exactly")).to_have_count(0)

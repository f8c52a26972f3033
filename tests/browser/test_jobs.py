"""The job centre in a real browser (issue 5): daphne, a real celery worker, Chromium.

Jobs are kept queued by starting the worker only when the test wants them to run; a
running job is made slow enough to watch and cancel by the worker's TEST_PROGRESS_PAUSE_MS
(a pause after each progress write), never by sleeping here.
"""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from explorer import demo
from explorer.models import Award
from jobs.models import Job, State
from tests.browser.conftest import screenshot
from tests.conftest import shared_file

pytestmark = [pytest.mark.browser, pytest.mark.services]

SLOW_WORKER = {"TEST_PROGRESS_PAUSE_MS": "1500"}

# A WebSocket that never opens, as behind a proxy that drops the upgrade: it fails
# (close code 1006) like a blocked connection, and the server never sees it.
BLOCK_WEBSOCKETS = """
window.blockedSockets = 0;
window.WebSocket = class BlockedWebSocket extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    Object.assign(this, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
    window.blockedSockets += 1;
    setTimeout(() => {
      this.readyState = 3;
      if (this.onerror) { this.onerror(new Event("error")); }
      if (this.onclose) { this.onclose(new CloseEvent("close", {code: 1006})); }
    }, 20);
  }
  send() { throw new DOMException("blocked", "InvalidStateError"); }
  close() {}
};
"""


def job_element(page: Page, job: Job):
    return page.locator(f"#job-{job.id}")


def job_started_by(page: Page, button: str) -> Job:
    """Click a job button and return the job whose status element replaced it."""
    before = page.locator(".job-status").count()
    page.get_by_role("button", name=button).click()
    expect(page.locator(".job-status")).to_have_count(before + 1)
    return Job.objects.get(pk=page.locator(".job-status").nth(before).get_attribute("data-job-id"))


def wait_socket_open(page: Page) -> None:
    page.wait_for_function("() => window.jobsSocketOpen === true")


def test_export_queue_history_toast_and_download(login, start_worker, alice, bob):
    demo.seed(awards=300, seed=21)
    tab = login(alice)
    tab.goto("/")
    second_tab = tab.context.new_page()
    second_tab.goto("/")  # opened before the click: it still shows the Excel button

    # Two exports on the bulk queue and no worker yet: both wait, in order.
    csv_job = job_started_by(tab, "Export to CSV")
    expect(job_element(tab, csv_job)).to_contain_text("Queued, position 1")
    tab.get_by_role("button", name="Export to Excel").dblclick()
    expect(tab.locator(".job-status")).to_have_count(2)
    xlsx_job = Job.objects.exclude(pk=csv_job.pk).get()
    expect(job_element(tab, xlsx_job)).to_contain_text("Queued, position 2")
    expect(tab.get_by_role("button", name=re.compile("Export to"))).to_have_count(0)

    # The second tab's stale button answers with the same job, not a new one.
    second_tab.get_by_role("button", name="Export to Excel").click()
    expect(job_element(second_tab, xlsx_job)).to_have_attribute("data-state", "queued")
    assert Job.objects.filter(owner=alice).count() == 2

    # After a reload the buttons are still the pending jobs, rendered from the database.
    tab.reload()
    expect(job_element(tab, xlsx_job)).to_contain_text("Queued")
    expect(tab.get_by_role("button", name=re.compile("Export to"))).to_have_count(0)
    wait_socket_open(tab)

    # Cancel the first while queued: the second moves up on this page without a reload.
    job_element(tab, csv_job).get_by_role("button", name="Cancel").click()
    expect(job_element(tab, csv_job)).to_have_attribute("data-state", "cancelled")
    expect(job_element(tab, xlsx_job)).to_have_attribute("data-queue-position", "1")
    expect(job_element(tab, xlsx_job)).to_contain_text("Queued, position 1")

    # Move away: the first tab to the history, the second to an award page; bob watches too.
    tab.goto("/jobs/")
    expect(job_element(tab, xlsx_job)).to_have_attribute("data-state", "queued")
    expect(job_element(tab, csv_job)).to_contain_text("Cancelled")
    second_tab.goto(f"/awards/{Award.objects.first().public_id}/")
    bobs = login(bob)
    bobs.goto("/jobs/")
    for page in (tab, second_tab, bobs):
        wait_socket_open(page)

    start_worker()
    expect(job_element(tab, xlsx_job)).to_have_attribute("data-state", "succeeded", timeout=60_000)
    toast = second_tab.locator(".toast")
    expect(toast).to_contain_text("Export to Excel finished")
    screenshot(second_tab, "jobs-toast")
    expect(tab.locator("table.jobs tbody tr")).to_have_count(2)
    expect(tab.locator("table.jobs tbody tr").first).to_contain_text("Done: 300 rows")
    screenshot(tab, "jobs-history")

    with second_tab.expect_download() as download:
        toast.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()), read_only=True)
    assert sum(1 for _ in book["Awards"].iter_rows(values_only=True)) - 1 == 300 == Award.objects.count()

    # Bob saw none of it: no toast, an empty history, and 404 for alice's job and file.
    expect(bobs.locator(".toast")).to_have_count(0)
    expect(bobs.locator("main")).to_contain_text("No jobs yet")
    assert bobs.goto(f"/jobs/{xlsx_job.id}/").status == 404
    assert bobs.request.get(f"/jobs/{xlsx_job.id}/download/").status == 404
    bobs.goto("/")
    expect(bobs.get_by_role("button", name="Export to Excel")).to_be_enabled()


def test_running_export_shows_progress_live_and_cancel_stops_it(login, start_worker, alice):
    demo.seed(awards=4500, seed=22)
    start_worker(extra_env=SLOW_WORKER)
    page = login(alice)
    page.goto("/")
    wait_socket_open(page)

    job = job_started_by(page, "Export to Excel")
    element = job_element(page, job)
    expect(element).to_have_attribute("data-state", "running")
    expect(element).to_have_attribute("data-percent", "0")
    expect(element).to_contain_text("0 / 4,500 awards")
    # The bar moves as the worker writes rows: pushed over the socket, no reload.
    # 2,000 of 4,500 rows (the writer reports every 2,000); the slow worker holds it there.
    # Before them the export's reader process starts: seconds on a loaded machine, more
    # than expect()'s default 5.
    expect(element).to_have_attribute("data-percent", "44", timeout=30_000)
    expect(element.locator("progress")).to_have_attribute("value", "44")
    expect(element).to_contain_text("2,000 / 4,500 awards")
    screenshot(page, "jobs-running")

    element.get_by_role("button", name="Cancel").click()
    expect(element).to_have_attribute("data-state", "cancelled", timeout=30_000)
    expect(element).to_contain_text("Cancelled")
    job.refresh_from_db()
    assert job.state == State.CANCELLED
    assert 0 < job.progress_done < 4500
    assert not job.file_path
    page.reload()  # the button is back for a new export
    expect(page.get_by_role("button", name="Export to Excel")).to_be_enabled()


def test_with_the_websocket_blocked_the_page_polls_to_completion(login, worker, alice):
    demo.seed(awards=120, seed=23)
    page = login(alice)
    page.context.add_init_script(BLOCK_WEBSOCKETS)
    polls: list[str] = []
    page.on("request", lambda request: "/status/" in request.url and polls.append(request.url))
    page.goto("/")
    page.wait_for_function("() => window.blockedSockets > 0")

    job = job_started_by(page, "Export to CSV")
    expect(job_element(page, job)).to_have_attribute("data-state", "succeeded", timeout=60_000)

    expect(job_element(page, job)).to_contain_text("Done: 120 rows")
    assert polls  # it got there by polling the status fragment
    assert page.evaluate("() => window.jobsSocketOpen") is False


def test_staff_import_page_refuses_a_bad_file_and_imports_a_sample(login, start_worker, staff, bob):
    start_worker(extra_env=SLOW_WORKER)
    page = login(staff)
    page.goto("/")
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.locator("h1")).to_have_text("Import PhilGEPS data")
    wait_socket_open(page)

    page.get_by_label("PhilGEPS file").set_input_files(str(shared_file("philgeps-areas.csv")))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#import-result [role=alert]")).to_contain_text("not a PhilGEPS bid notice")
    assert not Job.objects.exists()

    page.get_by_label("PhilGEPS file").set_input_files(str(shared_file("philgeps-v2-2024q4-sample-200.csv")))
    page.get_by_role("button", name="Upload and import").click()
    status = page.locator("#import-result .job-status")
    expect(status).to_contain_text("Import of philgeps-v2-2024q4-sample-200.csv")
    expect(status).to_have_attribute("data-state", "running")
    expect(status).to_contain_text("200 / 200 rows")  # progress by rows, pushed live
    expect(status).to_have_attribute("data-state", "succeeded", timeout=60_000)
    expect(status).to_contain_text("Done: 200 rows read, 0 refused; 144 new awards")
    assert Award.objects.count() == 144

    status.get_by_role("link", name=re.compile("Import of")).click()
    expect(page.locator('[data-count="rows_read"]')).to_have_text("200")
    expect(page.locator('[data-count="awards_new"]')).to_have_text("144")
    screenshot(page, "jobs-import-done")

    analyst = login(bob)
    analyst.goto("/")
    expect(analyst.get_by_role("link", name="Import", exact=True)).to_have_count(0)
    assert analyst.goto("/jobs/import/").status == 404


def test_try_again_on_a_job_that_failed_while_the_page_was_open_starts_a_new_one(login, start_worker, alice):
    demo.seed(awards=60, seed=24)
    start_worker(extra_env={"EXPORT_MAX_ROWS": "10"})  # every export of this data fails
    page = login(alice)
    page.goto("/")
    wait_socket_open(page)

    job = job_started_by(page, "Export to CSV")
    element = job_element(page, job)
    # The failure arrives over the socket: a fragment rendered without the page's request.
    expect(element).to_have_attribute("data-state", "failed", timeout=60_000)
    expect(element).to_contain_text("an export holds at most 10")
    refusals: list[int] = []
    page.on("response", lambda response: response.status == 403 and refusals.append(response.status))

    element.get_by_role("button", name="Try again").click()

    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    again = Job.objects.exclude(pk=job.pk).get()
    assert page.url.endswith(f"/jobs/{again.id}/")
    assert (again.kind, again.params) == (job.kind, job.params)
    assert refusals == []

"""The import page's chunked upload in a real browser: a 200 MB PhilGEPS file goes up in
parts with a progress bar while daphne's memory stays flat, and is imported; a part lost
on the way is sent again from where the server's copy ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from jobs.models import Job, State
from tests.conftest import shared_file
from tests.test_server import MB, RssSampler

pytestmark = [pytest.mark.browser, pytest.mark.services]
V2 = "philgeps-v2-2024q4-sample-200.csv"

# Every value the upload's progress bar takes, recorded by the page itself.
RECORD_PROGRESS = """
window.uploadProgress = [];
document.addEventListener("DOMContentLoaded", function () {
  var bar = document.querySelector("#upload-progress progress");
  if (!bar) { return; }
  new MutationObserver(function () { window.uploadProgress.push(Number(bar.getAttribute("value"))); })
    .observe(bar, {attributes: true, attributeFilter: ["value"]});
});
"""


def philgeps_csv(path: Path, size: int) -> tuple[Path, int]:
    """A valid PhilGEPS file of just under `size` bytes, and its row count: the real
    sample's header, then its rows over and over (the import reads them all and adds each
    award once). Made here, never committed."""
    header, _, body = shared_file(V2).read_bytes().partition(b"\n")
    lines = body.splitlines(keepends=True)
    count = 0
    with path.open("wb") as out:
        out.write(header + b"\n")
        written = len(header) + 1
        while written + len(body) <= size:
            out.write(body)
            written += len(body)
            count += len(lines)
        for line in lines:
            if written + len(line) > size:
                break
            out.write(line)
            written += len(line)
            count += 1
    return path, count


def import_page(page: Page) -> Page:
    page.add_init_script(RECORD_PROGRESS)
    page.goto("/jobs/import/")
    page.wait_for_function("() => window.jobsSocketOpen === true")
    return page


def test_a_200_mb_file_goes_up_in_parts_with_progress_and_flat_memory_and_is_imported(
    login, live, start_worker, staff, tmp_path
):
    start_worker()
    path, rows = philgeps_csv(tmp_path / "philgeps-2024-q4-big.csv", 200 * MB)
    page = import_page(login(staff))
    chunks: list[str] = []
    page.on("request", lambda request: "/chunk/" in request.url and chunks.append(request.url))

    with RssSampler(live.process.pid) as memory:
        page.get_by_label("PhilGEPS file").set_input_files(str(path))
        page.get_by_role("button", name="Upload and import").click()
        status = page.locator("#import-result .job-status")
        expect(status).to_contain_text("Import of philgeps-2024-q4-big.csv", timeout=180_000)

    progress = page.evaluate("() => window.uploadProgress")
    assert len(chunks) == -(-path.stat().st_size // (4 * MB))  # every part once, none larger
    assert len({value for value in progress if 0 < value < 100}) >= 20, progress  # it moved along
    assert progress == sorted(progress)
    assert memory.peak - memory.baseline < 100 * MB, (memory.baseline, memory.peak)
    expect(status).to_have_attribute("data-state", "succeeded", timeout=300_000)
    job = Job.objects.get(kind="import")
    assert (job.state, job.result["rows_read"], job.result["rows_failed"]) == (State.SUCCEEDED, rows, 0)
    assert job.result["awards_new"] == 144


def test_a_part_lost_on_the_way_is_sent_again_and_the_file_arrives_whole(login, staff, tmp_path, settings):
    path, _ = philgeps_csv(tmp_path / "q4-twice.csv", 10 * MB)
    page = import_page(login(staff))
    lost: list[str] = []

    def lose_the_second_part_once(route: Route) -> None:
        if "offset=4194304" in route.request.url and not lost:
            lost.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/chunk/**", lose_the_second_part_once)
    page.get_by_label("PhilGEPS file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and import").click()

    status = page.locator("#import-result .job-status")
    expect(status).to_contain_text("Import of q4-twice.csv", timeout=60_000)
    assert lost
    job = Job.objects.get(kind="import")
    stored = Path(settings.UPLOAD_ROOT) / job.params["upload"]
    try:
        assert stored.read_bytes() == path.read_bytes()
    finally:
        stored.unlink()  # no worker runs its job here

"""A tour of every page at a desktop (1366 px) and a phone (390 px) width: a screenshot of
each into tests/artifacts/tour-<page>-<width>.png, the page exactly as wide as the window
(nothing pushes it sideways), and axe-core (vendored in tests/vendor/axe-core, offline)
finding no violation of serious or critical impact, nor a moderate one.

axe is evaluated into the page through the DevTools protocol, so the page's own
Content-Security-Policy (which refuses inline scripts) stays as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from explorer import demo
from explorer.models import Award, Notice
from jobs import services
from jobs.models import Job, State
from tests.browser.conftest import ARTIFACTS
from tests.jobs.helpers import export_params
from tests.services import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.services]

AXE = (Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js").read_text()
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
FAILING_IMPACTS = ("critical", "serious", "moderate")


def finished(user: Any, kind: str, params: dict[str, Any]) -> Job:
    job, _ = services.submit_job(user=user, kind=kind, params=params)
    wait_for(
        lambda: Job.objects.filter(pk=job.pk, state__in=[State.SUCCEEDED, State.FAILED]).exists(),
        timeout=90,
        what=f"the {kind} job to finish",
    )
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED, job.error
    return job


def axe_violations(page: Page) -> list[str]:
    """axe's violations on the page as it is now, one line each: rule, impact, where."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    found = page.evaluate(
        """async () => {
          const result = await window.axe.run(document, {resultTypes: ["violations"]});
          return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            where: v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | ")}));
        }"""
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {v['where']}"
        for v in found
        if v["impact"] in FAILING_IMPACTS
    ]


def tour(page: Page, pages: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Visit each (name, path, ready selector) at each width; the problems by page."""
    problems: dict[str, list[str]] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path, ready in pages:
            response = page.goto(path)
            assert response is not None
            expected_status = 404 if name == "404" else 200
            assert response.status == expected_status, path
            expect(page.locator(ready).first).to_be_attached()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(ARTIFACTS / f"tour-{name}-{width}.png"), full_page=True)
            found = axe_violations(page)
            page_width = page.evaluate("() => document.documentElement.scrollWidth")
            if page_width > width:
                found.append(f"the page is {page_width} px wide in a {width} px window")
            if found:
                problems[f"{name} at {width} ({label})"] = found
    return problems


def test_every_page_at_desktop_and_phone_width_is_whole_and_passes_axe(
    login, live, worker, staff, new_context
):
    demo.seed(awards=600, seed=61)
    report = finished(staff, "report", {"filters": {}})
    export = finished(staff, "export", export_params("xlsx", q="supply"))
    finished(staff, "export", export_params("csv", q="road"))  # the jobs list has more than one
    award = Award.objects.select_related("organization", "supplier", "notice").order_by("id").first()
    # Real titles join words with slashes, which leave no place to break a line.
    Notice.objects.filter(pk=award.notice_id).update(
        title="Construction/Maintenance/Rehabilitation of Flood Mitigation Structures"
    )
    pages = [
        ("search", "/?q=supply", "#search-actions button[data-action]"),
        ("award", f"/awards/{award.public_id}/", "h1"),
        ("notice", f"/notices/{award.notice.key}/", "h1"),
        ("notices", "/notices/", "h1"),
        ("organization", f"/organizations/{award.organization.public_id}/", "canvas[data-chart]"),
        ("supplier", f"/suppliers/{award.supplier.public_id}/", "canvas[data-chart]"),
        ("jobs", "/jobs/", "table.jobs"),
        ("job", export.get_absolute_url(), "#job-timeline"),
        ("report", f"{report.get_absolute_url()}report/", "canvas[data-chart]"),
        ("import", "/jobs/import/", "form[data-chunked-upload]"),
        ("system", "/system/", "canvas[data-chart]"),
        ("404", "/no-such-page/", "h1"),
    ]
    problems = tour(login(staff), pages)

    anonymous = new_context(base_url=live.url).new_page()
    problems |= tour(
        anonymous, [("login", "/login/", "form"), ("notice (visitor)", f"/notices/{award.notice.key}/", "h1")]
    )

    assert problems == {}, "\n".join(
        f"{where}: {problem}" for where, found in problems.items() for problem in found
    )

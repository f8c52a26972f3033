"""The `report` kind: explorer/report.py's analyses over a search, with progress by step,
kept as JobData for the report page and written to an xlsx workbook for download."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils import timezone

from explorer import report
from explorer.search import search_url
from jobs.kinds.base import FiltersField, KindSpec, Outcome, ParamsForm, Run, SearchAction, file_stamp
from jobs.kinds.export.rows import neutralise

if TYPE_CHECKING:
    from jobs.models import Job

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportParams(ParamsForm):
    filters = FiltersField(required=False)


def run_report(run: Run) -> Outcome:
    awards = run.awards()
    steps = len(report.STEPS) + 1

    def step(index: int, label: str) -> None:
        run.reporter.update(index, total=steps, message=label, force=True)

    data = report.build(awards, step=step)
    data["filters"] = run.params.get("filters") or {}
    data["generated"] = timezone.localtime().isoformat(timespec="seconds")
    step(steps - 1, "Writing the workbook")
    path = run.temp_file(".xlsx")
    write_workbook(data, path)
    scopes = {g["scope"]: len(g["findings"]) for g in report.grouped(data["findings"])}
    return Outcome(
        result={
            "awards": data["awards"],
            "amount": data["amount"],
            "flags": report.flag_counts(data),
            "findings": scopes,
        },
        data=data,
        file=path,
        file_name=f"philgeps-report-{file_stamp(run.job)}.xlsx",
        content_type=XLSX,
    )


def write_workbook(data: dict[str, Any], path: Path) -> None:
    """A summary sheet, then each analysis's sheets (plain values, text neutralised
    against formula injection)."""
    from openpyxl import Workbook  # only workers write workbooks

    book = Workbook(write_only=True)
    summary = [
        ["Awards", data["awards"]],
        ["Amount (PHP)", data["amount"]],
        ["Generated", data["generated"]],
        *[[f"Filter: {name}", value] for name, value in data["filters"].items()],
        *[[f"{a.label}: flagged", a.flagged(data[a.name])] for a in report.ANALYSES if a.flag_label],
        ["Note", "A flag is a deviation from a baseline worth a look, not a finding of wrongdoing."],
    ]
    summary += [[f"Findings: {g['label']}", len(g["findings"])] for g in report.grouped(data["findings"])]
    sheets = [("Summary", ["Item", "Value"], summary), findings_sheet(data)]
    sheets += [(s.title, s.headers, s.rows) for a in report.ANALYSES for s in a.sheets(data[a.name])]
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(headers)
        for row in rows:
            sheet.append([neutralise(v) if isinstance(v, str) else v for v in row])
    book.save(path)


def findings_sheet(data: dict[str, Any]) -> tuple[str, list[str], list[list[Any]]]:
    """One row per finding, in the report's order, with the search of its awards."""
    base = data["filters"]
    rows = [
        [
            f["scope"],
            f["name"],
            f["analysis"],
            f["statistic"],
            f["baseline"],
            f["strength"],
            search_url({**base, **f["filters"]}),
        ]
        for f in data.get("findings", [])
    ]
    headers = ["Scope", "Name", "Analysis", "Statistic", "Baseline", "Strength", "Search (path)"]
    return ("Findings", headers, rows)


def findings_section(data: dict[str, Any]) -> dict[str, Any]:
    """The findings list of the page: grouped by scope, a search URL on each."""
    base = data["filters"]
    findings = [f | {"url": search_url({**base, **f["filters"]})} for f in data.get("findings", [])]
    return {"template": "explorer/analyses/findings.html", "groups": report.grouped(findings)}


def page_sections(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The report page: each analysis's partial with its context, a search URL on every
    finding (the contracts behind it). The stored data is left as it was."""
    base = data["filters"]

    def search(**extra: Any) -> str:
        return search_url({**base, **{k: str(v) for k, v in extra.items()}})

    return [
        {"template": a.template, "page": a.page(data[a.name], search)}
        for a in report.ANALYSES
        if a.template and a.name in data
    ]


def summary(job: Job) -> list[tuple[str, int]]:
    flags = job.result.get("flags", {})
    scopes = job.result.get("findings", {})
    by_scope = [
        (f"{label.lower()} findings", scopes[scope]) for scope, label in report.SCOPES if scope in scopes
    ]
    return by_scope + [
        (a.flag_label, flags[a.name]) for a in report.ANALYSES if a.flag_label and a.name in flags
    ]


def report_url(job: Job) -> str:
    return reverse("jobs:report", args=[job.id])


def title(params: Mapping[str, Any]) -> str:
    return "Red-flag report"


KIND = KindSpec(
    name="report",
    label="Red-flag report",
    form=ReportParams,
    run=run_report,
    title=title,
    queue="bulk",
    progress_unit="steps",
    summary_template="jobs/kinds/report_summary.html",
    summary=summary,
    result_url=report_url,
    result_label="Open the report",
    actions=(
        SearchAction("analyse", "Red-flag report", hint="Totals and four red-flag analyses, on a page"),
    ),
)

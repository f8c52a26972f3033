"""The aggregate report with red flags: every analysis of ANALYSES over a search's awards.

`build()` runs each analysis in turn (one step of the job's progress each) and returns a
JSON-ready dict: the totals, each analysis's payload under its name, and one list of
findings, strongest first. The report job stores it (jobs/kinds/report.py) and the page,
workbook and summary are drawn from the same registry. Flags follow explorer/redflags.py:
evidence with its baseline, never a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, QuerySet, Sum

from explorer.analyses import benford, concentration, overview, rounding, screens, thresholds
from explorer.analyses.base import Analysis, Finding
from explorer.models import Award

ANALYSES: tuple[Analysis, ...] = (
    overview.ByMonth(),
    overview.TopLists(),
    benford.FirstDigits(),
    thresholds.Thresholds(),
    rounding.RoundAmounts(),
    concentration.SupplierConcentration(),
    screens.Screens(),
)
# Findings are grouped by scope in this order, strongest evidence first within each.
SCOPES = (
    ("selection", "The whole selection"),
    ("organization", "Procuring entities"),
    ("supplier", "Suppliers"),
    ("process", "Processes"),
)
STEPS = tuple(analysis.label for analysis in ANALYSES)


def build(
    awards: QuerySet[Award], *, step: Callable[[int, str], None] = lambda i, label: None
) -> dict[str, Any]:
    base = awards.order_by()
    report: dict[str, Any] = {}
    for index, analysis in enumerate(ANALYSES):
        step(index, analysis.label)
        if index == 0:
            totals = base.aggregate(n=Count("id"), amount=Sum("amount"))
            report["awards"] = totals["n"]
            report["amount"] = overview.number(totals["amount"])
        report[analysis.name] = analysis.compute(base)
    findings = [finding for analysis in ANALYSES for finding in analysis.findings(report[analysis.name])]
    report["findings"] = order(findings)
    return report


def order(findings: list[Finding]) -> list[Finding]:
    """Grouped by scope (SCOPES), then strongest first, then by name."""
    rank = {scope: i for i, (scope, _) in enumerate(SCOPES)}
    return sorted(findings, key=lambda f: (rank.get(f["scope"], len(rank)), -f["strength"], f["name"]))


def grouped(findings: list[Finding]) -> list[dict[str, Any]]:
    """[{scope, label, findings}] for the scopes that have any, in SCOPES order."""
    return [
        {"scope": scope, "label": label, "findings": [f for f in findings if f["scope"] == scope]}
        for scope, label in SCOPES
        if any(f["scope"] == scope for f in findings)
    ]


def flag_counts(report: dict[str, Any]) -> dict[str, int]:
    """Entities flagged per flagging analysis (by name), for the job's short summary."""
    return {a.name: a.flagged(report[a.name]) for a in ANALYSES if a.flag_label and a.name in report}

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

from explorer.analyses import benford, concentration, overview, rounding, thresholds
from explorer.analyses.base import Analysis
from explorer.models import Award

ANALYSES: tuple[Analysis, ...] = (
    overview.ByMonth(),
    overview.TopLists(),
    benford.FirstDigits(),
    thresholds.Thresholds(),
    rounding.RoundAmounts(),
    concentration.SupplierConcentration(),
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
    report["findings"] = sorted(findings, key=lambda finding: -finding["strength"])
    return report


def flag_counts(report: dict[str, Any]) -> dict[str, int]:
    """Entities flagged per flagging analysis (by name), for the job's short summary."""
    return {a.name: a.flagged(report[a.name]) for a in ANALYSES if a.flag_label and a.name in report}

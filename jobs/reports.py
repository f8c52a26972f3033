"""The report job: explorer/report.py's aggregates and red flags, with progress by step,
kept as JobData for the report page and written to an xlsx workbook for download."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from explorer import report
from jobs.execution import Outcome, Run
from jobs.exporters import neutralise

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def run_report(run: Run) -> Outcome:
    awards = run.awards()
    steps = len(report.STEPS) + 1

    def step(index: int, label: str) -> None:
        run.reporter.update(index, total=steps, message=label, force=True)

    data = report.build(awards, step=step)
    filters = run.params.get("filters") or {}
    data["filters"] = filters
    data["generated"] = timezone.localtime().isoformat(timespec="seconds")
    step(steps - 1, "Writing the workbook")
    path = run.temp_file(".xlsx")
    write_workbook(data, path)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return Outcome(
        result=summary(data),
        data=data,
        file=path,
        file_name=f"philgeps-report-{stamp}.xlsx",
        content_type=XLSX,
    )


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """The short result kept on the job (lists and the API): totals and flag counts."""
    return {
        "awards": data["awards"],
        "amount": data["amount"],
        "flags": {
            "benford": data["benford"]["flagged"],
            "thresholds": sum(t["flagged"] for t in data["thresholds"]),
            "concentration": data["concentration"]["flagged"],
        },
    }


def write_workbook(data: dict[str, Any], path: Path) -> None:
    """One sheet per analysis, plain values (names neutralised against formula injection)."""
    book = Workbook(write_only=True)

    def sheet(title: str, headers: list[str], rows: list[list[Any]]) -> None:
        ws = book.create_sheet(title)
        ws.append(headers)
        for row in rows:
            ws.append([neutralise(v) if isinstance(v, str) else v for v in row])

    sheet(
        "Summary",
        ["Item", "Value"],
        [
            ["Awards", data["awards"]],
            ["Amount (PHP)", data["amount"]],
            ["Generated", data["generated"]],
            *[[f"Filter: {name}", value] for name, value in data["filters"].items()],
            [
                "Benford: entities tested / flagged",
                f"{data['benford']['tested']} / {data['benford']['flagged']}",
            ],
            [
                "Concentration: agencies tested / flagged",
                f"{data['concentration']['tested']} / {data['concentration']['flagged']}",
            ],
            ["Note", "A flag is a deviation from a baseline worth a look, not a finding of wrongdoing."],
        ],
    )
    sheet("By month", ["Year", "Month", "Awards", "Amount (PHP)"], data["by_month"])
    for key, title in (
        ("organizations", "Top organizations"),
        ("suppliers", "Top suppliers"),
        ("categories", "Top categories"),
        ("areas", "Top areas"),
        ("modes", "Top modes"),
    ):
        sheet(title, ["Name", "Awards", "Amount (PHP)"], data["top"][key])
    benford = data["benford"]
    digits = [str(d) for d in range(1, 10)]
    sheet(
        "Benford",
        ["Entity", "Awards", "MAD", "Conformity", "Chi-square", "Flagged", *[f"Share {d}" for d in digits]],
        [
            ["All awards (expected share)", "", "", "", "", "", *[benford["expected"][d] for d in digits]],
            _benford_row("All awards", benford["overall"] | {"flag": False}, digits),  # entities are flagged
            *[_benford_row(row["name"], row, digits) for row in benford["entities"]],
        ],
    )
    sheet(
        "Thresholds",
        ["Threshold (PHP)", "Kind", "Name", "Just below", "Just above", "p-value", "Flagged"],
        [
            row
            for t in data["thresholds"]
            for row in [
                [t["threshold"], "all awards", "", t["below"], t["above"], "", ""],
                *[
                    [
                        t["threshold"],
                        e["kind"],
                        e["name"],
                        e["below"],
                        e["above"],
                        e["p"],
                        "yes" if e["flag"] else "",
                    ]
                    for e in t["entities"]
                ],
            ]
        ],
    )
    rounding = data["rounding"]
    sheet(
        "Rounding",
        ["Measure", "Count", "Share"],
        [
            *[[f"Multiple of {m['unit']:,}", m["count"], m["share"]] for m in rounding["multiples"]],
            *[
                [f"Last digit {d}", n, n / rounding["total"] if rounding["total"] else 0]
                for d, n in rounding["last_digit"]
            ],
        ],
    )
    sheet(
        "Concentration",
        ["Agency", "Awards", "Amount (PHP)", "Top supplier", "Its awards", "Spend share", "HHI", "Flagged"],
        [
            [
                e["name"], e["awards"], e["amount"], e["top_supplier"], e["top_awards"],
                e["spend_share"], e["hhi"], "yes" if e["flag"] else "",
            ]
            for e in data["concentration"]["entities"]
        ],
    )  # fmt: skip
    book.save(path)


def _benford_row(name: str, row: dict[str, Any], digits: list[str]) -> list[Any]:
    return [
        name, row["awards"], row["mad"], row["band"], row["chi2"], "yes" if row["flag"] else "",
        *[row["shares"][d] for d in digits],
    ]  # fmt: skip


def for_page(data: dict[str, Any]) -> dict[str, Any]:
    """The report with a search URL on every finding (the contracts behind it) and the
    chart series the page draws; the stored data is left as it was."""
    base = data["filters"]

    def search(**extra: Any) -> str:
        query = {**base, **{k: str(v) for k, v in extra.items()}}
        return f"{reverse('explorer:search')}?{urlencode(query)}"

    page = {**data}
    page["top_links"] = {
        key: [[*row, search(**{field: row[0]})] for row in data["top"][key]]
        for key, field in (
            ("organizations", "organization"),
            ("suppliers", "supplier"),
            ("categories", "category"),
            ("areas", "area"),
            ("modes", "mode"),
        )
    }
    page["benford_rows"] = [
        row | {"url": search(organization=row["name"])} for row in data["benford"]["entities"]
    ]
    page["threshold_rows"] = [
        t
        | {
            "url": search(amount_min=f"{t['low']:.2f}", amount_max=f"{t['threshold'] - 0.01:.2f}"),
            "rows": [
                e
                | {
                    "url": search(
                        **{
                            e["kind"]: e["name"],
                            "amount_min": f"{t['low']:.2f}",
                            "amount_max": f"{t['high']:.2f}",
                        }
                    )
                }
                for e in t["entities"]
            ],
        }
        for t in data["thresholds"]
    ]
    page["concentration_rows"] = [
        e | {"url": search(organization=e["name"], supplier=e["top_supplier"])}
        for e in data["concentration"]["entities"]
    ]
    digits = [str(d) for d in range(1, 10)]
    flagged = [row for row in data["benford"]["entities"] if row["flag"]]
    page["charts"] = {
        "by_month": {
            "labels": [f"{year}-{month:02d}" for year, month, _, _ in data["by_month"]],
            "series": [{"label": "Amount (PHP)", "values": [amount for *_, amount in data["by_month"]]}],
        },
        "benford": {
            "labels": digits,
            "format": "percent",
            "series": [
                {"label": "Benford's law", "values": [data["benford"]["expected"][d] for d in digits]},
                {"label": "All awards", "values": [data["benford"]["overall"]["shares"][d] for d in digits]},
                *[
                    {"label": row["name"], "values": [row["shares"][d] for d in digits]}
                    for row in flagged[:3]
                ],
            ],
        },
        "last_digit": {
            "labels": [str(d) for d, _ in data["rounding"]["last_digit"]],
            "format": "count",
            "series": [{"label": "Awards", "values": [n for _, n in data["rounding"]["last_digit"]]}],
        },
    }
    return page

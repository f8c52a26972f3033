"""The `export` kind: the awards of a search, in one of the formats below.

A format is one module (jobs/kinds/export/to_<name>.py defining FORMAT) and one entry in
FORMATS; the params form, the search page's buttons and the job's title follow from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.conf import settings

from jobs.kinds.base import (
    FiltersField,
    JobFailed,
    KindSpec,
    Outcome,
    ParamsForm,
    Run,
    SearchAction,
    file_stamp,
)
from jobs.kinds.export import to_csv, to_ocds, to_xlsx
from jobs.kinds.export.rows import Format

FORMATS: dict[str, Format] = {f.name: f for f in (to_xlsx.FORMAT, to_csv.FORMAT, to_ocds.FORMAT)}


class ExportParams(ParamsForm):
    format = forms.ChoiceField(choices=[(f.name, f.label) for f in FORMATS.values()])
    filters = FiltersField(required=False)


def export(run: Run) -> Outcome:
    chosen = FORMATS[run.params["format"]]
    awards = run.awards()
    run.reporter.update(0, message="Counting matching awards", force=True)
    total = awards.count()
    if total > settings.EXPORT_MAX_ROWS:
        raise JobFailed(
            f"This search matches {total:,} awards; an export holds at most {settings.EXPORT_MAX_ROWS:,}. "
            "Narrow the filters and try again."
        )
    run.reporter.update(0, total=total, message="Writing rows", force=True)
    path = run.temp_file(chosen.suffix)
    rows = chosen.write(run, awards, path, total)
    return Outcome(
        result={"rows": rows, "format": chosen.name},
        file=path,
        file_name=f"philgeps-awards-{file_stamp(run.job)}{chosen.suffix}",
        content_type=chosen.content_type,
        rows=rows,
    )


def title(params: Mapping[str, Any]) -> str:
    chosen = FORMATS.get(str(params.get("format", "")))
    # The button's words: "Export to Excel" on the button, in the job list and the toast.
    return f"Export to {chosen.label if chosen else str(params.get('format', '')).upper()}"


KIND = KindSpec(
    name="export",
    label="Export",
    form=ExportParams,
    run=export,
    title=title,
    queue="bulk",
    progress_unit="awards",
    summary_template="jobs/kinds/export_summary.html",
    actions=tuple(
        SearchAction(f"export-{f.name}", f"Export to {f.label}", {"format": f.name}, hint=f.hint)
        for f in FORMATS.values()
    ),
)

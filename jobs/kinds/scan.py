"""The `scan` kind: explorer/scan.py over the awards of a search, the matches saved as a
result set (explorer.models.ResultSet) that the search page can show and refine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django import forms
from django.template.defaultfilters import truncatechars

from explorer import scan
from explorer.models import ResultSet, ResultSetMember
from explorer.search import search_url
from jobs.kinds.base import (
    FiltersField,
    JobCancelled,
    JobFailed,
    KindSpec,
    ListOrOneField,
    Outcome,
    ParamsForm,
    Run,
)

if TYPE_CHECKING:
    from jobs.models import Job


class ScanParams(ParamsForm):
    pattern = forms.CharField(max_length=200, strip=False)
    mode = forms.ChoiceField(choices=[("substring", "Text"), ("regex", "Regular expression")], required=False)
    # The page's "Regular expression" checkbox. Not `mode`: the page posts the search
    # filters beside it, and `mode` is the procurement-mode filter (issue 17, bug 1).
    # Folded into `mode` below, so the stored params (and their hash) are the API's.
    regex = forms.BooleanField(required=False)
    case_sensitive = forms.BooleanField(required=False)
    # The param's fixed name (the API's), which happens to be the form's own attribute name.
    fields = ListOrOneField(  # type: ignore[assignment]
        choices=[(name, label) for name, (label, _) in scan.FIELDS.items()],
        required=False,
        initial=scan.DEFAULT_FIELDS,
    )
    filters = FiltersField(required=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        data["mode"] = "regex" if data.pop("regex", False) else data.get("mode") or "substring"
        data["fields"] = sorted(set(data.get("fields") or scan.DEFAULT_FIELDS))
        pattern = data.get("pattern")
        if pattern is not None:
            if not pattern.strip():
                self.add_error("pattern", "Give the text or pattern to look for.")
            else:
                try:  # refuse what RE2 cannot run safely now, not in the worker
                    scan.matcher(
                        pattern, regex=data["mode"] == "regex", case_sensitive=data["case_sensitive"]
                    )
                except scan.BadPattern as exc:
                    self.add_error("pattern", str(exc))
        return data


def run_scan(run: Run) -> Outcome:
    params = run.params
    try:
        match = scan.matcher(
            params["pattern"], regex=params["mode"] == "regex", case_sensitive=params["case_sensitive"]
        )
    except scan.BadPattern as exc:  # checked at submit; a newer RE2 could still disagree
        raise JobFailed(str(exc)) from None
    awards = run.awards()
    total = awards.order_by().count()
    run.reporter.update(0, total=total, message="Scanning", force=True)
    members = ResultSetMember.objects.filter(set_id=run.job.id)
    members.delete()  # an earlier attempt's partial matches
    scanned = found = 0
    try:
        for rows, matched in scan.scan_blocks(awards, params["fields"], match):
            ResultSetMember.objects.bulk_create(
                [ResultSetMember(set_id=run.job.id, award_id=award_id) for award_id in matched],
                ignore_conflicts=True,  # a redelivered attempt may meet its predecessor's rows
            )
            scanned += rows
            found += len(matched)
            run.reporter.update(scanned, message=f"{found:,} matches so far")
    except JobCancelled:
        members.delete()
        raise
    except scan.BlockTooSlow as exc:
        members.delete()
        raise JobFailed(str(exc)) from None
    # The set becomes searchable (by its owner) once it is whole.
    ResultSet.objects.update_or_create(
        id=run.job.id,
        defaults={
            "owner": run.job.owner,
            "size": found,
            "description": f"matches of the scan for {params['pattern']}"[:300],
        },
    )
    return Outcome(result={"scanned": scanned, "matches": found}, expires=True)


def result_set_url(job: Job) -> str:
    return search_url({"set": str(job.id)})


def title(params: Mapping[str, Any]) -> str:
    return f"Scan for “{truncatechars(params.get('pattern', ''), 40)}”"


KIND = KindSpec(
    name="scan",
    label="Scan",
    form=ScanParams,
    run=run_scan,
    title=title,
    queue="bulk",
    progress_unit="awards",
    summary_template="jobs/kinds/scan_summary.html",
    result_url=result_set_url,
    result_label="Show the matches",
    expired_text="The result set expired and was deleted.",
    panel_template="jobs/kinds/scan_panel.html",
)

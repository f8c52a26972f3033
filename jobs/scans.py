"""The scan job: explorer/scan.py over the awards of a search, the matches saved as a
result set (ResultSetMember rows under the job's id) that the search page can show."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from explorer import scan
from explorer.models import ResultSetMember
from jobs.execution import JobFailed, Outcome, Run
from jobs.progress import JobCancelled


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
    return Outcome(
        result={"scanned": scanned, "matches": found, "url": result_set_url(run.job.id)},
        expires=True,
    )


def result_set_url(job_id: object) -> str:
    return f"{reverse('explorer:search')}?{urlencode({'set': str(job_id)})}"

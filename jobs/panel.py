"""The job panel of a search page: each kind's buttons for this search, each replaced by
the user's pending job of that kind and params if there is one (so a reload or a second
tab shows the running job instead of a second button), and the kinds' own forms."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q

from config.access import login_url
from explorer.search import Search
from jobs import kinds, queueing
from jobs.kinds.base import params_hash
from jobs.models import PENDING_STATES, Job


def for_search(*, user: User | AnonymousUser, search: Search) -> dict[str, Any]:
    filters = search.filters
    if not user.is_authenticated:
        # Public browsing: jobs need an account; the login comes back to this search.
        return {"actions": [], "panels": [], "filters": filters, "login_url": login_url(search.url())}
    allowed = kinds.allowed(user)
    buttons = [
        (spec, action, params_hash(spec.name, action.params(filters)))
        for spec in allowed.values()
        for action in spec.actions
    ]
    forms = [spec for spec in allowed.values() if spec.panel_template]
    # One query for all the buttons and the kinds with a form of their own.
    pending = list(
        Job.objects.filter(owner=user, state__in=PENDING_STATES).filter(
            Q(params_hash__in=[digest for _, _, digest in buttons])
            | Q(kind__in=[spec.name for spec in forms], params__filters=filters)
        )
    )
    by_digest = {(job.kind, job.params_hash): job for job in pending}
    actions = []
    for spec, action, digest in buttons:
        job = by_digest.get((spec.name, digest))
        entry: dict[str, Any] = {"kind": spec.name, "action": action, "job": job}
        if job:
            entry |= queueing.position_and_eta(job)
        actions.append(entry)
    panels = [
        {
            "spec": spec,
            "template": spec.panel_template,
            "form": spec.form(),
            "pending": [
                job for job in pending if job.kind == spec.name and job.params.get("filters") == filters
            ],
        }
        for spec in forms
    ]
    return {"actions": actions, "panels": panels, "filters": filters}

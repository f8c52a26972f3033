"""The job kinds, one module each under jobs/kinds/ (the contract is jobs/kinds/base.py).

Adding a kind is one module defining KIND, its partials under templates/jobs/kinds/, and
one entry below: submit, the task, the API, the pages and the job model need no change,
and no migration (Job.kind is a plain string).
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

from jobs.kinds import export, imports, indicators, ping, report, scan
from jobs.kinds.base import KindSpec

KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in (export.KIND, report.KIND, scan.KIND, imports.KIND, indicators.KIND, ping.KIND)
}


def allowed(user: User | AnonymousUser) -> dict[str, KindSpec]:
    """The kinds this user may submit."""
    return {name: spec for name, spec in KINDS.items() if user.is_staff or not spec.staff_only}

"""The contract every job kind implements, and the only module a kind needs from jobs/.

A kind module (jobs/kinds/<kind>.py) defines `KIND`, a KindSpec: its params form, its
runner, its title, the partials that show its result, its buttons on the search page and
its result URL. The runner gets a Run (the job, its params, a Reporter for progress) and
returns an Outcome, or raises JobFailed with words for the user. Nothing here imports a
kind, the job model (only its type) or the lifecycle: the Reporter is handed the function
that writes progress, so kinds, execution and the lifecycle do not import each other in a
circle.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from explorer.models import Award
from explorer.search import FILTER_NAMES, SearchForm

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from jobs.models import Job


class JobFailed(Exception):
    """A failure whose message is fit for the user (bad filters, too many rows...)."""


class JobCancelled(Exception):
    """The owner cancelled the running job; it stops at the next chunk."""


class JobLost(Exception):
    """Another attempt took the job over (a redelivery after this worker was presumed dead)."""


@dataclass
class Outcome:
    result: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None  # a temporary file from Run.temp_file(), renamed on success
    file_name: str = ""  # the name offered to the browser
    content_type: str = ""
    rows: int | None = None
    data: dict[str, Any] | None = None  # the full structured result (JobData), if any
    expires: bool = False  # kept data (a result set) expires like a file does


class Written(Enum):
    """What a progress write found: the job still runs for this attempt, or it must stop."""

    OK = "ok"
    CANCELLED = "cancelled"
    LOST = "lost"


# Progress messages per second per job, at most: enough to look live, cheap for the layer.
MAX_UPDATES_PER_SECOND = 4


class Reporter:
    """Progress for one attempt of one running job.

    `update()` is cheap to call per chunk: it writes at most MAX_UPDATES_PER_SECOND times a
    second (and always when forced), and raises JobCancelled or JobLost when the job should
    stop. `write` is the lifecycle's progress transition (jobs/lifecycle.py), which writes
    the progress and heartbeat and pushes the fragment.
    """

    def __init__(self, job: Job, *, write: Callable[[Job], Written]) -> None:
        self.job = job
        self._write = write
        self._last = time.monotonic()

    def update(
        self,
        done: int | None = None,
        *,
        total: int | None = None,
        message: str | None = None,
        force: bool = False,
    ) -> None:
        job = self.job
        if done is not None:
            job.progress_done = done
        if total is not None:
            job.progress_total = total
        if message is not None:
            job.progress_message = message[:200]
        now = time.monotonic()
        if not force and now - self._last < 1 / MAX_UPDATES_PER_SECOND:
            return
        self._last = now
        written = self._write(job)
        if written is Written.CANCELLED:
            raise JobCancelled
        if written is Written.LOST:
            raise JobLost


@dataclass
class Run:
    """What a kind's runner gets: the job, its params and a progress reporter."""

    job: Job
    reporter: Reporter

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def awards(self) -> QuerySet[Award]:
        """The awards matching the job's saved search filters."""
        form = SearchForm(self.params.get("filters") or {}, user=self.job.owner)
        if not form.is_valid():  # validated at submit; a result set may have expired since
            raise JobFailed("The saved filters are no longer valid: " + "; ".join(_errors(form)))
        return form.search.awards()

    def temp_file(self, suffix: str) -> Path:
        """A private path for this attempt's result file (never served under this name)."""
        directory = Path(settings.EXPORT_ROOT) / "tmp"
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{self.job.id}.attempt{self.job.attempts}{suffix}"


def _errors(form: forms.BaseForm) -> list[str]:
    return [f"{name}: {message}" for name, messages in form.errors.items() for message in messages]


def file_stamp(job: Job) -> str:
    """The time (to the second) and the job's short id in a result file's name, so two
    files made in the same minute, or even the same second, never share a name."""
    return f"{timezone.localtime().strftime('%Y%m%d-%H%M%S')}-{str(job.id)[:8]}"


# --- Params ------------------------------------------------------------------------------


class ParamsForm(forms.Form):
    """A kind's params form. `normalized()` returns the params as stored and hashed; `user`
    is the submitter (the filters may name their own result sets only)."""

    def __init__(self, data: Mapping[str, Any] | None = None, *, user: User | None = None) -> None:
        super().__init__(data)
        self.user = user
        for bound in self.fields.values():
            if isinstance(bound, FiltersField):
                bound.user = user

    def normalized(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class FiltersField(forms.Field):
    """The search filters (a JSON object with the search page's query-string names)."""

    default_error_messages = {"invalid": "Filters must be an object of search filters."}
    user: User | None = None

    def to_python(self, value: Any) -> dict[str, str]:
        if value in (None, ""):
            return {}
        if not isinstance(value, Mapping):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        unknown = sorted(set(value) - set(FILTER_NAMES))
        if unknown:
            raise ValidationError(f"Unknown filter: {', '.join(map(str, unknown))}.", code="unknown")
        # Lists stay lists (`flag` takes several codes); everything else is read as text.
        data = {name: "" if v is None else v if isinstance(v, list) else str(v) for name, v in value.items()}
        search = SearchForm(data, user=self.user)
        if not search.is_valid():
            raise ValidationError(_errors(search))
        return search.search.filters


class ListOrOneField(forms.MultipleChoiceField):
    """Checkboxes from a page (one value arrives as a string) or a JSON list."""

    def to_python(self, value: Any) -> list[str]:
        return super().to_python([value] if isinstance(value, str) else value)


def params_hash(kind: str, params: Mapping[str, Any]) -> str:
    canonical = json.dumps([kind, params], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- The spec ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchAction:
    """A button on the search page that starts this kind for the current search."""

    slug: str
    label: str
    fields: Mapping[str, str] = field(default_factory=dict)  # params beside the filters
    hint: str = ""  # one line under the button: what the user gets

    def params(self, filters: Mapping[str, str]) -> dict[str, Any]:
        return {**self.fields, "filters": dict(filters)}


def _no_url(job: Job) -> str | None:
    return None


def _nothing(job: Job) -> None:
    return None


@dataclass(frozen=True)
class KindSpec:
    """One job kind (see the module docstring); `name` is stored in Job.kind."""

    name: str
    label: str  # the kind in lists and the admin: "Export"
    form: type[ParamsForm]
    run: Callable[[Run], Outcome]
    title: Callable[[Mapping[str, Any]], str]  # what one job of it is: "Export to Excel"
    queue: str = "interactive"
    progress_unit: str = "rows"  # what its progress counts: "12 / 40 awards", "3 / 6 steps"
    staff_only: bool = False
    # Partials: the one-line result inside the status element, the result section of
    # the job page, and the job's parameters (in the job list and on its page).
    summary_template: str = "jobs/kinds/_summary.html"
    summary: Callable[[Job], Any] = _nothing  # what the summary partial shows, from the job
    detail_template: str = ""
    params_template: str = "jobs/kinds/_filters.html"
    # The page of its result ("Open the report"), computed from the finished job.
    result_url: Callable[[Job], str | None] = _no_url
    result_label: str = ""
    expired_text: str = "The file expired and was deleted."
    actions: tuple[SearchAction, ...] = ()
    panel_template: str = ""  # a form of its own on the search page's job panel

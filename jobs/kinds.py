"""The job kinds: how each validates its params, where it queues and what runs it.

Adding a kind means one `register()` call with a params form and a runner; submit,
the task wrapper, the API and the pages need no change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError

from explorer import scan
from explorer.search import FILTER_NAMES, SearchForm, active_filters
from jobs.models import Kind

if TYPE_CHECKING:
    from jobs.execution import Outcome, Run


class ParamsForm(forms.Form):
    """A kind's params form. `normalized()` returns the params as stored and hashed."""

    def normalized(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class FiltersField(forms.Field):
    """The search filters (a JSON object with the search page's query-string names)."""

    default_error_messages = {"invalid": "Filters must be an object of search filters."}

    def to_python(self, value: Any) -> dict[str, str]:
        if value in (None, ""):
            return {}
        if not isinstance(value, Mapping):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        unknown = sorted(set(value) - set(FILTER_NAMES))
        if unknown:
            raise ValidationError(f"Unknown filter: {', '.join(map(str, unknown))}.", code="unknown")
        search = SearchForm({name: "" if v is None else str(v) for name, v in value.items()})
        if not search.is_valid():
            raise ValidationError(
                [f"{name}: {message}" for name, messages in search.errors.items() for message in messages]
            )
        return active_filters(search.cleaned_data)


class ExportParams(ParamsForm):
    format = forms.ChoiceField(choices=[("xlsx", "Excel (xlsx)"), ("csv", "CSV")])
    filters = FiltersField(required=False)


class ReportParams(ParamsForm):
    filters = FiltersField(required=False)


class ListOrOneField(forms.MultipleChoiceField):
    """Checkboxes from a page (one value arrives as a string) or a JSON list."""

    def to_python(self, value: Any) -> list[str]:
        return super().to_python([value] if isinstance(value, str) else value)


class ScanParams(ParamsForm):
    pattern = forms.CharField(max_length=200, strip=False)
    mode = forms.ChoiceField(choices=[("substring", "Text"), ("regex", "Regular expression")], required=False)
    case_sensitive = forms.BooleanField(required=False)
    fields = ListOrOneField(
        choices=[(name, label) for name, (label, _) in scan.FIELDS.items()], required=False
    )
    filters = FiltersField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["mode"] = data.get("mode") or "substring"
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


class ImportParams(ParamsForm):
    """An uploaded file, by the name the import page stored it under (jobs/imports.py)."""

    upload = forms.RegexField(
        regex=r"^[0-9a-f]{32}\.(csv|xlsx)\Z",
        error_messages={"invalid": "Not an uploaded file: upload it on the import page."},
    )
    name = forms.CharField(max_length=200, help_text="The file's name on the uploader's computer.")

    def clean_upload(self) -> str:
        from jobs.imports import upload_path

        upload = self.cleaned_data["upload"]
        if not upload_path(upload).is_file():
            raise ValidationError(
                "The uploaded file is gone (it is deleted when its import ends); upload it again."
            )
        return upload


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    form: type[ParamsForm]
    run: Callable[[Run], Outcome]
    queue: str = "interactive"
    staff_only: bool = False


KINDS: dict[str, KindSpec] = {}


def register(spec: KindSpec) -> None:
    KINDS[spec.kind.value] = spec


def params_hash(kind: str, params: Mapping[str, Any]) -> str:
    canonical = json.dumps([kind, params], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _export(run: Run) -> Outcome:
    from jobs import exporters  # the writers pull in openpyxl: only workers need them

    return exporters.export(run)


def _report(run: Run) -> Outcome:
    from jobs import reports

    return reports.run_report(run)


register(KindSpec(Kind.EXPORT, ExportParams, _export, queue="bulk"))
register(KindSpec(Kind.REPORT, ReportParams, _report, queue="bulk"))


def _scan(run: Run) -> Outcome:
    from jobs import scans

    return scans.run_scan(run)


register(KindSpec(Kind.SCAN, ScanParams, _scan, queue="bulk"))


def _import(run: Run) -> Outcome:
    from jobs import imports

    return imports.run_import(run)


# Imports change the shared data: staff only, and on the bulk queue beside long exports.
register(KindSpec(Kind.IMPORT, ImportParams, _import, queue="bulk", staff_only=True))


def _ping(run: Run) -> Outcome:
    from jobs.execution import Outcome

    return Outcome(result={"pong": True})


# Does nothing: proves (and measures) the whole path from the API to the socket. Staff only.
register(KindSpec(Kind.PING, ParamsForm, _ping, queue="interactive", staff_only=True))

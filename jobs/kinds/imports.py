"""The `import` kind: a PhilGEPS file uploaded by staff, checked, stored and imported.

The upload is checked in the request (size, extension, content, header) so a bad file is
refused on the page and never becomes a job. Files larger than one request body arrive in
chunks first (jobs/uploads.py) and get the same checks once whole. The stored copy gets a
random name under UPLOAD_ROOT (the client's file name is only shown, never used as a path) and is deleted
when its job ends; jobs/maintenance.py remove_orphaned_uploads() catches the ones whose
job never ran.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from explorer import philgeps
from explorer.importer import import_file
from explorer.models import ImportRun
from jobs.kinds.base import JobCancelled, JobFailed, JobLost, KindSpec, Outcome, ParamsForm, Run

# What the importer reads (explorer/philgeps.py sniffs the content; the extension must agree).
SUFFIXES = (".csv", ".xlsx")
# Row errors copied into the job's result; the ImportRun keeps up to 1000.
RESULT_ERRORS = 20
COUNTS = (
    "rows_read", "rows_failed", "notices_new", "awards_new", "line_items_new",
    "organizations_new", "suppliers_new",
)  # fmt: skip


class UploadRefused(Exception):
    """The upload cannot be imported; the message says why, for the page."""


def upload_path(name: str) -> Path:
    """Where a stored upload lives (`name` is validated by the import params form)."""
    return Path(settings.UPLOAD_ROOT) / name


def check_size(size: int | None) -> None:
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise UploadRefused(
            f"The file is {filesizeformat(size)}; the import page takes files up to {filesizeformat(limit)}."
        )


def check_name(client_name: str) -> str:
    """The file's suffix, if the importer reads that kind of file (else UploadRefused)."""
    suffix = Path(client_name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadRefused(
            f"Upload a PhilGEPS .csv or .xlsx file ({Path(client_name).name or 'this file'} is neither)."
        )
    return suffix


def store_upload(upload: UploadedFile) -> str:
    """Check an uploaded file and store it; its stored name, or UploadRefused.

    Nothing is written to the database here, and a refused file is not kept.
    """
    check_size(upload.size)
    suffix = check_name(upload.name or "")
    if upload.size == 0:
        raise UploadRefused("The file is empty.")
    name = f"{uuid.uuid4().hex}{suffix}"
    path = upload_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        check_content(path, suffix)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return name


def check_content(path: Path, suffix: str) -> None:
    """The stored file is what its name says, and PhilGEPS data (else UploadRefused)."""
    try:
        sniffed = philgeps.sniff_format(path)
        if sniffed != suffix.lstrip("."):
            raise UploadRefused(
                "The file's content does not match its name: it is "
                + ("a zip archive or workbook" if sniffed == "xlsx" else "not an .xlsx workbook")
                + f", but it is called *{suffix}."
            )
        philgeps.peek_layout(path)
    except philgeps.NotPhilgepsFile as exc:
        raise UploadRefused(str(exc)) from None


def run_import(run: Run) -> Outcome:
    """The runner of the `import` kind: import the stored file with progress by rows."""
    path = upload_path(run.params["upload"])
    if not path.is_file():
        raise JobFailed("The uploaded file is gone (it is deleted when its import ends); upload it again.")
    keep_file = False
    try:
        return _import(run, path)
    except JobLost:
        keep_file = True  # the attempt that took the job over still reads it
        raise
    finally:
        if not keep_file:
            path.unlink(missing_ok=True)


def _import(run: Run, path: Path) -> Outcome:
    stop: list[Exception] = []

    def progress(done: int, total: int | None) -> None:
        # Called once per batch of rows; the reporter writes at most a few times a second.
        # A cancel is handed back through should_stop, so the importer ends its ImportRun
        # properly instead of seeing an exception from inside its loop.
        try:
            run.reporter.update(done, total=total, message="Importing rows")
        except (JobCancelled, JobLost) as exc:
            stop.append(exc)

    run.reporter.update(0, message="Checking the whole file", force=True)
    import_run = import_file(
        path, source_name=run.params["name"], progress=progress, should_stop=lambda: bool(stop)
    )
    if stop:
        raise stop[0]
    if import_run.status == ImportRun.Status.REFUSED:
        raise JobFailed(f"The file was refused: {import_run.message}")
    result: dict[str, Any] = {
        "import_run": import_run.pk,
        "file": run.params["name"],
        "era": import_run.era,
        "status": import_run.status,
        "message": import_run.message,
        **{count: getattr(import_run, count) for count in COUNTS},
        "errors": import_run.errors[:RESULT_ERRORS],
    }
    return Outcome(result=result)


class ImportParams(ParamsForm):
    """An uploaded file, by the name the import page stored it under."""

    upload = forms.RegexField(
        regex=r"^[0-9a-f]{32}\.(csv|xlsx)\Z",
        error_messages={"invalid": "Not an uploaded file: upload it on the import page."},
    )
    name = forms.CharField(max_length=200, help_text="The file's name on the uploader's computer.")

    def clean_upload(self) -> str:
        upload = self.cleaned_data["upload"]
        if not upload_path(upload).is_file():
            raise ValidationError(
                "The uploaded file is gone (it is deleted when its import ends); upload it again."
            )
        return upload


def title(params: Mapping[str, Any]) -> str:
    return f"Import of {params.get('name', 'a file')}"


# Imports change the shared data: staff only, and on the bulk queue beside long exports.
KIND = KindSpec(
    name="import",
    label="Import",
    form=ImportParams,
    run=run_import,
    title=title,
    queue="bulk",
    staff_only=True,
    summary_template="jobs/kinds/import_summary.html",
    detail_template="jobs/kinds/import_detail.html",
    params_template="jobs/kinds/import_params.html",
)

"""The import page's chunked upload (jobs/uploads.py), as JSON for static/js/upload.js.

POST uploads/ (name, size) starts one; GET uploads/<id>/ says where it continues;
POST uploads/<id>/chunk/?offset=N appends an octet-stream body there (409 with the
offset when N is not where the file ends); POST uploads/<id>/complete/ checks the file
and starts its import job. Staff only; anyone else gets 404, as for the import page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from config.handlers import Request
from jobs import progress, services, uploads
from jobs.kinds import imports
from jobs.models import PENDING_STATES, Job

NUMBER = re.compile(r"[0-9]{1,15}")


def _staff_json(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404  # the import page does not exist for analysts
        try:
            return view(request, *args, **kwargs)
        except uploads.UploadGone:
            return _error(404, "This upload is unknown or finished; start it again.")
        except uploads.OffsetMismatch as exc:
            return _error(409, str(exc), offset=exc.offset)
        except uploads.UploadBusy:
            return _error(409, "Another part of this upload is being written; ask where it continues.")
        except imports.UploadRefused as exc:
            return _error(400, str(exc))

    return wrapper


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _number(raw: str | None, name: str) -> int:
    if raw is None or not NUMBER.fullmatch(raw):
        raise imports.UploadRefused(f"Send {name} as a whole number of bytes.")
    return int(raw)


def _state(upload: uploads.Upload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "name": upload.name,
        "size": upload.size,
        "offset": upload.received,
        "chunk_bytes": settings.UPLOAD_CHUNK_BYTES,
        "status_url": reverse("jobs:upload-status", args=[upload.id]),
        "chunk_url": reverse("jobs:upload-chunk", args=[upload.id]),
        "complete_url": reverse("jobs:upload-complete", args=[upload.id]),
    }


@require_POST
@_staff_json
def start(request: Request) -> HttpResponse:
    size = _number(request.POST.get("size"), "the file's size")
    name = request.POST.get("name", "")
    # The checks a job submit makes later, made before a 200 MB upload rather than after.
    if Job.objects.filter(owner=request.user, state__in=PENDING_STATES).count() >= settings.JOB_ACTIVE_CAP:
        return _error(429, str(services.TooManyJobs(settings.JOB_ACTIVE_CAP)))
    upload = uploads.start(user=request.user, name=name, size=size)
    return JsonResponse(_state(upload), status=201)


@require_GET
@_staff_json
def status(request: Request, upload_id: str) -> HttpResponse:
    return JsonResponse(_state(uploads.get(user=request.user, upload_id=upload_id)))


@require_POST
@_staff_json
def chunk(request: Request, upload_id: str) -> HttpResponse:
    upload = uploads.get(user=request.user, upload_id=upload_id)
    if request.content_type != "application/octet-stream":
        raise imports.UploadRefused("Send each chunk as application/octet-stream.")
    offset = _number(request.GET.get("offset"), "offset")
    length = _number(request.META.get("CONTENT_LENGTH"), "Content-Length")
    if length > settings.UPLOAD_CHUNK_BYTES:  # the server refuses these first (config/server.py)
        raise imports.UploadRefused(f"Send chunks of at most {settings.UPLOAD_CHUNK_BYTES:,} bytes.")
    # Read from the request stream, never request.body: a chunk is not held in memory.
    new_offset = uploads.append(upload=upload, offset=offset, length=length, read=request.read)
    return JsonResponse({"offset": new_offset, "size": upload.size})


@require_POST
@_staff_json
def complete(request: Request, upload_id: str) -> HttpResponse:
    upload = uploads.get(user=request.user, upload_id=upload_id)
    stored = uploads.complete(upload=upload)
    try:
        job = uploads.submit_import(user=request.user, stored=stored, name=upload.name)
    except services.TooManyJobs as exc:
        return _error(429, str(exc))
    except services.InvalidParams as exc:
        text = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in exc.errors.items())
        return _error(400, f"The import could not start: {text}")
    return JsonResponse(
        {
            "job": str(job.id),
            "url": job.get_absolute_url(),
            "html": progress.render_status(job, request=request),
        },
        status=201,
    )

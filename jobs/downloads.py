"""Serving a job's result file: the page and the API share these answers."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse, HttpResponseBase, JsonResponse

from jobs.models import Job, State


def file_response(job: Job, *, json_errors: bool = False) -> HttpResponseBase:
    """The file as an attachment; 410 once expired, 404 while there is none."""
    path = job.file if job.has_file else None
    if path is not None and path.exists():
        # The name is built by the exporter from the date and format only, never from user
        # input; FileResponse still quotes it safely in Content-Disposition.
        response = FileResponse(path.open("rb"), as_attachment=True, filename=job.file_name)
        response["Content-Type"] = job.content_type
        response["X-Content-Type-Options"] = "nosniff"
        return response
    if job.state == State.EXPIRED:
        status, problem = 410, "This file expired and was deleted. Run the job again to get a new one."
    else:
        status, problem = 404, "This job has no file to download (yet)."
    if json_errors:
        return JsonResponse({"error": problem}, status=status)
    return HttpResponse(problem, status=status, content_type="text/plain; charset=utf-8")

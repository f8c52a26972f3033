"""Job pages: submit from a page, the status fragment, history, detail, cancel, download."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from config.handlers import Request
from explorer.search import FILTER_NAMES, SearchForm
from jobs import downloads, panel, progress, queueing, quotas, services, system, uploads
from jobs.kinds import imports, report
from jobs.models import Job, JobData, State


def params_from_form(data: QueryDict) -> dict[str, object]:
    """A page form's fields as job params: the search filters go under "filters"."""
    params: dict[str, object] = {}
    for name, values in data.lists():
        if name not in FILTER_NAMES and name not in ("kind", "csrfmiddlewaretoken"):
            params[name] = values if len(values) > 1 else values[-1]  # checkboxes send lists
    params["filters"] = {name: data[name] for name in FILTER_NAMES if data.get(name)}
    return params


def _status(request: Request, job: Job, *, status: int = 200) -> HttpResponse:
    return HttpResponse(progress.render_status(job, request=request), status=status)


@login_required
@require_POST
def submit(request: Request) -> HttpResponse:
    kind = request.POST.get("kind", "")
    try:
        job, created = services.submit_job(
            user=request.user, kind=kind, params=params_from_form(request.POST)
        )
    except services.InvalidParams as exc:
        text = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in exc.errors.items())
        return _refused(request, f"The job could not start: {text}", status=400)
    except services.TooManyJobs as exc:
        return _refused(request, str(exc), status=429)
    if request.htmx:
        return _status(request, job, status=201 if created else 200)
    return redirect(job)


def _refused(request: Request, message: str, *, status: int) -> HttpResponse:
    if request.htmx:
        return render(request, "jobs/_job_refused.html", {"message": message}, status=status)
    messages.error(request, message)
    # Back to the page the form was on, but only on this site: the header is the client's.
    referer = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(referer if safe else "explorer:search")


@login_required
@require_GET
def search_actions(request: Request) -> HttpResponse:
    """The search page's job panel alone, for the search in the query string."""
    form = SearchForm(request.GET, user=request.user)
    if not form.is_valid():
        return HttpResponse("Invalid filters.", status=400)
    return render(
        request, "jobs/_search_actions.html", panel.for_search(user=request.user, search=form.search)
    )


@login_required
@require_GET
def job_status(request: Request, job_id: str) -> HttpResponse:
    """The status fragment alone: what pending elements poll when the socket is down."""
    return _status(request, services.job_for_user(request.user, job_id))


@login_required
@require_GET
def job_timeline(request: Request, job_id: str) -> HttpResponse:
    """The job page's timeline and attempts alone (the page fetches it when the job changes)."""
    job = services.job_for_user(request.user, job_id)
    return render(request, "jobs/_job_timeline.html", {"job": job})


@login_required
@require_GET
def job_list(request: Request) -> HttpResponse:
    jobs = Job.objects.filter(owner=request.user).order_by("-created_at")
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    return render(request, "jobs/job_list.html", {"page": page, "quota": quotas.usage(user=request.user)})


@login_required
@require_GET
def job_detail(request: Request, job_id: str) -> HttpResponse:
    job = services.job_for_user(request.user, job_id)
    context = {"job": job, **queueing.position_and_eta(job)}
    return render(request, "jobs/job_detail.html", context)


@login_required
@require_GET
def job_report(request: Request, job_id: str) -> HttpResponse:
    job = services.job_for_user(request.user, job_id)
    data = JobData.objects.filter(job=job).values_list("payload", flat=True).first()
    if job.kind != report.KIND.name or job.state != State.SUCCEEDED or data is None:
        return redirect(job)  # not a report, or not ready: its job page says why
    context = {
        "job": job,
        "report": data,
        "findings": report.findings_section(data),
        "sections": report.page_sections(data),
    }
    return render(request, "jobs/report.html", context)


@login_required
@require_POST
def cancel(request: Request, job_id: str) -> HttpResponse:
    job = services.cancel_job(user=request.user, job=services.job_for_user(request.user, job_id))
    if request.htmx:
        return _status(request, job)
    return redirect(job)


@login_required
@require_POST
def rerun(request: Request, job_id: str) -> HttpResponse:
    old = services.job_for_user(request.user, job_id)
    try:
        job, _ = services.rerun_job(user=request.user, job=old)
    except services.TooManyJobs as exc:
        return _refused(request, str(exc), status=429)
    except services.InvalidParams as exc:
        text = " ".join(" ".join(errors) for errors in exc.errors.values())
        return _refused(request, f"This job cannot run again: {text}", status=400)
    if request.htmx:
        return HttpResponseClientRedirect(job.get_absolute_url())
    return redirect(job)


@login_required
@require_GET
def download(request: Request, job_id: str) -> HttpResponseBase:
    return downloads.file_response(services.job_for_user(request.user, job_id))


class UploadForm(forms.Form):
    file = forms.FileField(label="PhilGEPS file", allow_empty_file=True)  # empty: refused with a reason


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: Request) -> HttpResponse:
    """Staff upload a PhilGEPS file; it is checked here and imported by an `import` job."""
    if not request.user.is_staff:
        raise Http404  # the page does not exist for analysts
    if request.method == "POST":
        return _import_upload(request)
    return render(request, "jobs/import.html", _import_context(request, UploadForm()))


def _import_context(request: Request, form: UploadForm, **extra: object) -> dict[str, object]:
    recent = Job.objects.filter(owner=request.user, kind=imports.KIND.name).order_by("-created_at")[:10]
    limits = {"max_bytes": settings.IMPORT_MAX_UPLOAD_BYTES, "chunk_bytes": settings.UPLOAD_CHUNK_BYTES}
    return {"form": form, "recent": recent, **limits, **extra}


def _import_upload(request: Request) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_refused(request, form, "Choose a PhilGEPS .csv or .xlsx file to upload.")
    upload = form.cleaned_data["file"]
    try:
        stored = imports.store_upload(upload)
    except imports.UploadRefused as exc:
        return _upload_refused(request, form, str(exc))
    try:
        job = uploads.submit_import(user=request.user, stored=stored, name=upload.name or "upload")
    except services.TooManyJobs as exc:
        return _upload_refused(request, form, str(exc), status=429)
    except services.InvalidParams as exc:
        text = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in exc.errors.items())
        return _upload_refused(request, form, f"The import could not start: {text}")
    if request.htmx:
        return _status(request, job, status=201)
    return redirect(job)


def _upload_refused(request: Request, form: UploadForm, message: str, *, status: int = 400) -> HttpResponse:
    if request.htmx:
        return render(request, "jobs/_job_refused.html", {"message": message}, status=status)
    return render(request, "jobs/import.html", _import_context(request, form, refusal=message), status=status)


@login_required
@require_GET
def system_page(request: Request) -> HttpResponse:
    """Operators' view of the queues, workers and job timings (staff only)."""
    if not request.user.is_staff:
        raise Http404  # the page does not exist for analysts
    depths = system.queue_depths()
    timings = system.timings()
    context = {
        "queues": depths,
        # A ping through a broker that is down would wait for its connection retries.
        "workers": system.workers_online() if depths is not None else None,
        "channel_layer_ok": system.channel_layer_ok(),
        "states": system.jobs_per_state(),
        "failures": system.failures_since(),
        "timings": timings,
        "timing_chart": system.timing_chart(timings),
    }
    return render(request, "jobs/system.html", context)

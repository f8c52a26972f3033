"""The JSON API under /api/ (DESIGN.md "Fixed interfaces").

Authenticated by the session (with CSRF on writes, as for any form) or by
`Authorization: Token <key>` (no CSRF: a token is not sent by the browser on its own).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from config.handlers import Request
from explorer.search import search_url
from jobs import downloads, queueing, services
from jobs.models import PENDING_STATES, ApiToken, Job, JobData, State

View = Callable[..., HttpResponseBase]


def error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
# A job request is a few hundred bytes nested three deep ({"params": {"filters": {...}}}).
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8
_JSON_SPECIAL = re.compile(rb'["\\\[\]{}]')


class BadBody(ValueError):
    """The request body is not a job request; the message says why, for `fields`."""


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw`, counted without parsing it: Python's
    parser recurses once per level and fails with RecursionError near 1,000.

    One pass over the quotes, backslashes and brackets (a regular expression for whole
    strings backtracks quadratically on hostile input: 30 s for 64 KB).
    """
    depth = deepest = 0
    in_string = False
    escaped_at = -1  # the position a backslash inside a string makes literal
    for match in _JSON_SPECIAL.finditer(raw):
        position, char = match.start(), match.group()
        if position == escaped_at:
            continue
        if in_string:
            if char == b"\\":
                escaped_at = position + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> None:
    raise BadBody(f"{name} is not a number JSON allows.")


def parse_job_request(request: HttpRequest) -> dict[str, Any]:
    """The JSON object of a job request, or BadBody: too large, too deep, not JSON."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isascii() or not declared.isdigit() or int(declared) > MAX_JSON_BYTES:
        raise BadBody(f"Send at most {MAX_JSON_BYTES // 1024} KB of JSON.")
    raw = request.body
    if len(raw) > MAX_JSON_BYTES:
        raise BadBody(f"Send at most {MAX_JSON_BYTES // 1024} KB of JSON.")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise BadBody(f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        body = json.loads(raw or b"null", parse_constant=_refuse_constant)
    except BadBody:
        raise
    except ValueError:  # JSONDecodeError, bad UTF-8, an integer past Python's digit limit
        raise BadBody("Send a JSON object.") from None
    if not isinstance(body, dict):
        raise BadBody("Send a JSON object.")
    return body


def _token_user(request: HttpRequest) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return None
    try:
        token = ApiToken.objects.select_related("user").get(key_hash=ApiToken.hash(key.strip()))
    except ApiToken.DoesNotExist:
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        # Minute precision is plenty for "last used", and saves a write per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_view(*methods: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                response = error(405, f"Use {' or '.join(methods)}.")
                response["Allow"] = ", ".join(methods)
                return response
            if "Authorization" in request.headers:
                user = _token_user(request)
                if user is None:
                    return error(401, "Invalid API token.")
                request.user = user
            elif not request.user.is_authenticated:
                return error(401, "Log in or send 'Authorization: Token <token>'.")
            elif request.method not in ("GET", "HEAD", "OPTIONS"):
                reason = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, view, (), {})
                if reason is not None:
                    return error(403, "CSRF check failed: send the X-CSRFToken header with session auth.")
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return error(404, "No such job.")

        return wrapper

    return decorator


def job_json(job: Job) -> dict[str, Any]:
    position = queueing.position_and_eta(job)
    return {
        "id": str(job.id),
        "kind": job.kind,
        "state": job.state,
        "params": job.params,
        "progress": {
            "done": job.progress_done,
            "total": job.progress_total,
            "percent": job.percent,
            "message": job.progress_message,
            "seq": job.progress_seq,
        },
        "queue_position": position["queue_position"],
        "eta_seconds": position["eta_seconds"],
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "result": job.result,
        "file": {"name": job.file_name, "size": job.file_size, "rows": job.file_rows}
        if job.has_file
        else None,
        "error": job.error or None,
        "download_url": job.download_url(),
    }


@api_view("GET", "POST")
def jobs(request: Request) -> HttpResponse:
    if request.method == "GET":
        mine = Job.objects.filter(owner=request.user)
        state = request.GET.get("state")
        if state == "active":
            mine = mine.filter(state__in=PENDING_STATES)
        elif state in State.values:
            mine = mine.filter(state=state)
        elif state:  # "\x00" would reach PostgreSQL, which refuses it with an error
            choices = ", ".join(["active", *State.values])
            return error(400, "Unknown state.", fields={"state": [f"Choose one of: {choices}."]})
        return JsonResponse({"jobs": [job_json(job) for job in mine.order_by("-created_at")[:100]]})
    try:
        body = parse_job_request(request)
    except BadBody as exc:
        return error(400, "The body must be a JSON object.", fields={"body": [str(exc)]})
    try:
        job, created = services.submit_job(
            user=request.user, kind=body.get("kind"), params=body.get("params", {})
        )
    except services.InvalidParams as exc:
        return error(400, "Invalid job request.", fields=exc.errors)
    except services.TooManyJobs as exc:
        response = error(429, str(exc))
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse(job_json(job), status=201 if created else 200)


@api_view("GET")
def job_detail(request: Request, job_id: str) -> HttpResponse:
    return JsonResponse(job_json(services.job_for_user(request.user, job_id)))


@api_view("POST")
def job_cancel(request: Request, job_id: str) -> HttpResponse:
    job = services.cancel_job(user=request.user, job=services.job_for_user(request.user, job_id))
    return JsonResponse(job_json(job))


@api_view("GET")
def job_download(request: Request, job_id: str) -> HttpResponseBase:
    return downloads.file_response(services.job_for_user(request.user, job_id), json_errors=True)


@api_view("GET")
def job_report(request: Request, job_id: str) -> HttpResponse:
    """The whole stored report, each finding with the search URL of its awards."""
    job = services.job_for_user(request.user, job_id)
    if job.kind != "report":
        return error(404, "This job is not a report.")
    data = JobData.objects.filter(job=job).values_list("payload", flat=True).first()
    if job.state != State.SUCCEEDED or data is None:
        return error(409, "The report is not ready.", state=job.state)
    base = data.get("filters") or {}
    findings = [f | {"search_url": search_url({**base, **f["filters"]})} for f in data.get("findings", [])]
    return JsonResponse({**data, "job": str(job.id), "findings": findings})

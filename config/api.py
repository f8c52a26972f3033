"""The JSON API v1: its OpenAPI 3 document at /api/schema/ and docs page at /api/docs/
(django-ninja, from the code; Swagger UI from ninja's own static files, no CDN).

The routers: explorer/api.py (awards, organizations, suppliers) and jobs/api.py, whose
job endpoints (a fixed interface) are routed by jobs/urls.py ahead of this API: its
operations here describe them and hand requests to the same views.
Every error is JSON `{"error": "...", "fields": {"name": ["..."]}}` (`fields` on 400s).
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF
from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError

from explorer.api import ApiError, router
from jobs.api import router as jobs_router

DESCRIPTION = """Public procurement awards from PhilGEPS open data.

Authenticate with the session or `Authorization: Token <key>` (tokens: the **API tokens**
page). With public browsing on, reading awards needs no account. Job endpoints (exports,
reports, scans) are under `/api/jobs/`: see the README.
"""


def _docs_decorator(view: Any) -> Any:
    # Swagger UI draws its icons from data: URIs; everything else it loads is this site's.
    return csp_update({"img-src": [SELF, "data:"]})(view)


api = NinjaAPI(
    title="PhilGEPS Data Explorer API",
    version="1",
    description=DESCRIPTION,
    openapi_url="/schema/",
    docs_url="/docs/",
    # No validator badge: it would be an image from a third-party site (and CSP refuses it).
    docs=Swagger(settings={"validatorUrl": None}),
    docs_decorator=_docs_decorator,
    urls_namespace="api",
)
api.add_router("/", router)
api.add_router("/", jobs_router)


def _error(status: int, message: str, fields: dict[str, list[str]] | None = None) -> JsonResponse:
    body: dict[str, Any] = {"error": message}
    if fields is not None:
        body["fields"] = fields
    return JsonResponse(body, status=status)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = _error(exc.status, exc.message, exc.fields)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """ninja's type checks of the query and path (422 by default) as our 400."""
    fields: dict[str, list[str]] = {}
    for item in exc.errors:
        location = [str(part) for part in item.get("loc", ()) if part not in ("query", "path", "filters")]
        fields.setdefault(location[-1] if location else "request", []).append(
            str(item.get("msg", "Invalid."))
        )
    return _error(400, "Invalid request.", fields)

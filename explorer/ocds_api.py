"""The OCDS API: release packages under /api/ocds/ (README "OCDS publication").

- `GET /api/ocds/releases/`: a release package of up to `limit` (default and at most
  100) releases in notice order, with `links.next` (a keyset cursor on the notice id,
  never OFFSET) while more follow. `since=YYYY-MM-DD` keeps the releases dated on or
  after that day; every search filter of the search page (explorer/search.py FILTERS)
  keeps the notices behind the matching awards.
- `GET /api/ocds/releases/<ocid>/` (URL name `ocds-release`): the package of one release.

Authenticated like the jobs API (session or `Authorization: Token`, jobs/api.py), with
its conventions: 400 with `fields` for bad parameters, 401, 404 as JSON, and 429 with
`Retry-After` past OCDS_API_RATE_PER_MINUTE requests per user per minute.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import orjson
from django import forms
from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from config import ratelimit
from config.handlers import Request
from explorer import ocds
from explorer.models import Award, Notice
from explorer.search import FILTER_NAMES, SearchForm
from jobs.api import api_view, error

MAX_LIMIT = 100
AFTER = re.compile(r"[0-9]{1,19}")
PAGING = ("since", "after", "limit")


class PageForm(forms.Form):
    since = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    after = forms.CharField(required=False, max_length=19)
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)

    def clean_after(self) -> int:
        value = self.cleaned_data["after"]
        if not value:
            return 0
        if not AFTER.fullmatch(value) or int(value) >= 2**63:
            raise forms.ValidationError("This page link is broken; start again from the first page.")
        return int(value)


def throttled(request: Request) -> JsonResponse | None:
    """429 with Retry-After once the user has made OCDS_API_RATE_PER_MINUTE requests in
    this minute."""
    limit = settings.OCDS_API_RATE_PER_MINUTE
    wait = ratelimit.hit("ocds-api", str(request.user.pk), limit)
    if wait is None:
        return None
    response = error(429, f"At most {limit} OCDS API requests a minute.")
    response["Retry-After"] = str(wait)
    return response


def package_response(request: Request, releases: list[ocds.Release], **extra: Any) -> HttpResponse:
    package = {
        **ocds.package_metadata(uri=request.build_absolute_uri(), published=timezone.now()),
        "releases": [orjson.Fragment(release.json()) for release in releases],
        **extra,
    }
    return HttpResponse(ocds.dumps(package), content_type="application/json")


@api_view("GET")
def releases(request: Request) -> HttpResponse:
    if response := throttled(request):
        return response
    unknown = sorted(set(request.GET) - set(FILTER_NAMES) - set(PAGING))
    filters = {name: request.GET[name] for name in FILTER_NAMES if name in request.GET}
    search = SearchForm(filters, user=request.user)
    page = PageForm({name: request.GET[name] for name in PAGING if name in request.GET})
    fields: dict[str, list[str]] = {name: ["Unknown parameter."] for name in unknown}
    for form in (search, page):
        if not form.is_valid():
            fields |= {name: [str(m) for m in messages] for name, messages in form.errors.items()}
    if fields:
        return error(400, "Invalid parameters.", fields=fields)
    after = page.cleaned_data["after"]
    limit = page.cleaned_data["limit"] or MAX_LIMIT
    since = page.cleaned_data["since"]
    filtered = any(name != "sort" for name in search.search.filters)
    awards = search.search.awards() if filtered else None
    ids = page_ids(awards, after=after, since=since, limit=limit + 1)
    more = len(ids) > limit
    ids = ids[:limit]
    found = ocds.releases_of(ids) if ids else []
    extra = {}
    if more:
        query = {**{k: v for k, v in request.GET.items() if k != "after"}, "after": str(ids[-1])}
        extra["links"] = {"next": request.build_absolute_uri(f"{request.path}?{urlencode(query)}")}
    return package_response(request, found, **extra)


def page_ids(awards: QuerySet[Award] | None, *, after: int, since: Any, limit: int) -> list[int]:
    """The next `limit` notice ids after `after`: of every notice, or of those behind
    `awards` (a search), dated on or after `since`."""
    if awards is None:
        notices = Notice.objects.filter(id__gt=after).order_by("id").values_list("id", flat=True)
        if not since:
            return list(notices[:limit])
        # ocds.since_condition as two keyset walks merged: the OR with EXISTS makes
        # PostgreSQL hash every award first (1.8 s at 1M awards); each walk alone reads
        # its index in id order and stops after `limit` matches.
        published = notices.filter(published_date__gte=since)[:limit]
        later_awards = (
            Award.objects.filter(notice_id__gt=after)
            .filter(Q(published_date__gte=since) | Q(published_date__isnull=True, award_date__gte=since))
            .order_by("notice_id")
            .values_list("notice_id", flat=True)
            .distinct()[:limit]
        )
        return sorted(set(published) | set(later_awards))[:limit]
    matching = awards.filter(notice_id__gt=after)
    if since:
        later = Award.objects.filter(notice_id=OuterRef("notice_id")).filter(
            Q(published_date__gte=since) | Q(published_date__isnull=True, award_date__gte=since)
        )
        matching = matching.filter(Q(notice__published_date__gte=since) | Exists(later))
    return list(matching.order_by("notice_id").values_list("notice_id", flat=True).distinct()[:limit])


@api_view("GET")
def release(request: Request, ocid: str) -> HttpResponse:
    if response := throttled(request):
        return response
    ids = list(ocds.notice_for_ocid(ocid).values_list("id", flat=True)[:1])
    if not ids:
        return error(404, "No release with this ocid.")
    return package_response(request, ocds.releases_of(ids))

"""Who may open what: public browsing (PUBLIC_BROWSING) and the anonymous search limit.

With public browsing on, the explorer's pages (search, facets, pages, award, organization
and supplier) are open to anyone; jobs, downloads, reports and the job API still need an
account (their views keep `login_required`). Anonymous searches are limited per address
(ANON_SEARCH_PER_MINUTE), answered past it with a readable 429 page and `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from config import login, ratelimit

View = Callable[..., HttpResponseBase]


def login_url(next_url: str) -> str:
    """The login page, coming back to `next_url` (a path on this site) afterwards."""
    return f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': next_url})}"


def public(view: View) -> View:
    """Open to anonymous visitors while PUBLIC_BROWSING is on, else login_required."""
    guarded = login_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if settings.PUBLIC_BROWSING or request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return guarded(request, *args, **kwargs)

    return wrapper


def anonymous_search_limited(view: View) -> View:
    """At most ANON_SEARCH_PER_MINUTE answers a minute per address for anonymous visitors."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            address = login.client_ip(request) or "unknown"
            wait = ratelimit.hit("anon-search", address, settings.ANON_SEARCH_PER_MINUTE)
            if wait is not None:
                return too_many_searches(request, wait)
        return view(request, *args, **kwargs)

    return wrapper


def too_many_searches(request: HttpRequest, wait: int) -> HttpResponse:
    context = {
        "wait": wait,
        "limit": settings.ANON_SEARCH_PER_MINUTE,
        "login_url": login_url(request.get_full_path()),
    }
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response

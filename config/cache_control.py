"""`Cache-Control: private` on every answer to a logged-in user.

Pages, fragments and API answers of a session show that user's jobs and searches: no
shared cache (a proxy, a CDN) may keep them, and nor may the browser's disk cache on a
shared computer (`no-store`). Downloads are files the user asked to keep: `private` only.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import FileResponse, HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control


class PrivatePagesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if isinstance(response, FileResponse):
                patch_cache_control(response, private=True)
            else:
                patch_cache_control(response, private=True, no_store=True)
        return response

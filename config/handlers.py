"""The HTTP side of the ASGI application: Django's handler, with its middleware run in one
thread; and the type of the request the views receive."""

from __future__ import annotations

from typing import TYPE_CHECKING

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase

if TYPE_CHECKING:  # config/asgi.py imports this module before Django is set up
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails


class Request(HttpRequest):
    """A request as a view behind `login_required` sees it (for the type checker):
    django-htmx's `request.htmx`, and a logged-in user."""

    htmx: HtmxDetails
    user: User  # narrower than HttpRequest's: behind login_required


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware chain and the view built as sync code.

    Every view and middleware here is synchronous. Django's own handler keeps the
    async-capable middleware on the event loop, and each of them then runs its sync hooks
    in a thread: about a dozen thread hand-offs per request. Here the whole chain runs in
    the request's thread in one hand-off, as under WSGI; reading the request and sending
    the response stay async (daphne's CPU per API request: 5.5 -> 3.5 ms; see the
    small-job throughput in bench/RESULTS.md).
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)  # not ASGIHandler's: that one builds the async chain
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncChainASGIHandler:
    """django.core.asgi.get_asgi_application(), with the handler above."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()

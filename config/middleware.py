"""Middleware of the project itself (app middleware lives in its app, e.g. jobs.health)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SyncMiddlewareChain:
    """Last in MIDDLEWARE: makes Django run the whole middleware chain in one thread.

    Under ASGI, Django keeps async-capable middleware (all of Django's own) on the event
    loop, and each of them then runs its sync hooks in a thread of their own: a dozen
    thread hand-offs per request. A sync-only middleware innermost makes every middleware
    outside it sync, so a request crosses threads a few times instead (daphne's CPU per API
    request: 5.5 -> 4.1 ms, bench/throughput_bench.py).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

"""The HTTP handler: Django's ASGI handler with the middleware chain built as sync code."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from asgiref.testing import ApplicationCommunicator

from config.handlers import SyncChainASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_middleware_chain_is_sync_and_answers_through_every_middleware():
    handler = SyncChainASGIHandler()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/no-such-page/", "raw_path": b"/no-such-page/", "query_string": b"",
        "headers": [(b"host", b"testserver")], "server": ("testserver", 80), "client": ("127.0.0.1", 1234),
    }  # fmt: skip

    async def get() -> tuple[dict[str, object], dict[str, object]]:
        communicator = ApplicationCommunicator(handler, scope)
        await communicator.send_input({"type": "http.request", "body": b""})
        return await communicator.receive_output(5), await communicator.receive_output(5)

    start, body = asyncio.run(get())

    assert not inspect.iscoroutinefunction(handler._middleware_chain)
    assert start["status"] == 404  # the URL resolver's answer
    headers = dict(start["headers"])  # type: ignore[arg-type]
    assert headers[b"X-Frame-Options"] == b"DENY"  # XFrameOptionsMiddleware ran
    assert b"Page not found" in body["body"]  # type: ignore[operator]  (templates/404.html)

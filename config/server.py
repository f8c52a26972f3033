"""The web server: daphne with a guard on request bodies and lines.

Run it as `python -m config.server [daphne's arguments] config.asgi:application`: every
web process starts this way (Makefile, compose.yaml, Dockerfile, tests, benchmarks).

Twisted's `http.Request` parses every `multipart/form-data` and urlencoded POST into
`request.args`, in memory and on the reactor thread, before daphne hands the body to
Django, which parses it again itself (daphne never reads `args`). An anonymous 200 MB POST
to /login/ took daphne to 2.9 GB and stalled every request for 7 s. Here:

- that parsing is off (`parsePOSTFormSubmission=False`, Twisted's own switch);
- a body larger than its route allows is refused with 413 as soon as the headers say so
  (Content-Length), or as soon as a chunked body passes the limit, before it is stored;
  `settings.REQUEST_BODY_LIMITS` names the routes that take more than
  `REQUEST_MAX_BODY_BYTES` (the chunked import upload);
- a request line or header over Twisted's line limit gets 414 (431 for a header) instead
  of a dropped connection;
- no `Server` header.

A refusal is written at once; the connection then reads and drops what the client is
still sending, for at most LINGER_SECONDS, so that the client gets to read the answer
(closing a socket with unread data resets it, and most clients then report only the reset).
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote

import daphne.server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

LINGER_SECONDS = 5
REASONS = {413: b"Content Too Large", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


def body_limit(path: bytes) -> int:
    """The largest request body the route of `path` takes, in bytes."""
    try:
        view_name = resolve(unquote(path.partition(b"?")[0].decode("ascii"))).view_name
    except (Resolver404, UnicodeDecodeError):
        view_name = ""
    return settings.REQUEST_BODY_LIMITS.get(view_name, settings.REQUEST_MAX_BODY_BYTES)


def _size(n: int) -> str:
    return filesizeformat(n).replace("\xa0", " ")  # plain text: a plain space


class GuardedRequest(WebRequest):
    """daphne's request without Twisted's in-memory form parsing."""

    def __init__(self, channel: http.HTTPChannel, *args: Any, **kwargs: Any) -> None:
        super().__init__(channel, *args, parsePOSTFormSubmission=False, **kwargs)


class GuardedChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 channel with body and line limits that answer in words."""

    _refused = False
    _linger: Any = None  # an IDelayedCall (zope.interface: mypy reads its methods as unbound)
    _left_to_drop: int | None = None
    _body_limit = 0
    _body_seen = 0

    def allHeadersReceived(self) -> None:
        self._body_seen = 0
        # Most requests have no body (length 0): no route lookup for them. None is chunked.
        # (Twisted's stubs type the channel's `_path` as its Request; it holds the raw path.)
        self._body_limit = body_limit(cast(bytes, self._path)) if self.length != 0 else 0
        if self.length is not None and self.length > self._body_limit:
            # Before gotLength(): no file is opened for the body, no "100 Continue" is sent.
            self._refuse(413, self._too_large(), body_left=self.length)
            return
        super().allHeadersReceived()

    def rawDataReceived(self, data: bytes) -> None:
        # A chunked body has no length up front: count it as it arrives (framing included,
        # a few bytes per chunk) and stop at the limit.
        if not self._handlingRequest and self.length is None:
            self._body_seen += len(data)
            if self._body_seen > self._body_limit + 1024:
                self._refuse(413, self._too_large())
                return
        super().rawDataReceived(data)

    def lineLengthExceeded(self, line: bytes) -> None:
        # `_command` is set once the request line is parsed: before that, the long line is it.
        if hasattr(self, "_command"):
            self._refuse(431, "A request header is too long.")
        else:
            self._refuse(414, f"The address is too long (over {self.MAX_LENGTH:,} characters).")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        super().connectionLost(reason)

    def _too_large(self) -> str:
        return (
            f"The request is too large: this address takes at most {_size(self._body_limit)}. "
            "Large PhilGEPS files go through the Import page, which sends them in parts."
        )

    def _refuse(self, status: int, message: str, *, body_left: int | None = None) -> None:
        body = (message + "\n").encode()
        head = (
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (status, REASONS[status], len(body))
        )
        transport: Any = self.transport  # a zope.interface type, which mypy reads as unbound methods
        transport.write(head + body)
        self._refused = True
        self._left_to_drop = body_left
        self.clearLineBuffer()
        self.setRawMode()
        # The line parser hands everything that follows to rawDataReceived or lineReceived
        # (the Twisted loop that called us included): from here on it is dropped.
        self.rawDataReceived = self._drop  # type: ignore[method-assign]  # on purpose: see above
        self.lineReceived = self._drop  # type: ignore[method-assign]  # on purpose
        self.dataReceived = self._drop  # type: ignore[method-assign]  # on purpose
        lose_write = getattr(transport, "loseWriteConnection", None)
        if lose_write is not None:
            lose_write()  # the answer, then FIN; what the client still sends is read and dropped
        self._linger = self.callLater(LINGER_SECONDS, transport.abortConnection)

    def _drop(self, data: bytes) -> None:
        if self._left_to_drop is not None:
            self._left_to_drop -= len(data)
            if self._left_to_drop <= 0:
                transport: Any = self.transport  # as in _refuse
                transport.loseConnection()


class GuardedHTTPFactory(HTTPFactory):
    """daphne's factory, building guarded channels and requests."""

    def protocol(self) -> http._GenericHTTPChannelProtocol:
        # What twisted.web.http.HTTPFactory.protocol builds, with our channel inside.
        return http._GenericHTTPChannelProtocol(GuardedChannel())

    def buildProtocol(self, addr: Any) -> http._GenericHTTPChannelProtocol:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = GuardedRequest
        return protocol


class GuardedServer(daphne.server.Server):
    def run(self) -> None:
        # Server.run() builds its HTTP factory from this module-level name.
        daphne.server.HTTPFactory = GuardedHTTPFactory
        # The first URL lookup imports every view module (about a second): do it now, not
        # on the reactor thread when the first request with a body arrives, holding all others.
        body_limit(b"/")
        super().run()


class GuardedCommandLine(CommandLineInterface):
    """daphne's command line, serving with GuardedServer and without a Server header."""

    server_class = GuardedServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(server_name="")


if __name__ == "__main__":
    GuardedCommandLine.entrypoint()

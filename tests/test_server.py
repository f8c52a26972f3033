"""The web server (config/server.py): request bodies and lines are bounded before Django.

Driven against the real daphne process the suite starts (tests.services.Daphne runs
`python -m config.server`), with raw sockets so the tests control every byte sent.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest

from config.server import body_limit
from tests.services import Daphne, wait_for

MB = 1024 * 1024
BLOCK = b"x" * MB


def send_request(
    port: int,
    head: str,
    *,
    body_size: int = 0,
    prefix: bytes = b"",
    suffix: bytes = b"",
    chunked: bool = False,
    timeout: float = 30,
) -> bytes:
    """Send a request head and a body of `body_size` bytes (`prefix`, filler, `suffix`);
    the start of the answer.

    The filler goes out in 1 MB blocks (never held whole here). The server may stop
    reading once it has answered: whatever it answered is read after sending ends.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        filler = body_size - len(prefix) - len(suffix)
        try:
            for part in _parts(prefix, filler, suffix):
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is already here
        answer = b""
        try:
            while len(answer) < 4096:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def _parts(prefix: bytes, filler: int, suffix: bytes) -> Iterator[bytes]:
    if prefix:
        yield prefix
    while filler > 0:
        yield BLOCK[: min(MB, filler)]
        filler -= MB
    if suffix:
        yield suffix


BOUNDARY = "----hostile"
# A well-formed form with one file field: what Twisted parsed into memory in full.
FILE_PART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
    "Content-Type: text/csv\r\n\r\n"
).encode()
FORM_END = f"\r\n--{BOUNDARY}--\r\n".encode()


def multipart_post(port: int, path: str, size: int, *, chunked: bool = False) -> bytes:
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{length}\r\n\r\n"
    )
    return send_request(port, head, body_size=size, prefix=FILE_PART, suffix=FORM_END, chunked=chunked)


class Poller(threading.Thread):
    """Calls /healthz back to back on one keep-alive connection, timing every answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.durations: list[float] = []
        self.statuses: set[int] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stopping.is_set():
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            self.durations.append(time.perf_counter() - started)
            self.statuses.add(response.status)
            time.sleep(0.01)
        connection.close()


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join(5)


@contextmanager
def watching(daphne) -> Iterator[tuple[Poller, RssSampler]]:  # type: ignore[no-untyped-def]
    poller, sampler = Poller(daphne.port), RssSampler(daphne.process.pid)
    poller.start()
    sampler.start()
    try:
        yield poller, sampler
    finally:
        poller.stopping.set()
        sampler.stopping.set()
        poller.join(30)
        sampler.join(5)


@pytest.mark.services
def test_anonymous_50_and_200_mb_multipart_posts_neither_grow_daphne_nor_stall_healthz(
    tmp_path, transactional_db
):
    # A daphne of its own: these are the first bodies it ever sees (its first URL lookup
    # once imported every view on the reactor thread, a second's stall).
    server = Daphne(tmp_path)
    try:
        with watching(server) as (poller, sampler):
            # Warmed up: the first call runs the checks the next ones are answered from.
            wait_for(lambda: len(poller.durations) >= 5, what="/healthz polls before the posts")
            before = len(poller.durations)
            answers = [multipart_post(server.port, "/login/", size) for size in (50 * MB, 200 * MB)]
            after = len(poller.durations)
            wait_for(lambda: len(poller.durations) >= after + 5, what="/healthz polls after the posts")
    finally:
        server.stop()

    during = poller.durations[before:]
    assert poller.statuses == {200}
    assert len(during) > 5
    assert max(during) < 0.2, sorted(during)[-5:]
    assert sampler.peak - sampler.baseline < 100 * MB, (sampler.baseline, sampler.peak)
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b"takes at most 1.0 MB" in answer


@pytest.mark.services
def test_a_chunked_body_is_refused_once_it_passes_the_limit(daphne):
    with watching(daphne) as (poller, sampler):
        answer = multipart_post(daphne.port, "/login/", 100 * MB, chunked=True)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert max(poller.durations) < 0.2
    assert sampler.peak - sampler.baseline < 100 * MB


@pytest.mark.services
def test_bodies_within_the_limit_still_reach_django(daphne):
    body = "username=nobody&password=wrong"
    head = (
        "POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    )

    answer = send_request(daphne.port, head)

    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]  # Django's CSRF check read the form


@pytest.mark.services
def test_the_upload_route_takes_one_chunk_and_no_more(daphne, settings):
    path = "/jobs/import/uploads/0123456789abcdef0123456789abcdef/chunk/?offset=0"
    head = (
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    )

    within = send_request(
        daphne.port,
        head.format(path=path, size=settings.UPLOAD_CHUNK_BYTES),
        body_size=settings.UPLOAD_CHUNK_BYTES,
    )
    over = send_request(
        daphne.port,
        head.format(path=path, size=settings.UPLOAD_CHUNK_BYTES + 1),
        body_size=settings.UPLOAD_CHUNK_BYTES + 1,
    )

    assert not within.startswith(b"HTTP/1.1 413 "), within[:200]  # Django answered (anonymous: login)
    assert over.startswith(b"HTTP/1.1 413 "), over[:200]
    assert b"takes at most 4.0 MB" in over


@pytest.mark.services
def test_an_over_long_address_gets_414_and_a_long_header_431(daphne):
    long_url = send_request(daphne.port, f"GET /?q={'a' * 20_000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    long_header = send_request(
        daphne.port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: {'b' * 20_000}\r\n\r\n"
    )

    assert long_url.startswith(b"HTTP/1.1 414 URI Too Long"), long_url[:200]
    assert b"The address is too long" in long_url
    assert long_header.startswith(b"HTTP/1.1 431 "), long_header[:200]


@pytest.mark.services
def test_answers_carry_no_server_banner(daphne):
    page = send_request(daphne.port, "GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    refused = multipart_post(daphne.port, "/login/", 5 * MB)
    handshake = send_request(
        daphne.port,
        "GET /ws/jobs/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {daphne.url}\r\n\r\n",
        timeout=5,
    )

    for answer in (page, refused, handshake):
        head = answer.partition(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 "), answer[:200]
        assert b"\r\nserver:" not in head, head


def test_only_the_upload_routes_take_more_than_the_default_limit(settings):
    chunk = settings.UPLOAD_CHUNK_BYTES

    assert body_limit(b"/login/") == settings.REQUEST_MAX_BODY_BYTES == 1024 * 1024
    assert body_limit(b"/api/jobs/?x=1") == settings.REQUEST_MAX_BODY_BYTES
    assert body_limit(b"/no/such/page/") == settings.REQUEST_MAX_BODY_BYTES
    assert body_limit(b"/jobs/import/uploads/0123456789abcdef0123456789abcdef/chunk/") == chunk
    assert body_limit(b"/jobs/import/") == chunk + 64 * 1024
    assert body_limit("/jobs/import/é".encode()) == settings.REQUEST_MAX_BODY_BYTES

"""/healthz reports each dependency and answers 503 when one is down; its public answer
is cheap (cached checks) and says nothing about why, which staff and monitors see."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from jobs import health
from jobs.models import ApiToken

pytestmark = pytest.mark.django_db
MONITOR_TOKEN = "monitor-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def fresh_checks(settings) -> Iterator[None]:
    """Every test starts without cached results (they describe the servers of the moment)."""
    settings.HEALTHZ_TOKEN = MONITOR_TOKEN
    health.forget()
    yield
    health.forget()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_is_ok_when_everything_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "channel_layer"}
    assert all(check["ok"] for check in body["checks"].values())
    assert response["Cache-Control"] == "no-store"


def test_healthz_needs_no_login_and_ignores_the_host_header(client, settings):
    settings.ALLOWED_HOSTS = ["explorer.example.org"]
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")

    assert response.status_code == 200


def test_an_unreachable_broker_gives_503_naming_it_and_nothing_more(client, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": {"ok": True},
        "broker": {"ok": False},
        "channel_layer": {"ok": True},
    }
    assert "Error" not in response.content.decode()


def test_an_unreachable_redis_gives_503_naming_it(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"] == {"ok": False}


def test_staff_and_the_monitor_token_see_why_analysts_do_not(client, staff, alice, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    staff_token, alice_token = ApiToken.issue(staff), ApiToken.issue(alice)

    client.force_login(alice)
    by_analyst = client.get("/healthz").json()
    by_analyst_token = client.get("/healthz", headers={"Authorization": f"Token {alice_token}"}).json()
    client.force_login(staff)
    by_staff = client.get("/healthz").json()
    client.logout()
    by_staff_token = client.get("/healthz", headers={"Authorization": f"Token {staff_token}"}).json()
    by_monitor = client.get("/healthz", headers={"Authorization": f"Token {MONITOR_TOKEN}"}).json()
    by_guess = client.get("/healthz", headers={"Authorization": "Token monitor-token"}).json()

    for public in (by_analyst, by_analyst_token, by_guess):
        assert public["checks"]["broker"] == {"ok": False}
    for detailed in (by_staff, by_staff_token, by_monitor):
        broker = detailed["checks"]["broker"]
        assert broker["ok"] is False
        assert broker["error"]  # the exception's class and text
        assert isinstance(broker["ms"], float)
        assert detailed["age_seconds"] >= 0


class CountingProxy:
    """A TCP forwarder to one server that counts the connections made through it."""

    def __init__(self, url: str, default_port: int) -> None:
        parsed = urlparse(url)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or default_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = parsed._replace(
            netloc=parsed.netloc.replace(parsed.netloc.rpartition("@")[2], f"127.0.0.1:{self.port}")
        ).geturl()
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.mark.services
def test_a_flood_of_calls_opens_no_broker_or_redis_connection_per_call(client, settings):
    broker = CountingProxy(settings.CELERY_BROKER_URL, 5672)
    redis = CountingProxy(settings.REDIS_URL, 6379)
    settings.CELERY_BROKER_URL, settings.REDIS_URL = broker.url, redis.url
    try:
        answers = {client.get("/healthz").status_code for _ in range(50)}
        cached = (broker.accepted, redis.accepted)
        settings.HEALTHZ_CACHE_SECONDS = 0  # no cache: every call checks (the proxies do count)
        for _ in range(3):
            client.get("/healthz")
        uncached = (broker.accepted - cached[0], redis.accepted - cached[1])
    finally:
        broker.close()
        redis.close()

    assert answers == {200}
    assert cached == (1, 1)
    assert uncached == (3, 3)

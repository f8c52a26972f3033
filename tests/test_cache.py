"""config/cache.py: with Redis down, the cache misses and rate limits let requests through."""

from __future__ import annotations

import pytest

from config import cache, ratelimit
from config.cache import FailSoftRedisCache
from tests.services import free_port


@pytest.fixture
def down(monkeypatch: pytest.MonkeyPatch) -> FailSoftRedisCache:
    monkeypatch.setattr(cache, "_warned_at", 0.0)  # the once-a-minute warning is due
    # Nothing listens on this port: every call fails to connect.
    return FailSoftRedisCache(
        f"redis://127.0.0.1:{free_port()}/0", {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    )


def test_a_cache_whose_redis_is_down_misses_and_drops_writes(down, caplog):
    assert down.get("k", "default") == "default"
    assert down.get_many(["a", "b"]) == {}
    assert down.add("k", 1) is False
    assert down.set("k", 1) is None
    assert down.incr("k") == 0
    assert down.delete("k") is False
    assert "the cache (Redis) is unavailable" in caplog.text


def test_rate_limits_let_requests_through_while_the_cache_is_down(down, monkeypatch):
    monkeypatch.setattr(ratelimit, "cache", down)
    assert all(ratelimit.hit("test", "someone", 1) is None for _ in range(5))


@pytest.mark.services
def test_daphne_requests_share_the_process_redis_connection(daphne, alice):
    """Under ASGI every request gets new cache objects; the rate limit of each API request
    used to open a new Redis connection (a socket, a name lookup and a handshake)."""
    import http.client

    import redis
    from django.conf import settings

    from jobs.models import ApiToken

    key = ApiToken.issue(alice)
    stats = redis.Redis.from_url(settings.REDIS_URL)
    before = stats.info("stats")["total_connections_received"]
    api = http.client.HTTPConnection("127.0.0.1", daphne.port, timeout=30)
    for _ in range(20):
        api.request("GET", "/api/jobs/", headers={"Authorization": f"Token {key}"})
        response = api.getresponse()
        response.read()
        assert response.status == 200
    api.close()
    opened = stats.info("stats")["total_connections_received"] - before
    assert opened < 5, f"{opened} Redis connections for 20 requests"

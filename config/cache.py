"""Django's Redis cache, failing soft: a Redis that is down is a cache that misses.

Only live progress needs Redis (README, Reliability: with Redis down, jobs still run and
pages poll). The cache holds what can be recomputed (filter choices, rate-limit windows,
the profile refresh lock), so while Redis is away a read misses, a write is dropped and
the request goes on, with one warning a minute in the log instead of a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
T = TypeVar("T")
_warned_at = 0.0
_clients: dict[str, RedisCacheClient] = {}
_clients_lock = threading.Lock()


def _soft(call: Callable[[], T], fallback: T) -> T:
    global _warned_at
    try:
        return call()
    except RedisError as exc:
        if time.monotonic() - _warned_at > 60:
            _warned_at = time.monotonic()
            logger.warning("the cache (Redis) is unavailable, going on without it: %s", exc)
        return fallback


class FailSoftRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        """One client (and so one connection pool) per process and server list.

        Django's cache objects are context-local: under ASGI every request gets a new
        RedisCache, whose own client opened a new pool and a new Redis connection (socket,
        name lookup, handshake) for the request's first cache call, in every API request
        through the rate limit (tests/test_cache.py). redis-py's pools are thread-safe.
        """
        servers, options = self._servers, self._options  # type: ignore[attr-defined]  # RedisCache's; not in django-stubs
        key = repr((servers, sorted(options.items())))
        with _clients_lock:
            if key not in _clients:
                _clients[key] = RedisCacheClient(servers, **options)
            return _clients[key]

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return _soft(lambda: super(FailSoftRedisCache, self).get(key, default, version), default)

    def get_many(self, keys: Any, version: Any = None) -> Any:
        return _soft(lambda: super(FailSoftRedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> bool:
        return _soft(lambda: super(FailSoftRedisCache, self).has_key(key, version), False)

    def add(self, *args: Any, **kwargs: Any) -> bool:
        return _soft(lambda: super(FailSoftRedisCache, self).add(*args, **kwargs), False)

    def set(self, *args: Any, **kwargs: Any) -> None:
        _soft(lambda: super(FailSoftRedisCache, self).set(*args, **kwargs), None)

    def set_many(self, *args: Any, **kwargs: Any) -> list[Any]:
        return _soft(lambda: super(FailSoftRedisCache, self).set_many(*args, **kwargs), [])

    def touch(self, *args: Any, **kwargs: Any) -> bool:
        return _soft(lambda: super(FailSoftRedisCache, self).touch(*args, **kwargs), False)

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        return _soft(lambda: super(FailSoftRedisCache, self).delete(*args, **kwargs), False)

    def delete_many(self, *args: Any, **kwargs: Any) -> None:
        _soft(lambda: super(FailSoftRedisCache, self).delete_many(*args, **kwargs), None)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        # Unavailable: 0, so a rate limit lets the request through (config/ratelimit.py).
        return _soft(lambda: super(FailSoftRedisCache, self).incr(key, delta, version), 0)

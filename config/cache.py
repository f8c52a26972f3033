"""Django's Redis cache, failing soft: a Redis that is down is a cache that misses.

Only live progress needs Redis (README, Reliability: with Redis down, jobs still run and
pages poll). The cache holds what can be recomputed (filter choices, rate-limit windows,
the profile refresh lock), so while Redis is away a read misses, a write is dropped and
the request goes on, with one warning a minute in the log instead of a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
T = TypeVar("T")
_warned_at = 0.0


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

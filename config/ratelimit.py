"""Fixed-window rate limits on the shared cache (Redis outside local mode).

`hit(scope, who, limit)` counts one request of `who` in the current window of `scope` and
says how many seconds to wait when the window's `limit` is already spent (None: go on).
A fixed window lets up to twice the limit through around a window's edge; that is plenty
for bounding heavy anonymous use and per-token API load, and costs one cache round trip.
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache


def hit(scope: str, who: str, limit: int, *, window: int = 60) -> int | None:
    now = time.time()
    slot = int(now // window)
    key = f"ratelimit:{scope}:{who}:{slot}"
    cache.add(key, 0, timeout=window + 5)
    try:
        count = cache.incr(key)  # 0 while the cache is down (config/cache.py): no limit then
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 5)
        count = 1
    if count <= limit:
        return None
    return max(1, math.ceil((slot + 1) * window - now))

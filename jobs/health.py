"""GET /healthz: is this process able to reach the database, the broker and the channel layer?

Answered by a middleware placed first, before host validation and the HTTPS redirect:
container health checks and load balancers call it by IP over plain HTTP, and so can
anyone. So the answer is cheap and says little:

- the checks run at most once per HEALTHZ_CACHE_SECONDS in each process, one refresh at a
  time (callers meanwhile get the last result): a flood of calls opens no broker or Redis
  connection per call (191 calls/s from 8 clients once doubled search latency);
- everyone gets the status and each check's ok (200, or 503 if one fails: DESIGN.md);
  the error text and timings go only to staff (a staff session or a staff user's API
  token) and to `Authorization: Token <HEALTHZ_TOKEN>` for monitoring.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

import redis
from django.conf import settings
from django.contrib import auth
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu import Connection

TIMEOUT_SECONDS = 3


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=TIMEOUT_SECONDS) as broker:
        broker.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)


def _channel_layer() -> None:
    if settings.REDIS_URL:  # the in-memory layer of local mode has nothing to reach
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS)
        try:
            client.ping()
        finally:
            client.close()


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "broker": _broker,
    "channel_layer": _channel_layer,
}


def check_all() -> tuple[bool, dict[str, dict[str, object]]]:
    """Run every check now: (healthy, {name: {ok, ms, error?}})."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure of the service is the answer, not a 500
            results[name] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:300]}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return all(result["ok"] for result in results.values()), results


@dataclass
class _Cached:
    healthy: bool = False
    checks: dict[str, dict[str, object]] = field(default_factory=dict)
    checked_at: float | None = None  # time.monotonic() of the run; None: never ran


_cached = _Cached()
_refreshing = threading.Lock()


def cached_checks() -> tuple[_Cached, float]:
    """The last check results and their age in seconds, refreshed when older than
    HEALTHZ_CACHE_SECONDS. Only the first caller ever waits for a run."""
    age = _age()
    stale = age is None or age >= settings.HEALTHZ_CACHE_SECONDS
    if stale and _refreshing.acquire(blocking=age is None):
        try:
            age = _age()
            if age is None or age >= settings.HEALTHZ_CACHE_SECONDS:  # not refreshed meanwhile
                healthy, checks = check_all()
                _cached.healthy, _cached.checks, _cached.checked_at = healthy, checks, time.monotonic()
        finally:
            _refreshing.release()
    return _cached, _age() or 0.0


def _age() -> float | None:
    return None if _cached.checked_at is None else time.monotonic() - _cached.checked_at


def forget() -> None:
    """Drop the cached results (tests that change what the checks reach)."""
    _cached.checked_at = None


def sees_details(request: HttpRequest) -> bool:
    """Staff (by session or API token) and holders of HEALTHZ_TOKEN see the error texts."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() == "token" and key:
        if settings.HEALTHZ_TOKEN and hmac.compare_digest(key.encode(), settings.HEALTHZ_TOKEN.encode()):
            return True
        from jobs.models import ApiToken

        token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash(key)).first()
        return token is not None and token.user.is_active and token.user.is_staff
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return False
    # This middleware runs before the session and auth middleware: read the session here.
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(request)
    return user.is_active and user.is_staff


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != "/healthz":
            return self.get_response(request)
        result, age = cached_checks()
        try:
            details = sees_details(request)
        except Exception:  # the database is down: the answer says so, to the public
            details = False
        body: dict[str, object]
        if details:
            body = {"status": "ok" if result.healthy else "error", "age_seconds": round(age, 1)}
            body["checks"] = result.checks
        else:
            body = {
                "status": "ok" if result.healthy else "error",
                "checks": {name: {"ok": check["ok"]} for name, check in result.checks.items()},
            }
        response = JsonResponse(body, status=200 if result.healthy else 503)
        response["Cache-Control"] = "no-store"
        return response

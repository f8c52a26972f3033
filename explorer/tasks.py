"""Background tasks of the explorer (jobs/ runs the users' jobs; this is housekeeping)."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from explorer import profiles

LOCK = "explorer:refresh-profiles"


@shared_task(name="explorer.tasks.refresh_profiles")
def refresh_profiles() -> int:
    """Recompute the risk profiles of every organization and supplier."""
    try:
        return profiles.refresh().awards
    finally:
        cache.delete(LOCK)


def request_refresh() -> bool:
    """Queue one refresh (on the bulk queue) unless one was queued in the last hour."""
    if not cache.add(LOCK, 1, timeout=3600):
        return False
    try:
        refresh_profiles.apply_async(queue="bulk")
    except Exception:  # a broker that is down must not break the page that asked
        cache.delete(LOCK)
        return False
    return True

"""Celery tasks of the explorer: the nightly OCDS publication (explorer/publication.py) and
the refresh of the entity pages' risk profiles (explorer/profiles.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.core.cache import cache

from explorer import profiles, publication

# The whole database takes minutes to hours to write. Acknowledged on receipt (not late),
# so RabbitMQ's 30-minute consumer timeout does not apply; a run lost to a crash is
# simply redone the next night, and the files it was replacing stay whole meanwhile.
PUBLISH_TIME_LIMIT = 4 * 3600
LOCK = "explorer:refresh-profiles"


@shared_task(
    name="explorer.tasks.publish_ocds",
    acks_late=False,
    soft_time_limit=PUBLISH_TIME_LIMIT,
    time_limit=PUBLISH_TIME_LIMIT + 120,
)
def publish_ocds() -> dict[str, Any]:
    index = publication.publish()
    return {"published": index["published"], "files": len(index["files"])}


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

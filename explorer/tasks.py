"""Celery tasks of the explorer: the nightly OCDS publication (explorer/publication.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from explorer import publication

# The whole database takes minutes to hours to write. Acknowledged on receipt (not late),
# so RabbitMQ's 30-minute consumer timeout does not apply; a run lost to a crash is
# simply redone the next night, and the files it was replacing stay whole meanwhile.
PUBLISH_TIME_LIMIT = 4 * 3600


@shared_task(
    name="explorer.tasks.publish_ocds",
    acks_late=False,
    soft_time_limit=PUBLISH_TIME_LIMIT,
    time_limit=PUBLISH_TIME_LIMIT + 120,
)
def publish_ocds() -> dict[str, Any]:
    index = publication.publish()
    return {"published": index["published"], "files": len(index["files"])}

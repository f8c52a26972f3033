"""The Celery app. Every setting comes from Django settings with the CELERY_ prefix."""

from __future__ import annotations

import logging
import logging.config
import os
from typing import Any

from celery import Celery, current_task
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("philgeps")
# Unprefixed names would be silently ignored (REFERENCE.md section 5); tests assert the
# effective configuration.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class JobIdFilter(logging.Filter):
    """Give every record logged inside a task the task id, which is the job id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job_id"):
            task = current_task
            task_id = task.request.id if task else None
            if task_id:
                record.job_id = task_id
        return True


@setup_logging.connect
def configure_logging(**kwargs: Any) -> None:
    """Worker and beat log through Django's LOGGING (JSON lines in production).

    Without a receiver for this signal Celery replaces the root logger's handlers with its
    own plain-text format, whatever LOG_JSON says.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)

"""The Celery app. Every setting comes from Django settings with the CELERY_ prefix."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("philgeps")
# Unprefixed names would be silently ignored (REFERENCE.md section 5); tests assert the
# effective configuration.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

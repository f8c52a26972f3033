"""Job: the row every page, socket message and API answer reads (never the Celery result)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from jobs.kinds import KINDS
from jobs.kinds.base import KindSpec


class State(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


PENDING_STATES = (State.QUEUED, State.RUNNING)
FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED, State.EXPIRED)


class Job(models.Model):
    # Also the Celery task id, the socket element id and the URL id.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # A name in jobs.kinds.KINDS. No choices: a new kind needs no migration.
    kind = models.CharField(max_length=20)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    params = models.JSONField(default=dict)
    params_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    queue = models.CharField(max_length=30)

    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_message = models.CharField(max_length=200, blank=True)
    progress_seq = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # [{"at": iso time, "event": "...", ...}]: created, attempt started, retried, finished.
    history = models.JSONField(default=list, blank=True)

    result = models.JSONField(default=dict, blank=True)
    file_path = models.CharField(max_length=500, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    file_rows = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    error = models.TextField(blank=True, help_text="Shown to the user: plain words, no traceback.")
    traceback = models.TextField(blank=True, help_text="For staff only.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Idempotent submit, also under concurrent requests: a second identical pending
            # job cannot be inserted (jobs/services.py catches the IntegrityError).
            models.UniqueConstraint(
                fields=["owner", "kind", "params_hash"],
                condition=Q(state__in=["queued", "running"]),
                name="one_pending_job_per_params",
            ),
        ]
        indexes = [
            # The history page and the API list: one owner's jobs, newest first.
            models.Index(fields=["owner", "-created_at"], name="job_owner_created"),
            # Queue position: earlier queued jobs of the same queue (jobs/queueing.py).
            models.Index(
                fields=["queue", "created_at"], condition=Q(state="queued"), name="job_queued_order"
            ),
            # The stale-job check and the System page read pending jobs only.
            models.Index(fields=["state", "heartbeat_at"], name="job_state_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.title} {self.id} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("jobs:detail", args=[self.id])

    @property
    def spec(self) -> KindSpec:
        return KINDS[self.kind]

    @property
    def title(self) -> str:
        """What this job is, in the words every page, toast and list uses."""
        return self.spec.title(self.params)

    @property
    def summary(self) -> object:
        """What the kind's summary partial shows of the finished job."""
        return self.spec.summary(self)

    @property
    def is_pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.state == State.SUCCEEDED else None
        return min(100, int(self.progress_done * 100 / self.progress_total))

    @property
    def has_file(self) -> bool:
        return self.state == State.SUCCEEDED and bool(self.file_path)

    @property
    def file(self) -> Path | None:
        return Path(self.file_path) if self.file_path else None

    def result_url(self) -> str | None:
        """The page of its result (the report, the matches), computed, never stored."""
        return self.spec.result_url(self) if self.state == State.SUCCEEDED else None

    def download_url(self) -> str | None:
        return reverse("jobs:download", args=[self.id]) if self.has_file else None


class JobData(models.Model):
    """A finished job's full structured result (a report's tables), kept beside the short
    summary in Job.result so the job list and the API stay small. Deleted with the job."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, primary_key=True, related_name="data")
    payload = models.JSONField()

    def __str__(self) -> str:
        return f"Data of {self.job_id}"


class ApiToken(models.Model):
    """A token for `Authorization: Token <key>`; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token {self.name!r} of {self.user}" if self.name else f"API token of {self.user}"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, user: models.Model, name: str = "") -> str:
        """Create a token for `user` and return its key (shown once, never stored)."""
        key = secrets.token_urlsafe(32)
        cls.objects.create(user=user, key_hash=cls.hash(key), name=name)
        return key

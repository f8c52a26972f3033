from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from jobs import services
from jobs.models import ApiToken, Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "owner",
        "state",
        "progress",
        "queue",
        "attempts",
        "created_at",
        "wait",
        "run_time",
    )
    list_filter = ("state", "kind", "queue", "created_at")
    search_fields = ("id", "owner__username", "error", "worker")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    actions = ("cancel_jobs", "rerun_jobs")
    readonly_fields = [f.name for f in Job._meta.fields] + ["file_link"]
    fieldsets = (
        (None, {"fields": ("id", "kind", "owner", "state", "queue", "params", "params_hash", "file_link")}),
        (
            "Progress",
            {
                "fields": (
                    "progress_done",
                    "progress_total",
                    "progress_message",
                    "progress_seq",
                    "cancel_requested",
                )
            },
        ),
        (
            "Timeline",
            {
                "fields": (
                    "created_at",
                    "started_at",
                    "heartbeat_at",
                    "finished_at",
                    "attempts",
                    "worker",
                    "history",
                )
            },
        ),
        (
            "Result",
            {
                "fields": (
                    "result",
                    "file_path",
                    "file_name",
                    "file_size",
                    "file_rows",
                    "content_type",
                    "expires_at",
                )
            },
        ),
        ("Failure", {"fields": ("error", "traceback")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="progress")
    def progress(self, job: Job) -> str:
        return "" if job.percent is None else f"{job.percent}%"

    @admin.display(description="queue wait")
    def wait(self, job: Job) -> str:
        return _seconds(job.created_at, job.started_at)

    @admin.display(description="run time")
    def run_time(self, job: Job) -> str:
        return _seconds(job.started_at, job.finished_at)

    @admin.display(description="file")
    def file_link(self, job: Job) -> str:
        if not job.has_file:
            return "-"
        return format_html('<a href="{}">{}</a>', job.download_url(), job.file_name)

    @admin.action(description="Cancel selected pending jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        for job in queryset:
            services.cancel_job(user=_staff(request), job=job)
        messages.success(request, f"Asked {queryset.count()} jobs to cancel.")

    @admin.action(description="Run selected jobs again (as their owners)")
    def rerun_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        started = 0
        for job in queryset:
            try:
                services.rerun_job(user=_staff(request), job=job)
                started += 1
            except (services.TooManyJobs, services.InvalidParams) as exc:
                messages.warning(request, f"{job.id}: {exc}")
        messages.success(request, f"Started {started} jobs.")


def _staff(request: HttpRequest) -> User:
    """The admin only lets staff in: its request's user is a logged-in User."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _seconds(start: datetime | None, end: datetime | None) -> str:
    if not start or not end:
        return ""
    return f"{(end - start).total_seconds():.1f} s"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "created_at", "last_used_at")
    readonly_fields = ("user", "name", "key_hash", "created_at", "last_used_at")
    search_fields = ("user__username", "name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued on the API tokens page or by create_api_token: they show the key once

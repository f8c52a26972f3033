"""The Celery configuration that is actually in effect (settings need the CELERY_ prefix)."""

from __future__ import annotations

from celery.schedules import crontab

from config.celery import app


def test_reliability_settings_are_in_effect():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["confirm_publish"] is True
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.timezone == "Asia/Manila"
    assert conf.task_ignore_result is True  # submits must not need Redis
    assert conf.result_backend is None  # the Job row is the result


def test_workers_keep_their_database_connection_between_tasks():
    # Celery's Django fixup closes every connection around each task unless this is set.
    from celery.fixups.django import DjangoWorkerFixup

    assert DjangoWorkerFixup(app).db_reuse_max >= 100


def test_time_limits_stay_below_rabbitmq_consumer_timeout():
    consumer_timeout = 30 * 60
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit < consumer_timeout


def test_long_jobs_and_short_jobs_have_separate_queues():
    from jobs.kinds import KINDS

    assert {q.name for q in app.conf.task_queues} == {"interactive", "bulk"}
    assert KINDS["export"].queue == "bulk"
    assert app.conf.task_default_queue == "interactive"


def test_beat_expires_files_daily_at_two_and_checks_stale_jobs_often():
    schedule = app.conf.beat_schedule
    expire = schedule["expire-export-files"]
    assert expire["task"] == "jobs.tasks.expire_files"
    assert expire["schedule"] == crontab(hour=2, minute=0)
    assert schedule["fail-or-requeue-stale-jobs"]["schedule"] <= 60
    app.loader.import_default_modules()  # what a worker does on start: autodiscovery
    assert set(app.tasks) >= {"jobs.tasks.run_job", "jobs.tasks.expire_files", "jobs.tasks.check_stale_jobs"}

"""Settings for the PhilGEPS Data Explorer, read from the environment only.

A bare checkout runs in *local mode* (an embedded PostgreSQL under DATA_DIR, in-memory
broker and channel layer, an in-process worker). Setting DATABASE_URL, CELERY_BROKER_URL
and REDIS_URL switches each part to the real service. DJANGO_ENV=production turns on the
deployment checks.
Every variable read here is listed in .env.example and the README (tests check both).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue
from whitenoise.compress import Compressor

from config import embedded_db

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# Empty means unset in every helper: `.env.example` copied to `.env` leaves variables
# such as DJANGO_SECURE_COOKIES ("default: on in production") empty, and compose passes
# them to the app as empty strings.


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# --- Mode and security -------------------------------------------------------------

DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

# Off unless asked for: with DEBUG on Django keeps every SQL statement in memory, which a
# long import or export in the in-process worker would turn into gigabytes.
DEBUG = env_bool("DJANGO_DEBUG", default=False)
_DEV_SECRET_KEY = "django-insecure-local-development-key-do-not-deploy"  # noqa: S105 (refused in production)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET_KEY)
if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_ENV=production")
    if SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY to a random value of at least 50 characters in production"
        )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", default=PRODUCTION):
    # The reverse proxy terminates TLS and says so in this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, connections (the job socket
# included) and form posts from this site only, and no inline script or style anywhere.
# htmx is configured not to need inline styles or eval (templates/base.html); its
# pending-job polling is an event from static/js/jobs.js, not a JavaScript trigger filter.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# HSTS and the preload list are commitments an operator opts into (DJANGO_HSTS_SECONDS,
# DJANGO_HSTS_PRELOAD); leaving them off is a decision, not a deployment warning.
SILENCED_SYSTEM_CHECKS = []
if SECURE_HSTS_SECONDS == 0:
    SILENCED_SYSTEM_CHECKS.append("security.W004")
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# --- Applications --------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "config.apps.StaticFiles",  # django.contrib.staticfiles, less ninja's unused ReDoc
    "django.contrib.humanize",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "axes",
    "ninja",  # the JSON API v1 (config/api.py); its Swagger UI is served from its static files
    "explorer",
    "jobs",
]

MIDDLEWARE = [
    "jobs.health.HealthCheckMiddleware",  # first: before host checks and HTTPS redirects
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",  # after WhiteNoise: pages get the policy, static files need none
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.cache_control.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the login page's refusal
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------

DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _database: dict[str, Any] = dict(dj_database_url.parse(DATABASE_URL))
else:
    # Local mode: the embedded PostgreSQL under DATA_DIR, over its Unix socket. Settings
    # never start it: `make run` and manage.py do (config/embedded_db.py), and the local
    # half of the tests starts a throwaway cluster of its own (tests/conftest.py).
    _database = embedded_db.database_settings(embedded_db.for_data_dir(DATA_DIR))
# daphne serves each request in a thread of its own and turns DB_POOL on (config/asgi.py):
# a request borrows a connection from psycopg's pool and gives it back at the end.
# Celery processes keep one connection each (Celery would close a pool after each task).
DB_POOL = env_bool("DB_POOL", default=False)
_database["CONN_MAX_AGE"] = 0 if DB_POOL else env_int("DB_CONN_MAX_AGE", 60)
_database["CONN_HEALTH_CHECKS"] = not DB_POOL
if DB_POOL:
    _database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env_int("DB_POOL_SIZE", 20, minimum=1),
        "timeout": 10,
    }
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Workers share the machine with the pages (jobs/worker_process.py, applied in each Celery
# pool process). They run at a lower CPU priority, and their database sessions carry their
# own settings: libpq `options` (e.g. "-c work_mem=64MB -c max_parallel_workers_per_gather=0"),
# optionally as another role (WORKER_DATABASE_URL) whose ALTER ROLE ... SET applies too.
# A page's search keeps the CPU it needs while an export or report runs
# (bench/search_load_bench.py). The local in-process worker (a thread of daphne) keeps
# the web process's settings.
WORKER_NICE = env_int("WORKER_NICE", 10, minimum=0)
if WORKER_NICE > 19:
    raise ImproperlyConfigured(f"WORKER_NICE must be at most 19, not {WORKER_NICE}")
WORKER_DATABASE_URL = env_str("WORKER_DATABASE_URL")
# After a statement_timeout of the job's hard time limit (no query outlives its job),
# which these options may override.
WORKER_DB_OPTIONS = env_str("WORKER_DB_OPTIONS")
# Where PostgreSQL runs on the same host (a Unix socket or a loopback address) and the
# worker may renice its processes (the same OS user, or root): the niceness each worker's
# own database server process takes, 0 for none. PostgreSQL has no priority of its own, so
# without this a job's queries share the cores with the pages' queries as equals. Parallel
# query is then off for workers (parallel helpers are separate server processes).
WORKER_DB_NICE = env_int("WORKER_DB_NICE", 0, minimum=0)
if WORKER_DB_NICE > 19:
    raise ImproperlyConfigured(f"WORKER_DB_NICE must be at most 19, not {WORKER_DB_NICE}")
# A cgroup (a directory of cgroup v1's `cpu` controller or of cgroup v2) that the operator
# made with a CPU quota, such as one core: each pool process joins it, and so does the
# PostgreSQL server process of each of its sessions where the server runs on this host and
# the worker may move it (root). Priority orders processes on one core only; a quota holds
# the jobs to a share of the machine wherever they run. Parallel query is then off for
# workers (its helpers would stay outside).
WORKER_CPU_CGROUP = env_str("WORKER_CPU_CGROUP")
if WORKER_CPU_CGROUP and not (Path(WORKER_CPU_CGROUP) / "cgroup.procs").is_file():
    raise ImproperlyConfigured(
        f"WORKER_CPU_CGROUP {WORKER_CPU_CGROUP} is not a cgroup: it has no cgroup.procs file"
    )

# Statement timeout for one search facet or aggregate on a page (ms); a slower one shows
# "timed out" instead of holding the page.
FACET_TIMEOUT_MS = env_int("FACET_TIMEOUT_MS", 1500, minimum=1)

# --- Auth, i18n, static --------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes, config/login.py): a username is locked from one address
# after LOGIN_FAILURE_LIMIT wrong passwords, for LOGIN_LOCKOUT_MINUTES. By username and
# address together, so neither a guesser elsewhere nor a colleague behind the same NAT
# locks a user out. Axes' backend comes first: it refuses a locked-out attempt before the
# password is hashed.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
# Password hashes one web process computes at once; more logins wait a few seconds, then
# get "try again" (each hash is about 0.7 s of CPU).
LOGIN_HASH_CONCURRENCY = env_int("LOGIN_HASH_CONCURRENCY", 2, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.login.client_ip"
AXES_LOCKOUT_CALLABLE = "config.login.locked_out"
LOGIN_URL = "login"
# Password reset and sign-up mail (config/accounts.py): printed on the console unless an
# SMTP server is set. Links are valid PASSWORD_RESET_DAYS days and work once.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=EMAIL_PORT == 465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS, port 587) or EMAIL_USE_SSL (port 465), not both")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "PhilGEPS Data Explorer <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_DAYS", 1, minimum=1) * 86400
# Self sign-up with email confirmation; off: staff create accounts in the admin.
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", default=False)
# Reset and confirmation mails one address may ask for in an hour.
MAIL_REQUESTS_PER_HOUR = env_int("MAIL_REQUESTS_PER_HOUR", 5, minimum=1)
# Public browsing (config/access.py): anonymous visitors search, facet and page, and open
# award and entity pages; jobs, downloads, reports and the API's job routes need an
# account. Anonymous searches are limited per address: at most ANON_SEARCH_PER_MINUTE
# search answers (pages, totals, name suggestions) a minute, then a 429 page.
PUBLIC_BROWSING = env_bool("PUBLIC_BROWSING", default=True)
ANON_SEARCH_PER_MINUTE = env_int("ANON_SEARCH_PER_MINUTE", 60, minimum=1)
# Requests one API token may make a minute (jobs and awards API); 429 with Retry-After past it.
API_TOKEN_PER_MINUTE = env_int("API_TOKEN_PER_MINUTE", 120, minimum=1)
LOGIN_REDIRECT_URL = "explorer:search"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Manila"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without collectstatic (local mode, tests) WhiteNoise serves straight from the finders.
WHITENOISE_USE_FINDERS = not PRODUCTION
# Source maps (Swagger UI's, 2 MB) are for developer tools only: kept, not compressed.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Files ---------------------------------------------------------------------------

EXPORT_ROOT = Path(env_str("EXPORT_ROOT", str(DATA_DIR / "exports")))
UPLOAD_ROOT = Path(env_str("UPLOAD_ROOT", str(DATA_DIR / "uploads")))
EXPORT_RETENTION_DAYS = env_int("EXPORT_RETENTION_DAYS", 7, minimum=1)
IMPORT_MAX_UPLOAD_MB = env_int("IMPORT_MAX_UPLOAD_MB", 200, minimum=1)
IMPORT_MAX_UPLOAD_BYTES = IMPORT_MAX_UPLOAD_MB * 1024 * 1024
# An upload is kept until its import job ends; one with no pending job (its job was
# cancelled while queued, or given up) is deleted once it is this old, and so is an
# unfinished chunked upload that received nothing for this long.
UPLOAD_ORPHAN_SECONDS = 3600

# --- Request limits ------------------------------------------------------------------

# Enforced by the web server (config/server.py) from the headers, before a byte of the
# body is stored: a larger body is answered 413. The import page sends files in chunks of
# UPLOAD_CHUNK_MB to its upload route, the only one that takes more.
REQUEST_MAX_BODY_BYTES = env_int("REQUEST_MAX_BODY_KB", 1024, minimum=64) * 1024
UPLOAD_CHUNK_BYTES = env_int("UPLOAD_CHUNK_MB", 4, minimum=1) * 1024 * 1024
REQUEST_BODY_LIMITS = {
    "jobs:upload-chunk": UPLOAD_CHUNK_BYTES,
    # The import form without JavaScript: one file of up to a chunk, with its form fields.
    "jobs:import": UPLOAD_CHUNK_BYTES + 64 * 1024,
}

# --- Celery (read by config/celery.py with the CELERY_ namespace) --------------------

REDIS_URL = env_str("REDIS_URL")
# Local mode: the in-memory broker only works inside one process, so `make run` starts a
# worker thread inside daphne (config/local.py, jobs/local_worker.py). Its host name only
# keeps kombu from warning that none was given.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "memory://localhost/"
LOCAL_WORKER = CELERY_BROKER_URL.startswith("memory://")
# No result backend: the Job row is the result. Celery's results would make every submit
# subscribe to a Redis channel (slower, bench/throughput_bench.py), a Redis outage would
# turn job submits into errors (tests/jobs/test_faults.py), and even unused, a Redis
# backend is built anew in every thread that publishes (each daphne request: 7 % of its
# CPU in the throughput bench).
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# At-least-once execution (REFERENCE.md section 5): ack after the task, requeue when the
# worker process dies, one unacked message per process, confirmed publishes.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes every database connection before and after each task unless
# this is set, whatever CONN_MAX_AGE says: a new PostgreSQL server process for every job
# (bench/throughput_bench.py: sessions a job 1.0 -> 0.06). jobs/execution.py runs
# close_old_connections() before each job, which enforces CONN_MAX_AGE and drops a broken
# connection; the forced close every 1000 tasks is only a backstop.
CELERY_DB_REUSE_MAX = 1000
# Task events are off until something watches them: Flower turns them on in every worker
# while it runs (its enable_events option), and the System page asks workers directly.
# Each event is a confirmed publish from the worker's main process (3 per job), and the
# "sent" event one more from the web process per submit.
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TASK_SEND_SENT_EVENT = False
# Both limits stay below RabbitMQ's 30-minute consumer_timeout, which would otherwise
# close the channel and requeue a long job mid-run.
JOB_SOFT_TIME_LIMIT = env_int("JOB_SOFT_TIME_LIMIT", 25 * 60, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = JOB_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = JOB_SOFT_TIME_LIMIT + 120
if CELERY_TASK_TIME_LIMIT >= 30 * 60:
    raise ImproperlyConfigured("JOB_SOFT_TIME_LIMIT must leave the hard limit under 30 minutes")
# Quorum queues: replicated and durable in a RabbitMQ cluster (compose turns them on).
CELERY_QUORUM_QUEUES = env_bool("CELERY_QUORUM_QUEUES", default=False)
_queue_arguments = {"x-queue-type": "quorum"} if CELERY_QUORUM_QUEUES else {}
# Short jobs (interactive) never wait behind a long export or import (bulk).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name, queue_arguments=_queue_arguments)
    for name in ("interactive", "bulk")
]
CELERY_TASK_DEFAULT_QUEUE = "interactive"
# Risk profiles of the entity pages (explorer/profiles.py): recomputed over all awards by
# the beat task this often, and when a page finds them older than that (or missing).
PROFILE_REFRESH_HOURS = env_int("PROFILE_REFRESH_HOURS", 6, minimum=1)

CELERY_BEAT_SCHEDULE = {
    "refresh-risk-profiles": {
        "task": "explorer.tasks.refresh_profiles",
        "schedule": PROFILE_REFRESH_HOURS * 3600.0,
        "options": {"queue": "bulk", "expires": PROFILE_REFRESH_HOURS * 3600 - 60},
    },
    "expire-export-files": {
        "task": "jobs.tasks.expire_files",
        "schedule": crontab(hour=2, minute=0),
        "options": {"queue": "interactive"},
    },
    "remove-orphaned-uploads": {
        "task": "jobs.tasks.remove_orphaned_uploads",
        "schedule": 15 * 60.0,
        "options": {"queue": "interactive", "expires": 14 * 60},
    },
    # The OCDS bulk files at their stable URLs (explorer/publication.py), nightly.
    "publish-ocds-files": {
        "task": "explorer.tasks.publish_ocds",
        "schedule": crontab(hour=3, minute=0),
        "options": {"queue": "bulk", "expires": 6 * 3600},
    },
    "fail-or-requeue-stale-jobs": {
        "task": "jobs.tasks.check_stale_jobs",
        "schedule": 60.0,
        "options": {"queue": "interactive", "expires": 55},
    },
}

# --- Jobs ----------------------------------------------------------------------------

JOB_ACTIVE_CAP = env_int("JOB_ACTIVE_CAP", 3, minimum=1)
# Quotas over time (jobs/quotas.py); 0 turns one off. A user may start this many jobs in
# any hour, and keep this much in result files (past it, their oldest files expire).
JOB_HOURLY_QUOTA = env_int("JOB_HOURLY_QUOTA", 100)
EXPORT_STORAGE_QUOTA_MB = env_int("EXPORT_STORAGE_QUOTA_MB", 1024)
EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 5_000_000, minimum=1)
# A running job writes a heartbeat with each progress update (several a second); one
# silent for JOB_STALE_SECONDS is requeued, or failed after JOB_MAX_ATTEMPTS, by beat.
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 120, minimum=10)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1)
# A scan reads awards in blocks of this many ids (its progress and cancel steps), and
# stops (failing in plain words) when one block takes longer than SCAN_BLOCK_SECONDS.
SCAN_BLOCK_AWARDS = env_int("SCAN_BLOCK_AWARDS", 20_000, minimum=100)
SCAN_BLOCK_SECONDS = env_int("SCAN_BLOCK_SECONDS", 60, minimum=1)
# Amounts (PHP) whose neighbourhood the report checks for bunching just below: the
# Small Value Procurement ceiling and the PHP 50 M / 100 M works tiers (REFERENCE.md 3).
REPORT_THRESHOLDS = sorted(
    int(value) for value in env_list("REPORT_THRESHOLDS", "1000000,50000000,100000000") if value.isdigit()
)

# --- Health check (jobs/health.py) ---------------------------------------------------

# /healthz answers from check results at most this old (one run per process at a time),
# so calls to it open no connections of their own. The error texts are for staff and for
# `Authorization: Token <HEALTHZ_TOKEN>` (a monitor without a user account); unset: staff only.
HEALTHZ_CACHE_SECONDS = env_int("HEALTHZ_CACHE_SECONDS", 5)
HEALTHZ_TOKEN = env_str("HEALTHZ_TOKEN")
if HEALTHZ_TOKEN and len(HEALTHZ_TOKEN) < 20:
    raise ImproperlyConfigured("HEALTHZ_TOKEN must be at least 20 random characters")

# --- Open Contracting (OCDS) -----------------------------------------------------------

# The ocid prefix registered with the Open Contracting Partnership (explorer/ocds.py).
# `ocds-xxxxxx` is the standard's placeholder, fine for development only.
OCDS_OCID_PREFIX = env_str("OCDS_OCID_PREFIX", "ocds-xxxxxx")
if not re.fullmatch(r"ocds-[a-z0-9]{6}", OCDS_OCID_PREFIX):
    raise ImproperlyConfigured("OCDS_OCID_PREFIX must be 'ocds-' and 6 lowercase letters or digits")
# A prefix must be registered with OCP before publishing: production refuses the
# placeholder unless this says it is meant (a test deployment, say).
OCDS_ALLOW_PLACEHOLDER_PREFIX = env_bool("OCDS_ALLOW_PLACEHOLDER_PREFIX", default=False)
if PRODUCTION and OCDS_OCID_PREFIX == "ocds-xxxxxx" and not OCDS_ALLOW_PLACEHOLDER_PREFIX:
    raise ImproperlyConfigured(
        "Set OCDS_OCID_PREFIX to the prefix registered with the Open Contracting Partnership "
        "(or OCDS_ALLOW_PLACEHOLDER_PREFIX=1 to publish under the placeholder ocds-xxxxxx)"
    )
# Package metadata (explorer/ocds.py): the site's public address (package and policy
# URLs), the publisher, and the licence and publication policy URLs (by default the
# sections of the Data page that state them).
OCDS_SITE_URL = env_str("OCDS_SITE_URL", "http://127.0.0.1:8000")
OCDS_PUBLISHER_NAME = env_str("OCDS_PUBLISHER_NAME", "PhilGEPS Data Explorer")
OCDS_PUBLISHER_URI = env_str("OCDS_PUBLISHER_URI")
OCDS_LICENSE_URL = env_str("OCDS_LICENSE_URL")
OCDS_PUBLICATION_POLICY_URL = env_str("OCDS_PUBLICATION_POLICY_URL")
# The nightly bulk files (explorer/publication.py) and the API's requests per minute per user.
OCDS_PUBLISH_ROOT = Path(env_str("OCDS_PUBLISH_ROOT", str(DATA_DIR / "ocds")))
OCDS_API_RATE_PER_MINUTE = env_int("OCDS_API_RATE_PER_MINUTE", 120, minimum=1)

# --- Procurement indicators (explorer/indicators/) --------------------------------------

# Modes Cardinal counts as open or selective (REFERENCE.md 7: Public Bidding and ICB are
# `open`, Limited Source Bidding and Competitive Dialogue `selective`), matched as the
# start of the PhilGEPS mode text ("Limited Source Bidding (Sec. 49)").
INDICATOR_COMPETITIVE_MODES = env_list(
    "INDICATOR_COMPETITIVE_MODES",
    "Public Bidding,International Competitive Bidding,Limited Source Bidding,Competitive Dialogue",
)
# R003: whole days from Published to Closing Date below which a submission period is short.
# Cardinal's default is 15; RA 9184's 2016 IRR (Sec. 21.2.1) posts an Invitation to Bid for
# 7 calendar days, and ICB notices need longer (IRR Sec. 21.2.2 / 23.3, 15 days).
INDICATOR_R003_DAYS = env_int("INDICATOR_R003_DAYS", 7, minimum=1)
# Per-mode thresholds: "mode prefix=days,..." (a prefix of the PhilGEPS mode text).
INDICATOR_R003_MODE_DAYS = {
    mode.strip(): int(days)
    for mode, _, days in (
        item.partition("=")
        for item in env_list("INDICATOR_R003_MODE_DAYS", "International Competitive Bidding=15")
    )
    if days.strip().isdigit()
}
# PH01 price at the ceiling: the ABC is the award's legal ceiling (RA 9184 Sec. 31); in
# competitive modes an award at this share of the ABC or more is a deviation worth a look.
INDICATOR_CEILING_SHARE = float(env_str("INDICATOR_CEILING_SHARE", "0.99"))
# PH02 decision period: Closing Date to Award Date shorter than this many days (bid
# evaluation, post-qualification and the BAC resolution take longer under RA 9184's IRR,
# Sec. 32-37), or negative (a data-quality flag).
INDICATOR_DECISION_MIN_DAYS = env_int("INDICATOR_DECISION_MIN_DAYS", 3)
# PH03 split purchases (RA 9184 IRR Sec. 54.1 forbids splitting to evade a mode's ceiling):
# "mode prefix=ceiling PHP,..." and the window in days.
#   Small Value Procurement (Sec. 53.9): PHP 1,000,000, 2016 IRR Annex "H" (NGAs, GOCCs,
#     1st-2nd class LGUs; RA 12009's IRR raises it for newer procurement).
#   Shopping (Sec. 52.1): PHP 1,000,000, 2016 IRR Annex "H".
INDICATOR_SPLIT_CEILINGS = {
    mode.strip(): int(ceiling)
    for mode, _, ceiling in (
        item.partition("=")
        for item in env_list(
            "INDICATOR_SPLIT_CEILINGS",
            "Negotiated Procurement - Small Value Procurement=1000000,Shopping=1000000",
        )
    )
    if ceiling.strip().isdigit()
}
INDICATOR_SPLIT_WINDOW_DAYS = env_int("INDICATOR_SPLIT_WINDOW_DAYS", 30, minimum=1)
# PH04 negotiated after two failed biddings (RA 9184 Sec. 53.1): how far back, and how
# similar (pg_trgm similarity, 0-1) a failed notice's title must be (ProZorro's rule).
INDICATOR_FAILED_LOOKBACK_DAYS = env_int("INDICATOR_FAILED_LOOKBACK_DAYS", 365, minimum=1)
INDICATOR_FAILED_TITLE_SIMILARITY = float(env_str("INDICATOR_FAILED_TITLE_SIMILARITY", "0.4"))
# PH05 new supplier, large award: first award less than this many days before an award
# above this percentile of its business category's amounts.
INDICATOR_NEW_SUPPLIER_DAYS = env_int("INDICATOR_NEW_SUPPLIER_DAYS", 365, minimum=1)
INDICATOR_NEW_SUPPLIER_PERCENTILE = float(env_str("INDICATOR_NEW_SUPPLIER_PERCENTILE", "0.9"))
# R048 heterogeneous supplier: suppliers with at least this many processes are compared.
INDICATOR_R048_MIN_PROCESSES = env_int("INDICATOR_R048_MIN_PROCESSES", 20, minimum=1)

# --- Cache (rate limits) -------------------------------------------------------------

# The rate-limit counters (config/ratelimit.py) must be shared by every web process:
# Redis when there is one, else (local mode, one process) memory.
if REDIS_URL:
    CACHES = {
        "default": {
            # A Redis that is down is a cache that misses (config/cache.py), found out fast.
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CHANNEL_LAYER_PREFIX", "philgeps"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Channels ------------------------------------------------------------------------

if REDIS_URL:
    # The pub/sub layer delivers bursts to hundreds of sockets without the core layer's
    # per-process capacity cap silently dropping messages (REFERENCE.md section 6).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNEL_LAYER_PREFIX", "philgeps")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Logging -------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_JSON = env_bool("LOG_JSON", default=PRODUCTION)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    # Records logged inside a Celery task carry its id (the job id) as `job_id`.
    "filters": {"job_id": {"()": "config.celery.JobIdFilter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json" if LOG_JSON else "plain",
            "filters": ["job_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Failed logins and lockouts are warnings; axes' start-up banner and per-attempt
        # chatter are not worth a line each.
        "axes": {"level": "WARNING"},
    },
}

"""Settings come from the environment, refuse nonsense, and pass Django's deployment checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_bool, env_int, env_str

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-0123456789",
    "DJANGO_ALLOWED_HOSTS": "explorer.example.org",
    "OCDS_OCID_PREFIX": "ocds-ab12cd",
}


def run_django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_helpers_refuse_nonsense(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    monkeypatch.setenv("X_NUMBER", "ten")
    monkeypatch.setenv("X_SMALL", "-5")

    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be a boolean"):
        env_bool("X_FLAG")
    with pytest.raises(ImproperlyConfigured, match="X_NUMBER must be an integer"):
        env_int("X_NUMBER", 1)
    with pytest.raises(ImproperlyConfigured, match="X_SMALL must be at least 0"):
        env_int("X_SMALL", 1)
    assert env_bool("X_UNSET_FLAG", default=True) is True


def test_production_refuses_the_default_secret_key():
    env = {**PRODUCTION_ENV}
    del env["DJANGO_SECRET_KEY"]

    result = run_django("", **env)

    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_debug():
    result = run_django("", **PRODUCTION_ENV, DJANGO_DEBUG="1")

    assert result.returncode != 0
    assert "DJANGO_DEBUG must be off" in result.stderr


@pytest.mark.parametrize("hsts_seconds", ["0", "31536000"])
def test_check_deploy_reports_nothing_with_production_settings(hsts_seconds):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **PRODUCTION_ENV, "DJANGO_HSTS_SECONDS": hsts_seconds},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_variable_is_documented_in_env_example_and_readme():
    read = set(
        re.findall(r'env_(?:str|bool|int|list)\("([A-Z0-9_]+)"', (ROOT / "config/settings.py").read_text())
    )
    example = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    readme = (ROOT / "README.md").read_text()

    assert read, "no variables found: the pattern is stale"
    assert read - example == set()
    assert {name for name in read if f"`{name}`" not in readme} == set()


def test_empty_values_mean_unset(monkeypatch):
    monkeypatch.setenv("X_FLAG", "")
    monkeypatch.setenv("X_TEXT", " ")

    assert env_bool("X_FLAG", default=True) is True
    assert env_str("X_TEXT", "fallback") == "fallback"


def settings_as_json(names: list[str], **env: str) -> dict[str, object]:
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}))"
    )
    result = run_django(code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def env_example() -> dict[str, str]:
    """The variables of .env.example as compose reads them (` #` starts a comment)."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.match(r"^([A-Z0-9_]+)=(.*?)(?:\s+#.*)?$", line):
            values[match[1]] = match[2].strip()
    return values


def test_env_example_copied_to_env_gives_secure_production_settings():
    # What the compose app containers get: .env plus compose's own `environment` block.
    env = {
        **env_example(),
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": PRODUCTION_ENV["DJANGO_SECRET_KEY"],
    }
    env = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}

    values = settings_as_json(
        [
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_PROXY_SSL_HEADER",
        ],
        **env,
    )
    deploy_check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    assert deploy_check.returncode == 0, deploy_check.stdout + deploy_check.stderr


def test_hosts_origins_cookies_and_hsts_come_from_the_environment():
    values = settings_as_json(
        [
            "ALLOWED_HOSTS",
            "CSRF_TRUSTED_ORIGINS",
            "SESSION_COOKIE_SECURE",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_HSTS_PRELOAD",
        ],
        **{
            **PRODUCTION_ENV,
            "DJANGO_ALLOWED_HOSTS": "explorer.example.org, www.example.org",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://explorer.example.org",
            "DJANGO_SECURE_COOKIES": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "off",
            "DJANGO_HSTS_SECONDS": "31536000",
            "DJANGO_HSTS_PRELOAD": "1",
        },
    )

    assert values == {
        "ALLOWED_HOSTS": ["explorer.example.org", "www.example.org"],
        "CSRF_TRUSTED_ORIGINS": ["https://explorer.example.org"],
        "SESSION_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
    }


def test_tls_urls_for_rabbitmq_and_redis_are_accepted():
    # Builds the broker connection and the channel layer's Redis pool without connecting
    # (an SSL connection whose certificate policy, unless the URL names one, is "required").
    code = (
        "from config.celery import app; from django.conf import settings; "
        "from channels_redis.utils import create_pool; "
        "broker = app.connection_for_write(); broker.transport; "
        "host = settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]; "
        "pool = create_pool({'address': host}); "
        "print(broker.transport_cls, broker.ssl, pool.connection_class.__name__, "
        "pool.connection_kwargs.get('ssl_cert_reqs') in (None, 'required'))"
    )
    result = run_django(
        code,
        CELERY_BROKER_URL="amqps://user:secret@rabbitmq.example.org:5671/philgeps",
        REDIS_URL="rediss://:secret@redis.example.org:6380/0",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["amqps", "True", "SSLConnection", "True"]


def test_daphne_borrows_database_connections_from_a_pool_and_workers_keep_their_own():
    # config.asgi (daphne) turns the pool on before Django reads its settings.
    code = (
        "import config.asgi; from django.conf import settings; db = settings.DATABASES['default']; "
        "print(db['CONN_MAX_AGE'], db['OPTIONS']['pool']['max_size'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DB_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": "postgres://u@db.example.org/x"}
    daphne = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    worker = run_django(
        "from django.conf import settings; db = settings.DATABASES['default']; "
        "print(db['CONN_MAX_AGE'], 'pool' in db.get('OPTIONS', {}))",
        DATABASE_URL="postgres://u@db.example.org/x",
    )

    assert daphne.returncode == 0, daphne.stderr
    assert daphne.stdout.split() == ["0", "20"]
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.split() == ["60", "False"]

"""Production refuses the placeholder ocid prefix unless told it is meant."""

from __future__ import annotations

from tests.test_settings import PRODUCTION_ENV as REGISTERED
from tests.test_settings import run_django

PRODUCTION_ENV = {k: v for k, v in REGISTERED.items() if k != "OCDS_OCID_PREFIX"}


def test_production_refuses_the_placeholder_prefix():
    result = run_django("", **PRODUCTION_ENV)

    assert result.returncode != 0
    assert "Set OCDS_OCID_PREFIX" in result.stderr


def test_production_takes_a_registered_prefix_or_the_explicit_allowance():
    registered = run_django(
        "from django.conf import settings; print(settings.OCDS_OCID_PREFIX)",
        **PRODUCTION_ENV,
        OCDS_OCID_PREFIX="ocds-ab12cd",
    )
    allowed = run_django("", **PRODUCTION_ENV, OCDS_ALLOW_PLACEHOLDER_PREFIX="1")

    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "ocds-ab12cd"
    assert allowed.returncode == 0, allowed.stderr


def test_development_keeps_the_placeholder_and_a_malformed_prefix_is_refused_everywhere():
    development = run_django("from django.conf import settings; print(settings.OCDS_OCID_PREFIX)")
    malformed = run_django("", OCDS_OCID_PREFIX="ocds-ABC")

    assert development.stdout.strip() == "ocds-xxxxxx"
    assert malformed.returncode != 0
    assert "6 lowercase letters or digits" in malformed.stderr

"""schemathesis against the API's own OpenAPI document (/api/schema/): for every operation,
a bounded number of generated requests, valid and invalid, with every built-in check: no
500, every status, header, content type and body as the schema says, invalid data refused,
and (our own check) every 4xx a JSON error, each 400 with its field errors.

The requests go through Django's WSGI handler in this process, on the test database.
(schemathesis' pytest plugin does not run under pytest 9 yet, so the operations are
walked here with hypothesis directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from explorer import demo
from jobs.models import ApiToken

EXAMPLES_PER_OPERATION = 30

load_all_checks()
ALL_CHECKS = CHECKS.get_all()
# Schema-valid requests may still be 400s: the filters have rules across fields that
# OpenAPI cannot state (an end date before the start date, a minimum above the maximum, a
# cursor of another sort order, a result set that is not the caller's). Such a 400 must
# name its fields (json_error_with_fields); everything else about the check stays.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "404", "429"]}}}
)


def json_error_with_fields(ctx, response, case) -> bool | None:  # type: ignore[no-untyped-def]
    """Every 4xx is a JSON error; every 400 names its fields."""
    if 400 <= response.status_code < 500:
        body = response.json()
        assert isinstance(body.get("error"), str), body
        if response.status_code == 400:
            assert body.get("fields"), body
            assert all(isinstance(v, list) and v for v in body["fields"].values()), body
    return None


OPERATIONS = [
    "GET /api/awards/",
    "GET /api/awards/{award_id}/",
    "GET /api/organizations/{organization_id}/",
    "GET /api/suppliers/{supplier_id}/",
    "GET /api/jobs/",
    "POST /api/jobs/",
    "GET /api/jobs/{job_id}/",
    "GET /api/jobs/{job_id}/report/",
    "POST /api/jobs/{job_id}/cancel/",
    "GET /api/jobs/{job_id}/download/",
]


@pytest.fixture
def wsgi_app():  # type: ignore[no-untyped-def]
    """Django's WSGI handler on the test database: like the test client, it keeps the
    connection open between requests (the handler would close it after each one)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize("as_user", [False, True], ids=["anonymous", "token"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_answers_as_its_schema_says(wsgi_app, mode, as_user, alice, settings):  # type: ignore[no-untyped-def]
    """Anonymous callers read awards and get 401s from the job endpoints; with a token
    the job endpoints run for real (jobs are submitted, listed, cancelled)."""
    settings.API_TOKEN_PER_MINUTE = 10_000  # the throttle has its own test (tests/test_api.py)
    demo.seed(awards=60, seed=7)
    headers = {"Authorization": f"Token {ApiToken.issue(alice)}"} if as_user else {}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, config=CONFIG)
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(operation.label)

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck)
        )
        def run(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(
                headers=headers, checks=ALL_CHECKS, additional_checks=[json_error_with_fields]
            )

        run()
    assert sorted(tested) == sorted(OPERATIONS)

"""Hostile input (issue 8, item 8): whatever arrives in a query string, a form or an API
body, the answer is a page or a field-by-field refusal, never a server error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer import demo
from explorer.search import FILTER_NAMES

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HTMX = {"HX-Request": "true"}

# Strings that have broken parsers before: NUL (PostgreSQL refuses it), huge numbers,
# impossible dates, formula starts, regex traps, path tricks, control characters.
AWKWARD = st.sampled_from([
    "", " ", "\x00", "a\x00b", "0", "-1", "1e309", "NaN", "Infinity", "9" * 40, "2024-02-30", "0000-00-00",
    "9999-12-31", "=cmd|' /C calc'!A0", "../../etc/passwd", "%00", "\r\nSet-Cookie: x=y", "(a+)+$", "[",
    "'; DROP TABLE jobs_job; --", "\u202e", "\ud7ff", "x" * 5000, "-amount", "relevance",
])  # fmt: skip
TEXT = st.text(max_size=30) | AWKWARD
PARAM = st.sampled_from([*FILTER_NAMES, "after", "set", "page", "kind", "format"]) | st.text(max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
KIND = st.sampled_from(["export", "report", "scan", "import", "cleanup"]) | JSON
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "format": st.sampled_from(["csv", "xlsx"]) | JSON,
        "filters": st.dictionaries(st.sampled_from(FILTER_NAMES) | TEXT, TEXT | JSON, max_size=4) | JSON,
        "pattern": TEXT | JSON,
        "mode": st.sampled_from(["substring", "regex"]) | JSON,
        "fields": st.lists(st.sampled_from(["title", "supplier", "organization"]) | TEXT, max_size=3) | JSON,
        "case_sensitive": JSON,
    },
)
# Every name an error may be filed under: the body, the kind, or a parameter.
FIELD_NAMES = {"body", "kind", "params", "format", "filters", "pattern", "mode", "fields", "case_sensitive"}


@pytest.fixture
def awards() -> None:
    """A few awards so that search, facets and keyset cursors have rows to work on."""
    demo.seed(awards=60, seed=31)


def assert_names_its_fields(response) -> None:  # type: ignore[no-untyped-def]
    fields = response.json()["fields"]
    assert fields
    assert set(fields) <= FIELD_NAMES, fields
    for name, messages in fields.items():
        assert messages, name
        assert all(isinstance(m, str) and m for m in messages), (name, messages)
    for message in fields.get("filters", []):
        # A filter's error names the filter ("amount_min: Enter a number.").
        named = message.split(":")[0] in (*FILTER_NAMES, "set")
        assert named or message.startswith(("Filters must", "Unknown filter")), message


@FUZZ
@given(query=st.dictionaries(PARAM, TEXT, max_size=5), htmx=st.booleans())
def test_any_search_query_string_answers_a_page_or_400(alice_client, awards, query, htmx):
    for url in ("/", "/search/totals/", "/jobs/actions/"):
        response = alice_client.get(url, query, headers=HTMX if htmx else {})
        assert response.status_code in (200, 302, 400), (url, query, response.status_code)


@FUZZ
@given(body=st.fixed_dictionaries({"kind": KIND, "params": PARAMS}) | JSON)
def test_any_api_body_answers_a_job_or_a_refusal_naming_the_field(alice_client, body):
    response = alice_client.post("/api/jobs/", json.dumps(body), content_type="application/json")

    assert response.status_code in (200, 201, 400, 429), (body, response.content[:500])
    if response.status_code == 400:
        assert_names_its_fields(response)


@pytest.mark.parametrize("state", ["\x00", "a\x00b", "nonsense"])
def test_an_unknown_state_filter_is_a_400_naming_it(alice_client, state):
    response = alice_client.get("/api/jobs/", {"state": state})

    assert response.status_code == 400
    assert response.json()["fields"]["state"][0].startswith("Choose one of: active, queued")


@FUZZ
@given(state=TEXT)
def test_any_state_filter_on_the_job_list_answers_a_list_or_a_400(alice_client, state):
    response = alice_client.get("/api/jobs/", {"state": state})

    assert response.status_code in (200, 400), (state, response.status_code)
    if response.status_code == 400:
        assert set(response.json()["fields"]) == {"state"}


@FUZZ
@given(raw=st.binary(max_size=200))
def test_any_bytes_as_an_api_body_are_refused_not_a_500(alice_client, raw):
    response = alice_client.post("/api/jobs/", raw, content_type="application/json")

    assert response.status_code in (200, 201, 400, 429)


@FUZZ
@given(
    form=st.fixed_dictionaries(
        {"kind": st.sampled_from(["export", "report", "scan", "import"]) | TEXT},
        optional={name: TEXT for name in (*FILTER_NAMES, "format", "pattern", "mode", "fields", "set")},
    ),
    htmx=st.booleans(),
)
def test_any_job_form_post_answers_a_job_or_a_readable_refusal(alice_client, form, htmx):
    response = alice_client.post("/jobs/submit/", form, headers=HTMX if htmx else {})

    assert response.status_code in (200, 201, 302, 400, 429), (form, response.status_code)
    if htmx and response.status_code == 400:
        assert "The job could not start:" in response.content.decode()


@FUZZ
@given(job_id=st.uuids(), suffix=st.sampled_from(["", "status/", "report/", "download/"]), query=TEXT)
def test_unknown_job_ids_are_404_not_500(alice_client, job_id, suffix, query):
    assert alice_client.get(f"/jobs/{job_id}/{suffix}", {"x": query}).status_code == 404
    assert alice_client.get(f"/api/jobs/{job_id}/").status_code == 404


# --- JSON size and depth (issue 16) ----------------------------------------------------


def nested(depth: int) -> str:
    """`{"kind": "export", "params": {"a": {"a": ... }}}`, `depth` objects deep in all."""
    return '{"kind": "export", "params": ' + '{"a": ' * (depth - 2) + "1" + "}" * (depth - 2) + "}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (nested(2000), "The JSON nests deeper than 8 levels."),  # 12 KB, 2,000 deep: once a 500
        ("[" * 50_000 + "]" * 50_000, "Send at most 64 KB of JSON."),
        ('{"kind": "export", "params": {}, "pad": "' + "x" * 70_000 + '"}', "Send at most 64 KB of JSON."),
        ('{"kind": NaN}', "NaN is not a number JSON allows."),
        ('{"kind": "export", "params": {"format": -Infinity}}', "-Infinity is not a number JSON allows."),
        ('{"kind": ' + "9" * 5000 + "}", "Send a JSON object."),  # past Python's int digit limit
        ('"export"', "Send a JSON object."),
    ],
)
def test_oversized_deep_or_non_json_bodies_are_400s_naming_the_body(alice_client, body, message):
    response = alice_client.post("/api/jobs/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"body": [message]}


def test_a_request_nested_within_the_limit_still_reaches_validation(alice_client):
    response = alice_client.post("/api/jobs/", nested(8), content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) <= FIELD_NAMES - {"body"}


def parsed_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(parsed_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(parsed_depth, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(
    value=JSON
    | st.recursive(
        st.text(alphabet='[]{}"\\ab'),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(alphabet='[]{}"\\'), inner),
    )
)
def test_the_depth_counted_before_parsing_is_the_parsed_depth(value):
    from jobs.api import json_depth

    raw = json.dumps(value, ensure_ascii=False).encode()

    assert json_depth(raw) == parsed_depth(json.loads(raw))

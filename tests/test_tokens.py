"""The API tokens page (jobs/token_views.py): create with a name, the key shown once and
only its hash stored, the list with last use, revoke (a revoked key is a 401 at once),
and nobody touches another user's tokens."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import ApiToken

pytestmark = pytest.mark.django_db

URL = "/account/tokens/"


def created_key(response) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'data-testid="new-key">([^<]+)<', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


def test_a_token_is_created_with_its_name_and_its_key_is_shown_once(alice_client, alice):
    response = alice_client.post(URL, {"name": "  nightly   export "})

    assert response.status_code == 201
    key = created_key(response)
    token = ApiToken.objects.get(user=alice)
    assert token.name == "nightly export"
    assert token.key_hash == ApiToken.hash(key)
    assert key not in token.key_hash
    assert "no-store" in response["Cache-Control"]
    listed = alice_client.get(URL).content.decode()
    assert "nightly export" in listed
    assert key not in listed  # never shown again
    assert "never" in listed  # not used yet


def test_the_list_shows_when_a_token_was_last_used(alice_client, alice):
    key = created_key(alice_client.post(URL, {"name": "script"}))

    assert alice_client.get("/api/jobs/", headers={"Authorization": f"Token {key}"}).status_code == 200

    token = ApiToken.objects.get(user=alice)
    assert token.last_used_at is not None
    # The page shows it in the site's time zone (Manila: the next day from 16:00 UTC).
    shown = timezone.localtime(token.last_used_at).strftime("%Y-%m-%d")
    assert shown in alice_client.get(URL).content.decode()


def test_a_revoked_token_answers_401_at_once(alice_client, alice):
    client = Client()
    key = created_key(alice_client.post(URL, {"name": "script"}))
    headers = {"Authorization": f"Token {key}"}
    assert client.get("/api/jobs/", headers=headers).status_code == 200
    token = ApiToken.objects.get(user=alice)

    revoked = alice_client.post(reverse("jobs:token-revoke", args=[token.pk]))

    assert revoked.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert client.get("/api/jobs/", headers=headers).status_code == 401
    assert client.get("/api/awards/", headers=headers).status_code == 401


def test_nobody_sees_or_revokes_another_users_token(client, alice, bob):
    ApiToken.issue(alice, "alice's script")
    token = ApiToken.objects.get(user=alice)
    client.force_login(bob)

    page = client.get(URL).content.decode()
    refused = client.post(reverse("jobs:token-revoke", args=[token.pk]))

    assert "alice&#x27;s script" not in page
    assert "alice's script" not in page
    assert refused.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_a_token_needs_a_name_and_the_page_a_login(alice_client):
    empty = alice_client.post(URL, {"name": "   "})
    anonymous = Client().get(URL)

    assert empty.status_code == 400
    assert (
        "Give the token a name." in empty.content.decode()
        or "This field is required." in empty.content.decode()
    )
    assert ApiToken.objects.count() == 0
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))

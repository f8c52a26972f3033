"""Login throttling (django-axes, config/login.py): a lockout with a clear message, and
no password hash computed for a locked-out attempt."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.utils import timezone

from config import login

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """The suite's fast hasher, counting every password it hashes or checks."""

    calls = 0

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def counting_hasher(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["tests.test_login.CountingHasher"]
    CountingHasher.calls = 0


def attempt(client, username: str, password: str, *, ip: str = "203.0.113.5"):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_wrong_passwords_lock_the_username_out_from_that_address_with_a_clear_message(client, alice):
    answers = [attempt(client, "alice", f"guess {i}") for i in range(5)]

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    page = answers[-1].content.decode()
    assert "Too many failed logins: this username is locked from your address for 15 minutes" in page
    assert 'name="password"' in page  # still the login page, with its form

    right = attempt(client, "alice", "alice-password")
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_locked_out_attempt_computes_no_password_hash(client, alice):
    for i in range(5):
        attempt(client, "alice", f"guess {i}")
    hashed = CountingHasher.calls

    for _ in range(20):
        assert attempt(client, "alice", "alice-password").status_code == 429

    assert CountingHasher.calls == hashed


def test_the_lockout_is_per_username_and_address(client, alice, bob):
    for i in range(5):
        attempt(client, "alice", f"guess {i}")

    assert attempt(client, "bob", "bob-password").status_code == 302  # same address, another user
    client.logout()
    assert attempt(client, "alice", "alice-password", ip="198.51.100.7").status_code == 302


def test_x_forwarded_for_does_not_pick_a_new_address_for_each_guess(client, alice):
    answers = [
        client.post(
            "/login/",
            {"username": "alice", "password": f"guess {i}"},
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
        for i in range(5)
    ]

    assert answers[-1].status_code == 429


def test_the_lockout_ends_after_its_time(client, alice):
    for i in range(5):
        attempt(client, "alice", f"guess {i}")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert attempt(client, "alice", "alice-password").status_code == 302


def test_the_admin_login_is_the_throttled_login_page(client):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/"


def test_logins_beyond_the_hashing_slots_are_told_to_try_again(client, alice, monkeypatch):
    monkeypatch.setattr(login, "_hashing", threading.BoundedSemaphore(1))
    monkeypatch.setattr(login, "WAIT_SECONDS", 0.1)
    hashed = CountingHasher.calls
    login._hashing.acquire()  # another login is hashing right now
    try:
        busy = attempt(client, "alice", "alice-password")
    finally:
        login._hashing.release()

    assert busy.status_code == 503
    assert "Too many people are logging in at this moment" in busy.content.decode()
    assert CountingHasher.calls == hashed
    assert attempt(client, "alice", "alice-password").status_code == 302

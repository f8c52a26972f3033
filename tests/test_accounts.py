"""Accounts (config/accounts.py): password reset by email, usable once; self sign-up
behind SIGNUP_ENABLED with email confirmation, usable once; mail requests limited."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+(/\S+)")


@pytest.fixture
def carol(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(
        "carol", email="carol@example.org", password="old-password-1"
    )


def reset_link(client: Client, email: str) -> str:
    response = client.post("/password-reset/", {"email": email})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    (message,) = mail.outbox
    assert message.to == [email]
    return LINK.search(message.body).group(1)


def test_a_reset_email_is_sent_and_its_link_sets_a_new_password_once(client, carol):
    link = reset_link(client, "carol@example.org")

    form = client.get(link)  # Django moves the token into the session: .../set-password/
    assert form.status_code == 302
    set_url = form["Location"]
    done = client.post(set_url, {"new_password1": "a-new-Secret-42", "new_password2": "a-new-Secret-42"})
    again = Client().get(link, follow=True)

    assert done.status_code == 302
    assert done["Location"] == "/password-reset/complete/"
    carol.refresh_from_db()
    assert carol.check_password("a-new-Secret-42")
    assert not again.context["validlink"]
    assert "used already or has expired" in again.content.decode()
    replay = Client()
    replay.get(link)
    assert (
        replay.post(set_url, {"new_password1": "x-Other-99", "new_password2": "x-Other-99"}).status_code
        == 200
    )
    carol.refresh_from_db()
    assert carol.check_password("a-new-Secret-42")  # the second use changed nothing


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, carol):
    response = client.post("/password-reset/", {"email": "nobody@example.org"})

    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_reset_requests_are_limited_per_address(client, carol, settings):
    settings.MAIL_REQUESTS_PER_HOUR = 2
    answers = [client.post("/password-reset/", {"email": "carol@example.org"}) for _ in range(3)]

    assert [a.status_code for a in answers] == [302, 302, 429]
    assert int(answers[2]["Retry-After"]) > 0
    assert "Too many requests" in answers[2].content.decode()
    assert len(mail.outbox) == 2


def test_sign_up_is_off_by_default(client):
    assert client.get("/signup/").status_code == 404
    assert client.post("/signup/", {"username": "x"}).status_code == 404
    assert "Create an account" not in client.get("/login/").content.decode()


def test_sign_up_sends_a_confirmation_link_that_activates_the_account_once(client, settings):
    settings.SIGNUP_ENABLED = True
    assert "Create an account" in client.get("/login/").content.decode()

    response = client.post(
        "/signup/",
        {
            "username": "dan",
            "email": "dan@example.org",
            "password1": "Pl3nty-of-words",
            "password2": "Pl3nty-of-words",
        },
    )

    assert response.status_code == 201
    user = User.objects.get(username="dan")
    assert not user.is_active
    assert client.post("/login/", {"username": "dan", "password": "Pl3nty-of-words"}).status_code == 200
    (message,) = mail.outbox
    link = LINK.search(message.body).group(1)
    confirmed = client.get(link)
    second = client.get(link)
    user.refresh_from_db()
    assert confirmed.status_code == 200
    assert user.is_active
    assert second.status_code == 400
    assert "used already" in second.content.decode()
    assert client.post("/login/", {"username": "dan", "password": "Pl3nty-of-words"}).status_code == 302


def test_sign_up_refuses_a_taken_address_and_a_forged_link(client, carol, settings):
    settings.SIGNUP_ENABLED = True

    taken = client.post(
        "/signup/",
        {
            "username": "eve",
            "email": "CAROL@example.org",
            "password1": "Pl3nty-of-words",
            "password2": "Pl3nty-of-words",
        },
    )
    forged = client.get("/signup/Mg/abc-123/")
    garbage = client.get("/signup/!!!/abc/")

    assert taken.status_code == 400
    assert "exists" in taken.content.decode()
    assert not User.objects.filter(username="eve").exists()
    assert forged.status_code == 400
    assert garbage.status_code == 400
    assert mail.outbox == []
